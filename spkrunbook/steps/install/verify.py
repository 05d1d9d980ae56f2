"""Verify the TMM after the install: Ready, Guaranteed, the sidecar, the env var, the NADs, the VLANs.

On a live target ``wait_ready`` polls the pods matching ``lab.tmm.pod_selector``
in ``lab.tmm.namespace`` until ``tmm.replicas`` of them are Ready (or the timeout
passes), reporting progress through a callback. ``check`` then tabulates, per pod:

- QoS class ``Guaranteed`` (requests equal limits, whole CPUs);
- containers ``f5-tmm`` and ``debug`` present;
- ``f5-tmm`` has ``TMM_MAPRES_ADDL_VETHS_ON_DP=TRUE``;
- the ``k8s.v1.cni.cncf.io/network-status`` annotation lists both NADs, each with
  an interface (and a MAC);

and that the F5SPKVlan CRs exist. On a snapshot the same checks run on what it holds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ...cluster.base import Obj, Target
from ...cluster.facts import ClusterFacts, network_status, pod_ready, pod_state
from ...errors import ClusterError, ResourceMissing
from ...params import Lab
from ...progress import Progress
from ...results import Findings
from .values import ENV_NAME, ENV_VALUE

TMM_CONTAINER = "f5-tmm"
DEBUG_CONTAINER = "debug"


@dataclass
class WaitResult:
    pods: list[Obj]
    ready: bool
    waited: float
    message: str


def wait_ready(
    target: Target,
    lab: Lab,
    *,
    timeout: float | None = None,
    interval: float = 2.0,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitResult:
    """Poll until ``tmm.replicas`` TMM pods are Ready or ``timeout`` (default ``install.wait_timeout``) passes."""
    timeout = lab.install.wait_timeout if timeout is None else timeout
    facts = ClusterFacts(lab, target)
    ns, sel, want = lab.tmm.namespace, lab.tmm.pod_selector, lab.tmm.replicas
    start = clock()
    pods: list[Obj] = []
    message = ""
    while True:
        elapsed = clock() - start
        try:
            pods = facts.refresh_pods()
            ready = [p for p in pods if pod_ready(p)]
            message = (
                f"{len(ready)}/{want} TMM pod(s) Ready in {ns} ({sel})"
                + (": " + ", ".join(pod_state(p) for p in pods) if pods else ": no pod yet")
            )
        except ClusterError as exc:
            ready = []
            message = f"cannot list pods yet: {exc.message}"
        if progress is not None:
            progress.update(min(elapsed, timeout), message, total=timeout)
        if len(ready) >= want:
            return WaitResult(pods, True, elapsed, message)
        if elapsed >= timeout:
            return WaitResult(pods, False, elapsed, f"timed out after {timeout:.0f}s: {message}")
        sleep(min(interval, max(0.0, timeout - elapsed)) or interval)


def _container(pod: Obj, name: str) -> Obj | None:
    return next((c for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name") == name), None)


def check_pod(pod: Obj, lab: Lab, *, cni_networks: str | None = None) -> Findings:
    name = (pod.get("metadata") or {}).get("name", "?")
    f = Findings(f"TMM pod {name}")
    if pod_ready(pod):
        f.add("pod Ready", "pass", pod_state(pod), subject=name)
    else:
        f.add("pod Ready", "fail", pod_state(pod), f"oc describe pod {name} -n {lab.tmm.namespace}; oc get events -n {lab.tmm.namespace}", name)
    qos = (pod.get("status") or {}).get("qosClass")
    if qos == "Guaranteed":
        f.add("QoS Guaranteed", "pass", "qosClass: Guaranteed", subject=name)
    else:
        f.add("QoS Guaranteed", "fail", f"qosClass: {qos or '(not reported)'}",
              "make every container's requests equal its limits with whole CPUs (tmm.resources and debug resources)", name)
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    for cname in (TMM_CONTAINER, DEBUG_CONTAINER):
        if cname in names:
            f.add(f"container {cname}", "pass", f"containers: {', '.join(map(str, names))}", subject=name)
        else:
            f.add(f"container {cname}", "fail", f"containers: {', '.join(map(str, names)) or '(none)'}",
                  "check tmm.name / debug.image in the values; the chart adds both containers", name)
    tmm = _container(pod, TMM_CONTAINER)
    env = {e.get("name"): e.get("value") for e in (tmm or {}).get("env") or []}
    if tmm is None:
        f.add("env " + ENV_NAME, "fail", "no f5-tmm container", "see the container row", name)
    elif env.get(ENV_NAME) == ENV_VALUE:
        f.add("env " + ENV_NAME, "pass", f"{ENV_NAME}={ENV_VALUE}", subject=name)
    else:
        got = "absent" if ENV_NAME not in env else repr(env[ENV_NAME])
        f.add("env " + ENV_NAME, "fail", f"{ENV_NAME} is {got} in f5-tmm",
              f'add {ENV_NAME}: "TRUE" to tmm.customEnvVars and upgrade the release', name)
    status = network_status(pod)
    want = [n.strip() for n in (cni_networks or lab.cni_networks).split(",") if n.strip()]
    if status is None:
        f.add("network-status", "fail", "no k8s.v1.cni.cncf.io/network-status (or legacy networks-status) annotation: Multus did not attach networks",
              "check tmm.cniNetworks and that the NADs exist in the TMM namespace", name)
        return f
    for pos, ref in enumerate(want):
        short = ref.split("/", 1)[-1]
        ns = ref.split("/", 1)[0] if "/" in ref else (pod.get("metadata") or {}).get("namespace", "")
        entry = next((d for d in status if d.get("name") in (ref, short, f"{ns}/{short}")), None)
        subject = f"{name} {ref}"
        if entry is None:
            listed = ", ".join(str(d.get("name")) for d in status)
            f.add(f"NAD {pos + 1} attached", "fail", f"{ref} not in network-status ({listed})",
                  f"check the NAD {ref} exists and tmm.cniNetworks names it; oc describe pod {name}", subject)
            continue
        iface, mac = entry.get("interface"), entry.get("mac")
        if not iface:
            f.add(f"NAD {pos + 1} attached", "fail", f"{ref} has no interface", "check the macvlan master on the node", subject)
        elif not mac:
            f.add(f"NAD {pos + 1} attached", "warn", f"{ref} -> {iface} (no MAC reported)", "", subject)
        else:
            f.add(f"NAD {pos + 1} attached", "pass", f"{ref} -> {iface} mac {mac} (TMM 1.{pos + 1})", subject=subject)
    return f


def check(target: Target, lab: Lab, *, pods: list[Obj] | None = None, wait: WaitResult | None = None,
          vlan_names: list[str] | None = None, cni_networks: str | None = None) -> Findings:
    """The TMM verification table (pods as given, or as the target holds them)."""
    f = Findings("TMM verification")
    ns, sel = lab.tmm.namespace, lab.tmm.pod_selector
    if pods is None:
        try:
            pods = ClusterFacts(lab, target).tmm_pods()
        except ClusterError as exc:
            f.add("TMM pods", "fail", f"cannot list pods: {exc.message}", exc.hint or "", f"{ns} {sel}")
            pods = []
    want = lab.tmm.replicas
    if wait is not None and not wait.ready:
        f.add("TMM Ready in time", "fail", wait.message, f"oc get pods -n {ns} -l {sel}; oc get events -n {ns}; raise install.wait_timeout if it is still starting", f"{ns} {sel}")
    elif wait is not None:
        f.add("TMM Ready in time", "pass", f"after {wait.waited:.0f}s", subject=f"{ns} {sel}")
    if not pods:
        f.add("TMM pods", "fail", f"no pod matches {sel} in {ns}", "is SPK installed? run the helm command, then verify again", f"{ns} {sel}")
    elif len(pods) < want:
        f.add("TMM pods", "fail", f"{len(pods)} of {want} replica(s)", f"oc get deploy -n {ns}; oc describe rs -n {ns}", f"{ns} {sel}")
    else:
        f.add("TMM pods", "pass", f"{len(pods)} pod(s) for {want} replica(s)", subject=f"{ns} {sel}")
    for p in pods:
        f.extend(check_pod(p, lab, cni_networks=cni_networks).rows)
    for vname in vlan_names if vlan_names is not None else [lab.vlans.internal.name, lab.vlans.external.name]:
        try:
            target.get("f5-spk-vlans", vname, ns)
            f.add("F5SPKVlan exists", "pass", f"f5-spk-vlans/{vname}", subject=f"{ns}/{vname}")
        except ResourceMissing as exc:
            f.add("F5SPKVlan exists", "fail", exc.message, "apply the F5SPKVlan CRs (the VLAN cell above)", f"{ns}/{vname}")
        except ClusterError as exc:
            f.add("F5SPKVlan exists", "fail", exc.message, exc.hint or "", f"{ns}/{vname}")
    return f


@dataclass
class TmmResult:
    """The TMM verification: the findings and how long the wait took."""

    checks: Findings
    wait: WaitResult | None = None

    @property
    def findings(self) -> Findings:
        return self.checks

    def to_frame(self) -> pd.DataFrame:
        return self.checks.to_frame()

    def to_dict(self) -> dict[str, Any]:
        return {**self.checks.to_dict(), "waited_s": round(self.wait.waited, 1) if self.wait else None}

    def files(self) -> dict[str, str | bytes]:
        return {"tmm-verification.json": json.dumps(self.to_dict(), indent=2, default=str) + "\n"}

    def _repr_html_(self) -> str:
        return self.checks._repr_html_()


def tmm(lab: Lab, target: Target, *, wait: bool = True, progress: Progress | None = None,
        timeout: float | None = None, interval: float = 2.0) -> TmmResult:
    """Wait (live, when ``wait``) for the TMM pods to be Ready, then check them; a snapshot is checked as captured."""
    waited = None
    pods = None
    if target.kind == "live" and wait:
        waited = wait_ready(target, lab, timeout=timeout, interval=interval, progress=progress)
        pods = waited.pods
    return TmmResult(check(target, lab, pods=pods, wait=waited), waited)
