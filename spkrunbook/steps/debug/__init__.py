"""The debugging step: TMM debug sidecar, attachments, OVN routes and packet captures.

``run(lab, target)`` is the procedure notebook 04 narrates::

    result = debug.run(step.lab, step.target)
    result.attachments       # network-status, tmctl, ip -br per TMM pod
    result.routes            # lr-route-list / lr-policy-list + the check against TMM's self IPs
    result.captures          # live (pod/node) or files, with statistics and plots
    step.finish(result)      # result.findings is the verdict

Modules: ``sidecar`` (``run_in_sidecar``, attachments), ``captures`` (live pod /
node captures streamed into the capture engine, offline analysis), ``verdict``
(why the step passed or failed), ``parsers`` (network-status and tmctl text ->
DataFrame). OVN routes are ``spkrunbook.cluster.ovn``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import pandas as pd

from ... import display
from ...cluster.base import Target
from ...cluster.facts import ClusterFacts
from ...cluster.ovn import OvnRoutes, ovn_routes
from ...params import Lab
from ...progress import Progress
from ...results import Findings, StepResult
from . import captures, selfips, sidecar, verdict
from .captures import CaptureResult
from .sidecar import Attachments

__all__ = ["DebugResult", "captures", "run", "selfips", "sidecar", "verdict"]


@dataclass(repr=False)
class DebugResult(StepResult):
    """The debugging step: what TMM has attached, the OVN routes, the captures, and the verdict."""

    title: ClassVar[str] = "debugging"
    attachments: Attachments
    routes: OvnRoutes
    captures: list[CaptureResult]
    verdict_rows: Findings
    selfips: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=selfips.COLUMNS))

    @property
    def parts(self) -> list[Any]:
        return [self.attachments, self.routes, *self.captures, self.verdict_rows]

    @property
    def findings(self) -> Findings:
        return self.verdict_rows

    @property
    def tables(self) -> list[Findings]:
        return [self.verdict_rows]  # the verdict already holds the route checks and every capture's rows

    def overview(self) -> display.Table:
        return display.Table(captures.overview(self.captures), title="captures", status_column=None, empty="no capture")

    def selfip_map(self) -> display.Table:
        """Which pod really holds each self IP (F5 does not guarantee the list order)."""
        return display.Table(self.selfips, title="self IPs as the TMM pods hold them", status_column=None,
                             empty="no self IP in the F5SPKVlans or the params")

    def tcp(self) -> display.Table:
        ratios = {"reset_ratio": "ratio", "retransmission_ratio": "ratio"}
        return display.Table(captures.tcp_table(self.captures), title="TCP health per capture", status_column=None,
                             empty="no TCP traffic in the captures", kinds=ratios)

    def figure_sections(self) -> list[tuple[str, list[tuple[str, str, Callable[[], str]]]]]:
        """Each capture's pictures for a gallery: (title, [(file in the step's folder, caption, its SVG)])."""
        out = []
        for c in self.captures:
            if not c.ok:
                continue
            items: list[tuple[str, str, Callable[[], str]]] = [
                (name, caption, partial(_svg_of, c, name)) for name, caption in c.figure_files().items()]
            out.append((c.label, items))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"attachments": self.attachments.to_dict(), "routes": self.routes.to_dict(),
                "selfips": self.selfips.to_dict(orient="records"),
                "captures": [c.to_dict() for c in self.captures]}

    def _repr_html_(self) -> str:
        return self.verdict_rows._repr_html_()


def _svg_of(capture: CaptureResult, name: str) -> str:
    """One figure of a capture as SVG text, by its file name in the step's folder."""
    return capture.svgs()[name.rsplit("/", 1)[-1].removeprefix(f"{capture.name}.").removesuffix(".svg")]


def run(lab: Lab, target: Target, *, progress: Progress | None = None) -> DebugResult:
    """Debug the macvlan path as F5's macvlan guide does: the TMM debug sidecar, OVN routing, then packet captures."""
    ClusterFacts.of(lab, target, fresh=True)  # this run reads the cluster as it is now, once
    att = sidecar.attachments(lab, target)
    routes = ovn_routes(lab, target)
    live = captures.to_progress(progress, lab.debug.capture.seconds) if progress is not None else None
    caps = captures.captures(lab, target, progress=live)
    captures.draw_in_background(caps)  # the figures are drawn while the tables are read; the record waits for them
    held = selfips.mapping(lab, att, verdict.vlan_crs(lab, target))
    return DebugResult(att, routes, caps, verdict.findings(lab, att, routes, caps, target), held)
