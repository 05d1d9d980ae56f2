"""The capture form: TMM pod, interface, seconds/packets, pod or node; Capture with a live rate plot.

Pods and nodes are what ``cluster.facts`` reports (``common.Choices``);
a node capture runs on the chosen TMM node (default ``capture.node``, else the pod's
node). Capturing changes nothing in the cluster, so there is no confirmation box.

Logic lives in plain methods (``interfaces_for``, ``spec``, ``capture``, ``on_progress``)
that tests call without a browser; the widgets only display. While a capture runs,
``on_progress`` redraws the packets-per-second-per-interface plot into an image
widget (PNG bytes), at most ``redraw_every`` seconds apart.
"""

from __future__ import annotations

import html
import io
import time
from typing import Any

import ipywidgets as w

from ..cluster import facts
from ..errors import SpkRunbookError
from ..steps import debug
from ..steps.debug.captures import CaptureProgress, CaptureResult, plot_rate
from . import common


class CaptureForm:
    def __init__(self, step: Any = None, *, lab: Any = None, target: Any = None, redraw_every: float = 0.5) -> None:
        self.step = step
        self.lab = lab if lab is not None else step.lab
        self.target = target if target is not None else step.target
        self.redraw_every = redraw_every
        self._last_draw = -1e9
        self.redraws = 0
        self.result: CaptureResult | None = None
        self._pods: dict[str, Any] = {}
        choices = common.Choices.discover(self.lab, self.target)
        names = choices.pods or []  # None: the target cannot list pods
        self.nodes = choices.nodes  # None: the target cannot list nodes
        c = self.lab.debug.capture
        self.pod = w.Dropdown(options=names, value=names[0] if names else None, description="TMM pod")
        self.interface = w.Dropdown(options=[], description="interface")
        self.where = w.ToggleButtons(options=["pod", "node"], value=c.where, description="where")
        # where=node: the TMM nodes to choose from (or a typed name); defaults to capture.node, else the pod's node.
        self.node = common.choice_widget(c.node or self._pod_node(self.pod.value) or "", self.nodes, "node")
        self.seconds = w.BoundedFloatText(value=c.seconds, min=1, max=3600, description="seconds")
        self.packets = w.BoundedIntText(value=c.packets or 0, min=0, max=10_000_000, description="packets (0: any)")
        self.button = w.Button(description="Capture", button_style="primary", icon="play")
        self.status = w.HTML()
        self.image = w.Image(format="png")
        self.pod.observe(lambda _c: self._pod_changed(), names="value")
        self.where.observe(lambda _c: self._where_changed(), names="value")
        self.button.on_click(lambda _b: self.capture())
        self._refresh_interfaces()
        self._where_changed()
        self.widget = w.VBox([w.HBox([self.pod, self.interface]), w.HBox([self.where, self.node]),
                              w.HBox([self.seconds, self.packets]), self.button, self.status, self.image])

    def _pod_object(self, name: str | None) -> Any:
        """The TMM pod object (read once, then cached); None when absent or unreadable."""
        if not name:
            return None
        if name not in self._pods:
            try:
                self._pods[name] = self.target.get("pods", name, self.lab.tmm.namespace)
            except SpkRunbookError:
                self._pods[name] = None
        return self._pods[name]

    def _pod_node(self, name: str | None) -> str | None:
        return ((self._pod_object(name) or {}).get("spec") or {}).get("nodeName")

    def _pod_changed(self) -> None:
        self._refresh_interfaces()
        if not self.lab.debug.capture.node:
            self.node.value = self._pod_node(self.pod.value) or self.node.value

    def _where_changed(self) -> None:
        self.node.disabled = self.where.value != "node"

    # -- logic --------------------------------------------------------------------------------
    def interfaces_for(self, pod_name: str | None) -> list[str]:
        """The pod's interfaces (network-status, then ip -br link when the target answers), plus ``any``."""
        pod = self._pod_object(pod_name)
        names: list[str] = []
        if pod is not None:
            names = [str(e["interface"]) for e in facts.network_status(pod) or [] if e.get("interface")]
            t = debug.sidecar.sidecar_table(self.target, pod, "link", timeout=self.lab.debug.exec_timeout)
            if t.frame is not None:
                names += [i for i in t.frame["interface"] if i not in names and i != "lo"]
        return names + ["any"]

    def _refresh_interfaces(self) -> None:
        opts = self.interfaces_for(self.pod.value)
        want = self.lab.debug.capture.interface
        self.interface.options = opts
        self.interface.value = want if want in opts else opts[0]

    def spec(self) -> dict[str, Any]:
        node = ((self.node.value or "").strip() or self._pod_node(self.pod.value)) if self.where.value == "node" else None
        return {"where": self.where.value, "pod": self.pod.value, "node": node, "interface": self.interface.value,
                "seconds": float(self.seconds.value), "packets": int(self.packets.value) or None}

    def on_progress(self, p: CaptureProgress) -> None:
        self.status.value = html.escape(p.line())
        now = time.monotonic()
        if p.done or now - self._last_draw >= self.redraw_every:
            self._last_draw = now
            fig = plot_rate(p.rate_frame(), title=f"{p.name}: packets per second (live)")
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
            self.image.value = buf.getvalue()
            self.redraws += 1

    def capture(self) -> CaptureResult:
        s = self.spec()
        self.button.disabled = True
        try:
            self.result = debug.captures.capture(self.lab, self.target, pod=s["pod"], node=s["node"], interface=s["interface"],
                                        where=s["where"], seconds=s["seconds"], packets=s["packets"],
                                        progress=self.on_progress)
            if self.step is not None and hasattr(self.step, "save"):
                self.step.save(self.result, under="form")
        finally:
            self.button.disabled = False
        r = self.result
        if r.skipped:
            self.status.value = f"<i>skipped: {html.escape(r.skipped)}</i>"
        elif r.error:
            self.status.value = f"<pre style='color:#cf222e;white-space:pre-wrap'>{html.escape(r.error)}</pre>"
        else:
            self.status.value = html.escape(f"{r.packets} packets, {r.size} bytes, sha256 {r.sha256[:16]}..., saved as {r.path}")
        return r


def capture_form(step: Any) -> w.Widget:
    return CaptureForm(step).widget
