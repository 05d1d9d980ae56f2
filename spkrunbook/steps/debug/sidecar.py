"""Commands in the TMM ``debug`` sidecar, and what TMM attached (network-status, tmctl, ip -br).

``run_in_sidecar`` is the one way this package runs a command in a pod: argv lists
only (a string is refused, so no shell line is ever built from user input), a
timeout, stdout/stderr kept apart, and an ``ExecError`` that says what to do when
the command fails. On a snapshot target the saved output is replayed, or
``NotAvailable`` says which file the snapshot would need.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ... import display
from ...cluster import tmm
from ...cluster.base import ExecResult, Obj, Target
from ...cluster.facts import ClusterFacts, network_status
from ...errors import ExecError, NotAvailable, ParseError, SpkRunbookError
from ...params import Lab
from . import parsers

DEVICE_PROBED = ["tmctl", "-d", "blade", "tmm/xnet/device_probed"]
#: F5's own tools in the TMM debug sidecar: a debug container without them (not F5's) cannot answer what they show.
F5_TOOLS = frozenset({"tmctl", "bdt_cli", "configview"})
IP_BR_LINK = ["ip", "-br", "link"]
IP_BR_ADDR = ["ip", "-br", "addr"]
STDERR_TAIL = 800


def check_argv(argv: Sequence[str]) -> list[str]:
    """A command as a list of strings; a shell string is refused."""
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a list of arguments (e.g. ['ip', '-br', 'link']), never a shell string")
    out = [str(a) for a in argv]
    if not out or not out[0]:
        raise ValueError("argv must name a command")
    return out


def command_missing(text: str) -> bool:
    """The container has no such command: how runc, a shell and ``run_in_sidecar`` say so."""
    t = text.lower()
    return "executable file not found" in t or "no such file or directory" in t or "not found" in t \
        or "exited with status 127" in t or "exited with status 126" in t


def _tail(data: bytes, limit: int = STDERR_TAIL) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def run_in_sidecar(
    target: Target,
    pod: str | Obj,
    argv: Sequence[str],
    *,
    namespace: str | None = None,
    container: str = "debug",
    timeout: float = 30.0,
    check: bool = True,
) -> ExecResult:
    """Run ``argv`` in ``container`` (the TMM ``debug`` sidecar by default) of ``pod``.

    ``pod`` is a pod name (then give ``namespace``, default ``default``) or a pod object.
    With ``check`` a non-zero exit or a timeout raises ``ExecError`` with the tail of
    stderr; without it the ``ExecResult`` is returned as it is.
    """
    argv = check_argv(argv)
    if isinstance(pod, dict):
        md = pod.get("metadata") or {}
        name, ns = md.get("name", ""), namespace or md.get("namespace") or "default"
    else:
        name, ns = pod, namespace or "default"
    where = f"{ns}/{name} container {container}"
    shown = " ".join(argv)
    try:
        result = target.exec(ns, name, container, argv, timeout=timeout)
    except ExecError as exc:
        if "is not valid for pod" not in exc.message:
            raise
        sidecar = " (F5's TMM debug sidecar): enable the debug sidecar in the f5ingress Helm values and upgrade the release" \
            if container == "debug" else ""
        raise ExecError(exc.message, hint=f"the pod {ns}/{name} has no container {container}{sidecar}") from exc
    if not check:
        return result
    if result.timed_out:
        err = ExecError(f"`{shown}` in {where} did not finish within {timeout:g}s (debug.exec_timeout); it was stopped",
                        hint="raise debug.exec_timeout in the params, or check that the container is not stuck "
                             f"(`oc exec -n {ns} {name} -c {container} -- ps`)")
        err.timed_out = True  # type: ignore[attr-defined]
        raise err
    if result.cut:
        raise ExecError(f"`{shown}` in {where}: {result.cut}; what it printed is not what the step reads",
                        hint=f"run it by hand to see why it never stops: `oc exec -n {ns} {name} -c {container} -- {shown} "
                             "| head`")
    if result.exit_code != 0:
        tail = _tail(result.stderr) or _tail(result.stdout) or "(no output)"
        hint = f"run it by hand to see more: `oc exec -n {ns} {name} -c {container} -- {shown}`"
        if result.exit_code in (126, 127) or "not found" in tail:
            hint = f"the {container} container lacks `{argv[0]}`; check the sidecar image (debug.image in the Helm values)"
        raise ExecError(f"`{shown}` in {where} exited with status {result.exit_code}: {tail}", hint=hint)
    return result


# -- TMM pods and their attachments --------------------------------------------------------------------------
def tmm_pods(lab: Lab, target: Target) -> list[Obj]:
    """The TMM pods, found by label (``cluster.facts``)."""
    return ClusterFacts.of(lab, target).tmm_pods()


def expected_networks(lab: Lab) -> list[tuple[str, str, str]]:
    """(role, ``ns/name``, TMM interface ``1.N``) in ``tmm.cniNetworks`` order."""
    return [(role, f"{n.namespace}/{n.name}", f"1.{i}") for i, (role, n) in enumerate(lab.networks.ordered(), start=1)]


@dataclass
class Table:
    """One command's parsed output (or why there is none)."""

    argv: list[str]
    frame: pd.DataFrame | None = None
    raw: str = ""
    error: str = ""
    skipped: bool = False  # True when the target cannot answer (snapshot without the output, no F5 tool)
    hint: str = ""  # what to do about ``error``
    timed_out: bool = False  # the command was stopped at debug.exec_timeout

    def to_frame(self) -> pd.DataFrame:
        if self.frame is not None:
            return self.frame
        return pd.DataFrame({"status": ["skip" if self.skipped else "error"], "reason": [self.error]})


@dataclass
class PodAttachments:
    """What one TMM pod has: network-status, TMM's probed devices, the kernel's links and addresses."""

    pod: str
    namespace: str
    node: str
    network_status: pd.DataFrame
    expected: list[tuple[str, str, str]]
    tables: dict[str, Table] = field(default_factory=dict)

    @property
    def interfaces(self) -> list[str]:
        """The pod's interfaces from network-status, then any more the kernel shows."""
        names = [i for i in self.network_status["interface"] if i]
        link = self.tables.get("link")
        if link is not None and link.frame is not None:
            names += [i for i in link.frame["interface"] if i not in names and i != "lo"]
        return names

    def attachment_for(self, network: str) -> dict[str, Any] | None:
        df = self.network_status
        short = network.split("/", 1)[-1]
        hit = df[(df["network"] == network) | (df["network"] == short)]
        return None if hit.empty else hit.iloc[0].to_dict()

    def expected_frame(self) -> pd.DataFrame:
        """One row per NAD from the params: interface in the pod, TMM device state, kernel state."""
        rows = []
        probed = self.tables.get("device_probed")
        link = self.tables.get("link")
        addr = self.tables.get("addr")
        for role, network, tmm_if in self.expected:
            att = self.attachment_for(network)
            ifname = att["interface"] if att else ""
            row = {"role": role, "network": network, "tmm_interface": tmm_if, "pod_interface": ifname or "MISSING",
                   "mac": att["mac"] if att else "", "tmm_driver_in_use": "", "kernel_state": "", "kernel_addresses": ""}
            if ifname and probed is not None and probed.frame is not None and "id" in probed.frame:
                hit = probed.frame[probed.frame["id"] == ifname]
                row["tmm_driver_in_use"] = (f"{hit.iloc[0].get('driver_in_use', '')} ({hit.iloc[0].get('driver_selected', '')})"
                                            if not hit.empty else "not probed")
            if ifname and link is not None and link.frame is not None:
                hit = link.frame[link.frame["interface"] == ifname]
                row["kernel_state"] = hit.iloc[0]["state"] if not hit.empty else "absent"
            if ifname and addr is not None and addr.frame is not None:
                hit = addr.frame[addr.frame["interface"] == ifname]
                row["kernel_addresses"] = " ".join(hit.iloc[0]["addresses"]) if not hit.empty else ""
            rows.append(row)
        return pd.DataFrame(rows)


@dataclass(repr=False)
class Attachments:
    """Every TMM pod's attachments (``pods``), or why there are none (``error``)."""

    pods: list[PodAttachments] = field(default_factory=list)
    error: str = ""

    def to_frame(self) -> pd.DataFrame:
        frames = []
        for p in self.pods:
            df = p.expected_frame()
            df.insert(0, "pod", p.pod)
            frames.append(df)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"error": [self.error or "no TMM pod"]})

    def network_status(self) -> pd.DataFrame:
        frames = [p.network_status.assign(pod=p.pod) for p in self.pods]
        if not frames:
            return pd.DataFrame(columns=["pod", *parsers.NETWORK_STATUS_COLUMNS])
        df = pd.concat(frames, ignore_index=True)
        return df[["pod", *parsers.NETWORK_STATUS_COLUMNS]]

    def table(self, which: str) -> pd.DataFrame:
        """``device_probed``, ``link`` or ``addr`` of every pod, one table (a ``pod`` column first)."""
        frames = []
        for p in self.pods:
            t = p.tables.get(which)
            if t is None:
                continue
            df = t.to_frame().copy()
            df.insert(0, "pod", p.pod)
            frames.append(df)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["pod"])

    def display_tables(self) -> list[display.Table]:
        """What a person reads: each NAD against the pod, Multus's network-status, then what TMM probed
        and what the kernel shows, each with the command it came from (lists as lists, flags as marks)."""
        if not self.pods:
            return [display.Table(self.to_frame(), "TMM attachments", status_column=None)]
        probed = self.table("device_probed")
        if "available_drivers" in probed:  # tmctl prints a list as "sock," (a trailing comma)
            drivers = pd.Series([[d for d in str(v).split(",") if d.strip()] for v in probed["available_drivers"]],
                                index=probed.index, dtype=object)
            probed = probed.assign(available_drivers=drivers)
        return [
            display.Table(self.to_frame(), "Each NAD of the params in the TMM pod", status_column=None,
                          name="attachments"),
            display.Table(self.network_status(), "network-status (k8s.v1.cni.cncf.io/network-status)",
                          status_column=None, name="network-status"),
            display.Table(probed, " ".join(DEVICE_PROBED), status_column=None, name="device_probed"),
            display.Table(self.table("link"), " ".join(IP_BR_LINK) + " (debug container)", status_column=None,
                          name="link"),
            display.Table(self.table("addr"), " ".join(IP_BR_ADDR) + " (debug container)", status_column=None,
                          name="addr"),
        ]

    def _repr_html_(self) -> str:
        return display.tables(self.display_tables())

    def __repr__(self) -> str:
        return f"<Attachments of {len(self.pods)} TMM pod(s){': ' + self.error if self.error else ''}>"

    def files(self) -> dict[str, str | bytes]:
        out: dict[str, str | bytes] = {"attachments.json": json.dumps(self.to_dict(), indent=2, default=str) + "\n"}
        for p in self.pods:
            for which, t in p.tables.items():
                if t.raw:
                    out[f"{p.pod}/{which}.txt"] = t.raw
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.error,
                "pods": [{"pod": p.pod, "namespace": p.namespace, "node": p.node,
                          "expected": p.expected_frame().to_dict(orient="records"),
                          "network_status": p.network_status.to_dict(orient="records"),
                          "tables": {k: {"argv": t.argv, "error": t.error, "skipped": t.skipped,
                                         "rows": t.frame.to_dict(orient="records") if t.frame is not None else []}
                                     for k, t in p.tables.items()}}
                         for p in self.pods]}


_COMMANDS = {"device_probed": (DEVICE_PROBED, parsers.parse_tmctl),
             "link": (IP_BR_LINK, tmm.parse_ip_br_link),
             "addr": (IP_BR_ADDR, tmm.parse_ip_br_addr)}


def sidecar_table(target: Target, pod: Obj, which: str, *, timeout: float = 30.0) -> Table:
    """Run one of ``device_probed`` / ``link`` / ``addr`` in the pod's debug sidecar and parse it."""
    argv, parse = _COMMANDS[which]
    try:
        res = run_in_sidecar(target, pod, argv, timeout=timeout)
    except NotAvailable as exc:
        return Table(list(argv), error=exc.message, skipped=True)
    except ExecError as exc:
        if argv[0] in F5_TOOLS and command_missing(exc.message):
            return Table(list(argv), error=f"`{argv[0]}` is F5's own tool and this debug container has none: "
                                           "unavailable on this target", skipped=True)
        return Table(list(argv), error=exc.message, hint=exc.hint or "",
                     timed_out=bool(getattr(exc, "timed_out", False)))
    except SpkRunbookError as exc:
        return Table(list(argv), error=exc.message, hint=exc.hint or "",
                     timed_out=bool(getattr(exc, "timed_out", False)))
    try:
        return Table(list(argv), frame=parse(res.stdout), raw=res.text)
    except ParseError as exc:
        return Table(list(argv), raw=res.text, error=str(exc))


def attachments(lab: Lab, target: Target) -> Attachments:
    """For each TMM pod: network-status, ``device_probed``, ``ip -br link`` and ``ip -br addr`` as tables."""
    try:
        pods = tmm_pods(lab, target)
    except SpkRunbookError as exc:
        return Attachments(error=str(exc))
    if not pods:
        return Attachments(error=f"no pod matches {lab.tmm.pod_selector!r} in namespace {lab.tmm.namespace}")
    out = Attachments()
    for pod in pods:
        md = pod["metadata"]
        found = network_status(pod)
        annotation = json.dumps(found) if found is not None else None
        try:
            status = parsers.parse_network_status(annotation)
        except ParseError as exc:
            status = parsers.parse_network_status(None)
            status.attrs["error"] = str(exc)
        pa = PodAttachments(pod=md["name"], namespace=md.get("namespace", lab.tmm.namespace),
                            node=(pod.get("spec") or {}).get("nodeName", ""), network_status=status,
                            expected=expected_networks(lab))
        stuck = ""
        for which, (argv, _) in _COMMANDS.items():
            if stuck:  # a container that did not answer one command in time is not asked the next ones
                pa.tables[which] = Table(list(argv), error=f"not run: {stuck}")
                continue
            pa.tables[which] = table = sidecar_table(target, pod, which, timeout=lab.debug.exec_timeout)
            if table.timed_out:
                stuck = f"`{' '.join(argv)}` in the same container did not finish within {lab.debug.exec_timeout:g}s"
        out.pods.append(pa)
    return out
