"""NetworkAttachmentDefinitions: build, validate, render, apply, verify and tear down the macvlan NADs.

SPK without SR-IOV attaches TMM to two node NICs through Multus and the macvlan
CNI: one NAD for the internal network, one for the external. Each step here is a
function of ``(lab, target)`` that returns a result object; the notebook
``02-network-attachments`` only displays them.

- ``build(lab)``: the two NAD objects, exactly as F5's macvlan guide shows them plus our
  namespace and ``app.kubernetes.io/managed-by: spkrunbook`` label.
- ``validate(lab, target)``: every problem at once, as a ``Findings`` table. The
  form in ``spkrunbook.widgets.nad`` uses the same ``network_problems`` while a
  person types.
- ``render(lab)``: multi-document YAML plus the ``oc apply`` a person would run.
- ``apply(lab, target)``: idempotent create / update / leave alone; refuses to
  overwrite an object this tool does not manage unless forced; a plan on a
  read-only (snapshot) target.
- ``verify(lab, target)``: the NADs read back, like ``oc get
  network-attachment-definitions``, and the ``tmm.cniNetworks`` value.
- ``teardown(lab, target)``: delete only what this tool manages.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from .. import display
from ..cluster import reconcile as applier
from ..cluster.base import NAD_CRD, Obj, Target, can_write
from ..cluster.facts import MASTER_BLOCKING, ClusterFacts, NodeInterfaces, master_nics
from ..errors import ClusterError, Forbidden, Problem, ResourceMissing
from ..params import MACVLAN_MODES, MTU_MAX, MTU_MIN, OPENSHIFT_MIN_MACVLAN_CNI, Lab, NetworkParams
from ..results import CheckResult, Findings, StepResult

if TYPE_CHECKING:
    pass

NAD = "network-attachment-definitions"
API_VERSION = "k8s.cni.cncf.io/v1"
KIND = "NetworkAttachmentDefinition"
MANAGED_BY, MANAGER = applier.MANAGED_BY, applier.MANAGER
NETWORK_FIELDS = ("name", "namespace", "master", "mode", "cni_version", "mtu")
_FIELD_LABELS = {
    "name": "NAD name",
    "namespace": "namespace",
    "master": "master interface name",
    "mode": "macvlan mode",
    "cni_version": "cniVersion",
    "mtu": "MTU",
}
_FIELD_ACTIONS = {
    "name": "use lower-case letters, digits and '-' (at most 63), e.g. macvlan-internal",
    "namespace": "use the namespace TMM runs in (tmm.namespace), a DNS-1123 label",
    "master": "use the node NIC name as `ip -br link` prints it (at most 15 characters)",
    "mode": f"one of {', '.join(MACVLAN_MODES)} (bridge is the choice of F5's macvlan guide)",
    "cni_version": f"use {OPENSHIFT_MIN_MACVLAN_CNI} or later, as OpenShift documents for macvlan",
    "mtu": f"leave it unset (kernel default) or give {MTU_MIN}..{MTU_MAX}, at most the master's MTU",
}


# -- build -----------------------------------------------------------------------------


def cni_config(net: NetworkParams) -> dict[str, Any]:
    """The macvlan CNI config for one network, keys in the order of F5's macvlan guide.

    No ``name`` key, as in F5's guide: when the config omits it, Multus injects the
    NAD's object name (multi-net-spec §3.4.2), which is what the spec recommends
    anyway. ``ipam`` stays empty: SPK owns the self IPs (F5SPKVlan), so the
    attachment is L2 only.
    """
    cfg: dict[str, Any] = {
        "cniVersion": net.cni_version,
        "type": "macvlan",
        "master": net.master,
        "mode": net.mode,
        "ipam": {},
    }
    if net.mtu is not None:
        cfg["mtu"] = net.mtu
    return cfg


def manifest(net: NetworkParams) -> Obj:
    """One NAD object; ``spec.config`` is a JSON *string*, as the CRD requires."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": net.name, "namespace": net.namespace, "labels": {MANAGED_BY: MANAGER}},
        "spec": {"config": json.dumps(cni_config(net))},
    }


def build(lab: Lab) -> list[Obj]:
    """The two NADs in interface order (the first becomes TMM interface 1.1)."""
    return [manifest(net) for _, net in lab.networks.ordered()]


def roles(lab: Lab) -> list[tuple[str, NetworkParams]]:
    return lab.networks.ordered()


# -- validate --------------------------------------------------------------------------


def field_problems(lab: Lab) -> list[Problem]:
    """Every params problem of both networks, errors and warnings: what ``params`` says, nothing of our own.

    A validated Lab has no field errors, and judged its cross-field rules once (``Lab.problems``);
    a change through a form judges them again.
    """
    return [p for p in lab.problems() if p.path.startswith("networks.")]


def tmm_interfaces(lab: Lab, target: Target | None) -> NodeInterfaces:
    """The TMM nodes and their interfaces where the target knows them (``cluster.facts``)."""
    if target is None:
        return NodeInterfaces([], {})
    try:
        return ClusterFacts.of(lab, target).node_interfaces()
    except (ResourceMissing, Forbidden):
        return NodeInterfaces([], {})


def _how_to_look(node: str) -> str:
    return f"oc debug node/{node} -- ip -br link"


def _master_rows(lab: Lab, nodes: NodeInterfaces | None) -> list[CheckResult]:
    """Each master on the TMM nodes, one row per master: ``cluster.facts.master_nics`` judges, this words it
    per network (prerequisites show the same findings node by node, promiscuous mode included)."""
    rows: list[CheckResult] = []
    found = master_nics(lab, nodes) if nodes is not None else []
    for role, net in roles(lab):
        check, subject = "master on TMM nodes", role
        if nodes is None:
            rows.append(CheckResult(check, "warn", f"no target given; cannot see whether {net.master} exists on the TMM nodes",
                                    f"look on each TMM node: {_how_to_look('<node>')}", subject))
            continue
        if not nodes.nodes:
            rows.append(CheckResult(check, "warn", f"no node matches tmm.node_selector {lab.tmm.selector_string() or '(none)'}",
                                    "label the TMM nodes or fix tmm.node_selector, then run again", subject))
            continue
        mine = [m for m in found if m.role == role]
        unusable = [m for m in mine if m.kind in MASTER_BLOCKING and m.kind != "bridge-port"]
        ports = [m for m in mine if m.kind == "bridge-port"]
        unknown = [m.node for m in mine if m.kind == "unknown"]
        if unusable:
            actions = list(dict.fromkeys(m.action for m in unusable))
            rows.append(CheckResult(check, "fail", f"{net.master} is not usable on "
                                    + "; ".join(f"{m.node}: {m.detail}" for m in unusable), "; ".join(actions), subject))
        if ports:
            by_detail: dict[str, list[str]] = {}
            for m in ports:
                by_detail.setdefault(m.sentence, []).append(m.node)
            rows.append(CheckResult("master-bridge-port", "fail",
                                    "; ".join(f"{text} (on {', '.join(on)})" for text, on in by_detail.items()),
                                    ports[0].action, subject))
        if unknown:
            rows.append(CheckResult(check, "warn", f"the target does not know the interfaces of {', '.join(unknown)}",
                                    "look by hand: " + "; ".join(_how_to_look(n) for n in unknown), subject))
        present = [n for n in nodes.nodes if nodes.known(n) and not any(m.node == n and m.kind in MASTER_BLOCKING for m in mine)]
        if present and not unusable and not ports:
            rows.append(CheckResult(check, "pass", f"{net.master} present on {', '.join(present)}", "", subject))
    return rows


def _passthru_rows(lab: Lab) -> list[CheckResult]:
    """passthru hands the whole master to one attachment per node: say what that allows."""
    rows = []
    for role, net in roles(lab):
        if net.mode != "passthru":
            continue
        rows.append(CheckResult(
            "passthru", "warn",
            f"networks.{role} uses passthru: {net.master} goes to one attachment per node, so one TMM per node "
            f"and no other macvlan attachment on {net.master} (a second pod on that node stays ContainerCreating)",
            "use bridge mode (the choice of F5's macvlan guide) unless the NIC must belong to TMM alone", role))
    return rows


_UNSET: Any = object()


def validate(lab: Lab, target: Target | None = None, *, nodes: NodeInterfaces | None = _UNSET) -> Findings:
    """Every problem with the NAD params at once, before anything touches the cluster.

    With a target, each master is looked for on every TMM node whose interfaces the
    target knows (NodeNetworkState); unknown nodes give a warning with the command
    that finds out.
    """
    found = Findings("NetworkAttachmentDefinition parameters")
    probs = field_problems(lab)
    for role, net in roles(lab):
        values = net.model_dump()
        for f in NETWORK_FIELDS:
            here = [p for p in probs if p.path == f"networks.{role}.{f}"]
            if f == "mtu" and values["mtu"] is None and not here:
                found.add(_FIELD_LABELS[f], "pass", "unset (kernel default: the master's MTU)", "", role)
                continue
            found.rows.append(_row(_FIELD_LABELS[f], role, here, f"{values[f]}", _FIELD_ACTIONS[f]))
    names = [p for p in probs if p.path == "networks.external.name"]
    masters = [p for p in probs if p.path == "networks.external.master"]
    i, e = lab.networks.internal, lab.networks.external
    found.rows.append(
        _row("distinct NAD names", "both", names, f"{i.namespace}/{i.name} and {e.namespace}/{e.name}", "rename one of them")
    )
    found.rows.append(
        _row("separate masters", "both", masters, f"{i.master} and {e.master}", "give internal and external their own NIC")
    )
    found.extend(_passthru_rows(lab))
    if nodes is _UNSET:
        nodes = tmm_interfaces(lab, target) if target is not None else None
    found.extend(_master_rows(lab, nodes))
    return found


def _row(check: str, subject: str, here: list[Problem], ok: str, action: str) -> CheckResult:
    if any(p.severity == "error" for p in here):
        status = "fail"
    elif here:
        status = "warn"
    else:
        return CheckResult(check, "pass", ok, "", subject)
    return CheckResult(check, status, "; ".join(p.message for p in here), action, subject)  # type: ignore[arg-type]


# -- render ----------------------------------------------------------------------------


# Multi-document YAML like the macvlan_example.yml of F5's guide (``---`` before each object, spec.config on one line).
to_yaml = applier.to_yaml


@dataclass(repr=False)
class Rendered(display.Brief):
    """The manifests as files a person could apply by hand, and the commands to do it."""

    manifests: list[Obj]
    files_by_name: dict[str, str]
    apply_commands: list[str]
    check_commands: list[str]

    @property
    def yaml(self) -> str:
        return to_yaml(self.manifests)

    @property
    def commands(self) -> str:
        return "\n".join(self.apply_commands + self.check_commands)

    def markdown(self) -> str:
        parts = [f"```yaml\n# {name}\n{text}```" for name, text in self.files_by_name.items()]
        parts.append("Apply by hand, then check:\n\n```sh\n" + self.commands + "\n```")
        return "\n\n".join(parts)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    @property
    def findings(self) -> Findings:
        return Findings("NetworkAttachmentDefinition manifests")

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"file": n, "bytes": len(t)} for n, t in self.files_yaml.items()])

    def to_dict(self) -> dict[str, Any]:
        return {"files": list(self.files_yaml), "apply_commands": self.apply_commands, "check_commands": self.check_commands}

    @property
    def files_yaml(self) -> dict[str, str]:
        return self.files_by_name

    def files(self) -> dict[str, str | bytes]:
        """The YAML files and a script of the commands, as a person would apply them by hand."""
        return {**self.files_by_name, "apply.sh": "#!/bin/sh\nset -e\n" + self.commands + "\n"}

    def _repr_html_(self) -> str:
        boxes = "".join(display.code(text, title=name) for name, text in self.files_by_name.items())
        return boxes + display.code(self.commands, title="apply by hand, then check")


def render(lab: Lab, filename: str = "nads.yaml") -> Rendered:
    """YAML files and ``oc apply -n NS -f FILE`` commands (one file per namespace when they differ)."""
    objs = build(lab)
    namespaces = list(dict.fromkeys(o["metadata"]["namespace"] for o in objs))
    stem, dot, ext = filename.rpartition(".")
    files: dict[str, str] = {}
    applies, checks = [], []
    for ns in namespaces:
        # `oc apply -n NS` rejects objects of another namespace, so two namespaces mean two files.
        name = filename if len(namespaces) == 1 else f"{stem}-{ns}{dot}{ext}"
        files[name] = to_yaml(o for o in objs if o["metadata"]["namespace"] == ns)
        applies.append(f"oc apply -n {ns} -f {name}")
        checks.append(f"oc get -n {ns} network-attachment-definitions")
    for o in objs:
        md = o["metadata"]
        checks.append(f"oc get -n {md['namespace']} network-attachment-definitions {md['name']} -o yaml")
    return Rendered(objs, files, applies, checks)


# -- compare ---------------------------------------------------------------------------


def parse_config(obj: Obj) -> Any:
    """``spec.config`` parsed as JSON; the raw string when it is not JSON (compared as text then)."""
    raw = (obj.get("spec") or {}).get("config")
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


is_managed = applier.is_managed  # our app.kubernetes.io/managed-by: spkrunbook label


def same_config(existing: Obj, desired: Obj) -> bool:
    """Equal when the parsed configs are: key order and whitespace in the JSON string do not count."""
    return parse_config(existing) == parse_config(desired)


def _view(obj: Obj) -> str:
    return applier.view(obj, lambda o: {"config": parse_config(o)}, sort=True)


def diff(existing: Obj, desired: Obj) -> str:
    """A unified diff (cluster -> params) of name, labels and the parsed config as YAML, keys sorted."""
    return applier.diff(existing, desired, view=_view, label="params")


def _merge_config(existing: Obj, desired: Obj) -> Obj:
    """The body of an update: the cluster's NAD with the params' ``spec.config``."""
    body = copy.deepcopy(existing)
    body["spec"] = {**(body.get("spec") or {}), "config": desired["spec"]["config"]}
    return body


# -- apply -----------------------------------------------------------------------------

# The shared rules of ``spkrunbook.cluster.reconcile``, with the NAD's comparison, diff, words and columns.
RULES = applier.Rules(
    same=same_config,
    merge=_merge_config,
    diff=diff,
    force_flag="nad.force",
    force_hint="set nad.force: true to overwrite it, or rename the NAD in the params",
    failed_hint="read the reason, fix it, and run the step again (it is safe to repeat)",
    title="NetworkAttachmentDefinitions",
    noun="NAD",
    columns=(*applier.COLUMNS, "diff"),
)
ApplyResult = applier.ApplyResult
NadChange = applier.Change


def _change(role: str, name: str, namespace: str, action: applier.Action, reason: str, **kw: Any) -> NadChange:
    return NadChange(KIND, name, namespace, action, reason, role=role, **kw)


def crd_installed(target: Target) -> bool | None:
    """Whether the NAD CRD (Multus) is installed; None when the target cannot say."""
    return applier.crd_installed(target, NAD_CRD, NAD)


def require_crd(target: Target) -> None:
    """Raise a clear ``ResourceMissing`` when the cluster has no NetworkAttachmentDefinition CRD."""
    applier.require_crd(
        target,
        NAD_CRD,
        NAD,
        why="Multus is not installed or not running",
        hint="OpenShift installs Multus with the cluster network operator; check `oc get crd "
        f"{NAD_CRD}` and `oc get pods -n openshift-multus`",
    )


def _get(target: Target, name: str, namespace: str) -> Obj | None:
    return applier.read(target, NAD, name, namespace)


def apply(lab: Lab, target: Target, *, force: bool | None = None, checks: Findings | None = None) -> ApplyResult:
    """Create, update or leave alone each NAD; on a read-only target, the same decisions as a plan.

    Idempotent: a second run reports ``unchanged``. Objects without our label are
    never overwritten unless ``force`` (default ``lab.nad.force``). Each NAD is
    decided on its own, so one can be created while the other is refused; that is
    reported, not rolled back. When ``checks`` (from ``validate``) failed, nothing
    is written and every NAD is ``skipped``. The rules are ``spkrunbook.cluster.reconcile``'s.
    """
    force = lab.nad.force if force is None else force
    objs = [(role, o) for (role, _), o in zip(roles(lab), build(lab))]
    if checks is not None and not checks.ok:
        return applier.skipped(NAD, objs, "the parameter checks failed", planned=not can_write(target), rules=RULES, target=target.kind)
    require_crd(target)
    return applier.apply(target, NAD, objs, force=force, rules=RULES)


# -- verify ----------------------------------------------------------------------------


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """``oc get``-style age (``30s``, ``5m``, ``3h``, ``12d``) of a creationTimestamp."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    now = now or datetime.now(timezone.utc)
    s = max(0, int((now - then).total_seconds()))
    m, h, d = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if h < 3:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y{d % 365}d"


@dataclass
class NadStatus:
    """One NAD as read back from the target."""

    role: str
    name: str
    namespace: str
    present: bool
    master: str = ""
    mode: str = ""
    age: str = ""
    managed: bool = False
    matches: bool = False
    config: Any = None


@dataclass(repr=False)
class VerifyResult(display.Brief):
    """The NADs read back, the ``tmm.cniNetworks`` value and a findings table."""

    nads: list[NadStatus]
    cni_networks: str
    interfaces: dict[str, str]
    findings: Findings

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for the lab record (and the install step's ``tmm.cniNetworks``)."""
        return {
            "cni_networks": self.cni_networks,
            "interfaces": self.interfaces,
            "nads": [{k: v for k, v in vars(n).items() if k != "config"} for n in self.nads],
        }

    def to_frame(self) -> pd.DataFrame:
        """Like ``oc get network-attachment-definitions`` plus master and mode."""
        return pd.DataFrame(
            [
                {
                    "NAME": n.name,
                    "NAMESPACE": n.namespace,
                    "MASTER": n.master if n.present else "",
                    "MODE": n.mode if n.present else "",
                    "AGE": n.age if n.present else "(absent)",
                    "MANAGED": "spkrunbook" if n.managed else "",
                }
                for n in self.nads
            ],
            columns=["NAME", "NAMESPACE", "MASTER", "MODE", "AGE", "MANAGED"],
        )

    def files(self) -> dict[str, str | bytes]:
        return {"verify.json": json.dumps(self.to_dict(), indent=2, default=str) + "\n"}

    def _repr_html_(self) -> str:
        iface = ", ".join(f"{k} = {v}" for k, v in self.interfaces.items())
        return (
            display.frame_html(self.to_frame(), status_column=None, empty="no NAD on the target")
            + display.code(f'tmm:\n  cniNetworks: "{self.cni_networks}"', title=f"tmm.cniNetworks for the SPK install ({iface})")
            + self.findings._repr_html_()
        )


def verify(lab: Lab, target: Target, *, now: datetime | None = None) -> VerifyResult:
    """Read the NADs back and check each is present and equal to the params.

    On a read-only target an absent or different NAD is a warning (the plan above
    says what would be written); on a live target it fails the step.
    """
    require_crd(target)
    found = Findings("NetworkAttachmentDefinitions on the cluster")
    miss = "warn" if not can_write(target) else "fail"
    nads: list[NadStatus] = []
    for (role, net), desired in zip(roles(lab), build(lab)):
        ref = f"{net.namespace}/{net.name}"
        try:
            obj = _get(target, net.name, net.namespace)
        except ClusterError as exc:
            nads.append(NadStatus(role, net.name, net.namespace, False))
            found.add("present", "fail", f"could not read it: {exc.message}", exc.hint or "", ref)
            continue
        if obj is None:
            nads.append(NadStatus(role, net.name, net.namespace, False))
            found.add(
                "present",
                miss,  # type: ignore[arg-type]
                "not on the target",
                "the plan creates it when run against the live cluster" if miss == "warn" else "run the apply cell again",
                ref,
            )
            continue
        cfg = parse_config(obj)
        cfg_d = cfg if isinstance(cfg, dict) else {}
        st = NadStatus(
            role,
            net.name,
            net.namespace,
            True,
            master=str(cfg_d.get("master", "")),
            mode=str(cfg_d.get("mode", "") or ("bridge" if cfg_d else "")),
            age=age((obj.get("metadata") or {}).get("creationTimestamp"), now),
            managed=is_managed(obj),
            matches=same_config(obj, desired),
            config=cfg,
        )
        nads.append(st)
        found.add("present", "pass", f"exists (age {st.age}{', managed by spkrunbook' if st.managed else ''})", "", ref)
        if st.matches:
            found.add("matches params", "pass", f"macvlan on {st.master}, mode {st.mode}", "", ref)
        else:
            found.add(
                "matches params",
                miss,  # type: ignore[arg-type]
                "spec.config differs: " + _short_diff(obj, desired),
                "see the apply result above for the diff; apply again (or set nad.force) to fix it",
                ref,
            )
    interfaces = {f"1.{k}": f"{n.namespace}/{n.name}" for k, (_, n) in enumerate(roles(lab), start=1)}
    return VerifyResult(nads, lab.cni_networks, interfaces, found)


def _short_diff(existing: Obj, desired: Obj) -> str:
    have, want = parse_config(existing), parse_config(desired)
    if not isinstance(have, dict) or not isinstance(want, dict):
        return f"cluster has {have!r}"
    keys = sorted(set(have) | set(want))
    return ", ".join(f"{k}: {have.get(k, '(unset)')!r} -> {want.get(k, '(unset)')!r}" for k in keys if have.get(k) != want.get(k))


# -- teardown --------------------------------------------------------------------------


@dataclass(repr=False)
class TeardownResult(display.Brief):
    """Per-NAD outcome of ``teardown``: deleted, absent, kept (not ours) or failed."""

    changes: list[NadChange]
    planned: bool
    requested: bool = True

    @property
    def findings(self) -> Findings:
        f = Findings("NetworkAttachmentDefinitions removed" if not self.planned else "NetworkAttachmentDefinitions removal plan")
        if not self.requested:
            f.add("teardown", "skip", "not requested (nad.teardown is false)")
            return f
        for c in self.changes:
            action = f"delete it by hand if it should go: oc delete -n {c.namespace} network-attachment-definitions {c.name}" if c.action == "kept" else ""
            if c.action == "failed" and c.error is not None:
                action = c.error.hint or ""
            f.add("teardown", applier.STATUS[c.action], f"{c.outcome(self.planned)}: {c.reason}", action, c.ref)  # type: ignore[arg-type]
        return f

    def to_frame(self) -> pd.DataFrame:
        return applier.frame(self.changes, self.planned, RULES.columns)

    def to_dict(self) -> dict[str, Any]:
        return {"planned": self.planned, "requested": self.requested, "changes": applier.records(self.changes, self.planned)}

    def files(self) -> dict[str, str | bytes]:
        return {"teardown.json": json.dumps(self.to_dict(), indent=2) + "\n"} if self.requested else {}

    def _repr_html_(self) -> str:
        if not self.requested:
            return "<p>Teardown not requested (<code>nad.teardown: false</code>): the NADs stay.</p>"
        return applier.table_html("Teardown" + (" plan" if self.planned else ""), self.changes, self.planned, self.findings, RULES.noun)


def teardown(lab: Lab, target: Target, *, when: bool = True) -> TeardownResult:
    """Delete the lab's NADs that carry our managed-by label; others are kept and reported.

    ``when=False`` (the notebook passes ``lab.nad.teardown``) does nothing and says so.
    """
    planned = not can_write(target)
    if not when:
        return TeardownResult([], planned, requested=False)
    require_crd(target)
    changes: list[NadChange] = []
    for role, net in roles(lab):
        name, ns = net.name, net.namespace
        try:
            obj = _get(target, name, ns)
        except ClusterError as exc:
            changes.append(_change(role, name, ns, "failed", f"could not read it: {exc.message}", error=exc))
            continue
        if obj is None:
            changes.append(_change(role, name, ns, "absent", "nothing to delete"))
            continue
        if not is_managed(obj):
            changes.append(_change(role, name, ns, "kept", "not managed by spkrunbook; left in place"))
            continue
        change = _change(role, name, ns, "delete", "managed by spkrunbook")
        if not planned:
            try:
                target.delete(NAD, name, ns)  # type: ignore[attr-defined]
                change.applied = True
            except ResourceMissing:
                change = _change(role, name, ns, "absent", "already gone")
            except ClusterError as exc:
                change = _change(role, name, ns, "failed", f"delete failed: {exc.message}", error=exc)
        changes.append(change)
    return TeardownResult(changes, planned)


@dataclass(repr=False)
class NadResult(StepResult):
    """The NAD step: the checks, the manifests, what was applied (or planned), read back, removed."""

    title: ClassVar[str] = "network-attachments"
    checks: Findings
    rendered: Rendered
    applied: ApplyResult
    verified: VerifyResult
    removed: TeardownResult

    @property
    def parts(self) -> list[Any]:
        return [self.checks, self.rendered, self.applied, self.verified, self.removed]

    @property
    def cni_networks(self) -> str:
        return self.verified.cni_networks

    def to_dict(self) -> dict[str, Any]:
        return {"cni_networks": self.verified.cni_networks, "tmm_interfaces": self.verified.interfaces,
                "apply": self.applied.to_dict(), "verify": self.verified.to_dict(), "teardown": self.removed.to_dict()}


def run(lab: Lab, target: Target) -> NadResult:
    """The step as F5's macvlan guide tells it: check, write the manifests, apply, read back (and tear down on request).

    Nothing is written when a check fails (the apply is ``skipped``); on a snapshot
    every write is a plan.
    """
    ClusterFacts.of(lab, target, fresh=True)  # this run reads the cluster as it is now, once
    checks = validate(lab, target)
    rendered = render(lab)
    applied = apply(lab, target, checks=checks)
    verified = verify(lab, target)
    removed = teardown(lab, target, when=lab.nad.teardown)
    return NadResult(checks, rendered, applied, verified, removed)


__all__ = [
    "API_VERSION",
    "KIND",
    "MANAGED_BY",
    "MANAGER",
    "NAD",
    "RULES",
    "ApplyResult",
    "NadChange",
    "NadResult",
    "NadStatus",
    "NodeInterfaces",
    "Rendered",
    "TeardownResult",
    "VerifyResult",
    "age",
    "apply",
    "build",
    "cni_config",
    "crd_installed",
    "diff",
    "is_managed",
    "manifest",
    "render",
    "require_crd",
    "run",
    "teardown",
    "tmm_interfaces",
    "validate",
    "verify",
]
