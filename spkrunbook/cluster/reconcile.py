"""Idempotent apply of objects the tool owns, the same rules for every kind.

The rules (the NAD step's, made generic for F5SPKVlan and later kinds):

- absent: **create** it, labelled ``app.kubernetes.io/managed-by: spkrunbook``;
- present and equal (``spec`` compared, server fields ignored): **unchanged**, no
  write, even when someone else made it;
- present, different and ours: **update** with a diff (cluster -> desired);
- present, different and not ours: **refused** unless ``force``, which takes it over;
- a 409 between read and write: read again and decide again, once;
- on a read-only target (snapshot) the same decisions become a **plan**.

Each object is decided on its own; a refused one does not stop the others and
nothing is rolled back (``ApplyResult.partial`` says so).

What differs between kinds is data, not code: a ``Rules`` value says how two
objects compare (``same``), how the body to write is made (``merge``), how the diff
looks (``diff``), what the force switch is called and how the result is shown
(findings title, noun, table columns). The NAD step passes its own; the defaults
suit a CR whose ``spec`` is the desired state.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from io import StringIO
from typing import Any, Literal

import pandas as pd
from ruamel.yaml import YAML

from .. import display
from ..errors import (
    ApplyRefused,
    ClusterError,
    Conflict,
    ResourceMissing,
    SpkRunbookError,
)
from ..results import Findings
from . import facts
from .base import Obj, Resource, Target, can_write, resource

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "spkrunbook"

# apply's actions, then teardown's (delete what is ours, nothing to delete, not ours so kept).
Action = Literal["create", "update", "unchanged", "refused", "failed", "skipped", "delete", "absent", "kept"]
STATUS: dict[str, str] = {
    "create": "pass",
    "update": "pass",
    "unchanged": "pass",
    "refused": "fail",
    "failed": "fail",
    "skipped": "skip",
    "delete": "pass",
    "absent": "pass",
    "kept": "warn",
}
_PAST = {"create": "created", "update": "updated", "delete": "deleted"}
COLUMNS: tuple[str, ...] = ("name", "namespace", "role", "action", "result", "reason")
FORCE_HINT = "set force to take it over, or choose another name"


def is_managed(obj: Obj) -> bool:
    """True when the object carries our ``app.kubernetes.io/managed-by: spkrunbook`` label."""
    return ((obj.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY) == MANAGER


def label_managed(obj: Obj) -> Obj:
    """A copy with our managed-by label set."""
    obj = copy.deepcopy(obj)
    md = obj.setdefault("metadata", {})
    md["labels"] = {**(md.get("labels") or {}), MANAGED_BY: MANAGER}
    return obj


def to_yaml(objs: Iterable[Obj]) -> str:
    """Objects as a multi-document YAML stream (``---`` before each), keys in build order, long strings on one line."""
    y = YAML()
    y.default_flow_style = False
    y.width = 4096
    out = []
    for o in objs:
        buf = StringIO()
        y.dump(o, buf)
        out.append("---\n" + buf.getvalue())
    return "".join(out)


def sort_keys(value: Any) -> Any:
    """Keys sorted at every level, so a diff shows real changes and not key order."""
    if isinstance(value, dict):
        return {k: sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sort_keys(v) for v in value]
    return value


def view(obj: Obj, spec: Callable[[Obj], Any] | None = None, *, sort: bool = False) -> str:
    """What a diff compares, as YAML: name, namespace, labels and ``spec`` (or ``spec(obj)``)."""
    md = obj.get("metadata") or {}
    v = {
        "metadata": {"name": md.get("name"), "namespace": md.get("namespace"), "labels": dict(sorted((md.get("labels") or {}).items()))},
        "spec": spec(obj) if spec else obj.get("spec"),
    }
    return to_yaml([sort_keys(v) if sort else v])[4:]


def diff(existing: Obj, desired: Obj, *, view: Callable[[Obj], str] = view, label: str = "desired") -> str:
    """A unified diff (cluster -> ``label``) of the two objects' ``view``."""
    md = desired.get("metadata") or {}
    ref = f"{md.get('namespace')}/{md.get('name')}"
    return "".join(
        difflib.unified_diff(
            view(existing).splitlines(True), view(desired).splitlines(True), fromfile=f"cluster: {ref}", tofile=f"{label}: {ref}"
        )
    )


def same_spec(existing: Obj, desired: Obj) -> bool:
    return (existing.get("spec") or {}) == (desired.get("spec") or {})


def replace_spec(existing: Obj, desired: Obj) -> Obj:
    """The body of an update: the cluster's object with the desired ``spec``."""
    body = copy.deepcopy(existing)
    body["spec"] = copy.deepcopy(desired.get("spec"))
    return body


@dataclass(frozen=True)
class Rules:
    """What one kind does differently: how it compares, is written, and is reported."""

    same: Callable[[Obj, Obj], bool] = same_spec
    merge: Callable[[Obj, Obj], Obj] = replace_spec  # (existing, desired) -> body to write, before our label
    diff: Callable[[Obj, Obj], str] = diff
    force_flag: str = "force"  # named in the reason of a forced update
    force_hint: str = FORCE_HINT  # what to do about a refused object
    failed_hint: str = "read the reason, fix it and run the step again"
    title: str = ""  # findings title before "plan"/"applied"; the kind when empty
    noun: str = "object"  # one row of the HTML table
    columns: tuple[str, ...] = COLUMNS  # of to_frame(); any of records()' keys
    record_name: str = "apply"  # the result's file in the record: <record_name>.json (plan or applied)


DEFAULT = Rules()


@dataclass
class Change:
    """What happened (or, in a plan, would happen) to one object."""

    kind: str
    name: str
    namespace: str
    action: Action
    reason: str = ""
    diff: str = ""
    applied: bool = False
    error: SpkRunbookError | None = None
    role: str = ""

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def outcome(self, planned: bool) -> str:
        if self.action in _PAST:
            return f"would {self.action}" if planned or not self.applied else _PAST[self.action]
        return self.action


def records(changes: Iterable[Change], planned: bool) -> list[dict[str, Any]]:
    """JSON-able rows, one per change."""
    return [
        {"name": c.name, "namespace": c.namespace, "role": c.role, "action": c.action, "result": c.outcome(planned),
         "applied": c.applied, "reason": c.reason, "diff": c.diff}
        for c in changes
    ]


def frame(changes: Iterable[Change], planned: bool, columns: Iterable[str] = COLUMNS) -> pd.DataFrame:
    columns = list(columns)
    return pd.DataFrame([{k: r[k] for k in columns} for r in records(changes, planned)], columns=columns)


def table_html(heading: str, changes: Iterable[Change], planned: bool, findings: Findings, noun: str = "object") -> str:
    """Heading, one row per change (ref, role, outcome, why) and each diff below."""
    changes = list(changes)
    df = pd.DataFrame([{noun: c.ref, "role": c.role, "result": c.outcome(planned), "status": STATUS[c.action],
                        "why": c.reason} for c in changes], columns=[noun, "role", "result", "status", "why"])
    diffs = "".join(display.diff(c.diff, title=f"diff for {c.ref} (cluster -> desired)") for c in changes if c.diff)
    verdict = display.badge("pass" if findings.ok else "fail", "OK" if findings.ok else "FAILED")
    return (f"<p><b>{display.esc(heading)}</b> {verdict} {display.counts_line(findings.counts())}</p>"
            + display.frame_html(df, empty=f"no {noun} to apply") + diffs)


@dataclass(repr=False)
class ApplyResult(display.Brief):
    """Per-object outcome; ``planned`` when the target is read-only and nothing was written."""

    kind: str
    changes: list[Change]
    planned: bool
    rules: Rules = DEFAULT
    target: str = ""
    extra: list[Any] = field(default_factory=list)

    @property
    def force_hint(self) -> str:
        return self.rules.force_hint

    @property
    def findings(self) -> Findings:
        f = Findings(f"{self.rules.title or self.kind} {'plan' if self.planned else 'applied'}")
        for c in self.changes:
            action = ""
            if c.action == "refused":
                action = f"this object is not managed by spkrunbook: {self.rules.force_hint}"
            elif c.action == "failed":
                action = (c.error.hint if c.error and c.error.hint else "") or self.rules.failed_hint
            f.add("apply", STATUS[c.action], f"{c.outcome(self.planned)}: {c.reason}", action, c.ref)  # type: ignore[arg-type]
        return f

    @property
    def ok(self) -> bool:
        return self.findings.ok

    @property
    def partial(self) -> bool:
        """Some objects were written and some were not (refused or failed): nothing is rolled back."""
        return any(c.applied for c in self.changes) and any(c.action in ("refused", "failed") for c in self.changes)

    @property
    def diffs(self) -> dict[str, str]:
        return {c.ref: c.diff for c in self.changes if c.diff}

    def change(self, name: str) -> Change:
        return next(c for c in self.changes if c.name == name)

    def to_frame(self) -> pd.DataFrame:
        return frame(self.changes, self.planned, self.rules.columns)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for the lab record."""
        return {"planned": self.planned, "target": self.target, "partial": self.partial, "changes": records(self.changes, self.planned)}

    def files(self) -> dict[str, str | bytes]:
        return {f"{self.rules.record_name}.json": json.dumps(self.to_dict(), indent=2, default=str) + "\n"}

    def _repr_html_(self) -> str:
        heading = f"{self.rules.title or self.kind}: " + ("Plan (read-only target: nothing written)" if self.planned else "Applied")
        if self.partial:
            heading += f" — PARTIAL: some {self.rules.noun}s were written, others were not; nothing was rolled back"
        return table_html(heading, self.changes, self.planned, self.findings, self.rules.noun)


def read(target: Target, res: str | Resource, name: str, namespace: str | None) -> Obj | None:
    """The object, or None when the target does not have it."""
    try:
        return target.get(res, name, namespace)
    except ResourceMissing:
        return None


def crd_installed(target: Target, crd: str, res: str | Resource) -> bool | None:
    """Whether the CRD behind ``res`` is installed; None when the target cannot say (``cluster.facts``)."""
    return facts.crd_installed(target, crd, res)


def require_crd(target: Target, crd: str, res: str | Resource, *, why: str = "", hint: str = "") -> None:
    """Raise a clear ``ResourceMissing`` when the target shows that the CRD is not installed."""
    if crd_installed(target, crd, res) is False:
        raise ResourceMissing(
            f"the cluster has no CustomResourceDefinition {crd}" + (f": {why}" if why else ""),
            status=404,
            reason="NotFound",
            hint=hint or f"install the CRD first; check `oc get crd {crd}`",
        )


def decide(desired: Obj, existing: Obj | None, *, force: bool, kind: str, role: str = "",
           rules: Rules = DEFAULT) -> tuple[Change, Obj | None]:
    """The change for one object and the body to write (None: nothing to write)."""
    md = desired["metadata"]
    name, ns = md["name"], md.get("namespace", "")
    if existing is None:
        return Change(kind, name, ns, "create", "absent from the cluster", role=role), label_managed(desired)
    ours = is_managed(existing)
    if rules.same(existing, desired):
        # Equal content is left alone even when someone else made it: no write is needed,
        # and teardown will not remove it because it is not ours.
        why = "matches the params" if ours else "matches the params; not managed by spkrunbook, left as it is"
        return Change(kind, name, ns, "unchanged", why, role=role), None
    body = label_managed(rules.merge(existing, desired))
    text = rules.diff(existing, body)
    if ours:
        return Change(kind, name, ns, "update", "differs from the params (see diff)", text, role=role), body
    owner = ((existing.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY)
    by = f"managed by {owner!r}" if owner else "not labelled as managed by spkrunbook"
    if force:
        why = f"{rules.force_flag}: overwriting an object {by}; it is labelled ours from now on"
        return Change(kind, name, ns, "update", why, text, role=role), body
    err = ApplyRefused(f"{ns}/{name} exists, differs from the params and is {by}; refusing to overwrite it", hint=rules.force_hint)
    return Change(kind, name, ns, "refused", err.message, text, error=err, role=role), None


def apply_one(target: Target, res: str | Resource, desired: Obj, *, force: bool = False, role: str = "",
              rules: Rules = DEFAULT) -> Change:
    r = resource(res)
    md = desired["metadata"]
    name, ns = md["name"], md.get("namespace") if r.namespaced else None
    last: ClusterError | None = None
    for attempt in (1, 2):
        try:
            change, body = decide(desired, read(target, r, name, ns), force=force, kind=r.kind, role=role, rules=rules)
        except ClusterError as exc:
            return Change(r.kind, name, ns or "", "failed", f"could not read it: {exc.message}", error=exc, role=role)
        if not can_write(target) or body is None:
            return change
        try:
            if change.action == "create":
                target.create(r, body, ns)
            else:
                target.replace(r, body, ns)
        except Conflict as exc:
            # Someone wrote it between our read and our write (409): read again and decide again, once.
            last = exc
            continue
        except ClusterError as exc:
            landed = _landed_anyway(target, r, name, ns, body, rules)
            if landed is not None:  # the write reached the cluster; only its answer was lost
                change.applied = True
                change.reason += f" ({change.action}d; the response was lost ({exc.message}), read back: {landed})"
                return change
            return Change(r.kind, name, ns or "", "failed", f"{change.action} failed: {exc.message}", change.diff, error=exc, role=role)
        change.applied = True
        if attempt == 2:
            change.reason += " (after a 409 conflict, re-read and retried)"
        return change
    assert last is not None
    return Change(r.kind, name, ns or "", "failed", f"409 conflict twice: {last.message}; another writer keeps changing it", error=last, role=role)


def _landed_anyway(target: Target, r: Resource, name: str, ns: str | None, body: Obj, rules: Rules) -> str | None:
    """After a failed write whose request may have reached the server (a timeout, a dropped
    connection), read the object back: what the cluster shows is the outcome, never a guess."""
    try:
        now = read(target, r, name, ns)
    except ClusterError:
        return None
    if now is None or not is_managed(now) or not rules.same(now, body):
        return None
    return f"present with our content, resourceVersion {(now.get('metadata') or {}).get('resourceVersion', '?')}"


def _rules(rules: Rules | None, force_hint: str | None) -> Rules:
    rules = rules or DEFAULT
    return replace(rules, force_hint=force_hint) if force_hint is not None else rules


def apply(target: Target, res: str | Resource, desired: Iterable[tuple[str, Obj]], *, force: bool = False,
          rules: Rules | None = None, force_hint: str | None = None) -> ApplyResult:
    """Apply (role, object) pairs; a plan when the target cannot write (``can_write``).

    ``force_hint`` is a shortcut for ``rules=Rules(force_hint=...)``.
    """
    r, rules = resource(res), _rules(rules, force_hint)
    changes = [apply_one(target, r, obj, force=force, role=role, rules=rules) for role, obj in desired]
    return ApplyResult(r.kind or r.plural, changes, planned=not can_write(target), rules=rules, target=target.kind)


def skipped(res: str | Resource, desired: Iterable[tuple[str, Obj]], reason: str, *, planned: bool,
            rules: Rules | None = None, target: str = "") -> ApplyResult:
    """Every object ``skipped`` for ``reason`` (e.g. failed checks): nothing read, nothing written."""
    r = resource(res)
    return ApplyResult(
        r.kind or r.plural,
        [Change(r.kind, o["metadata"]["name"], o["metadata"].get("namespace", ""), "skipped", reason, role=role) for role, o in desired],
        planned=planned,
        rules=rules or DEFAULT,
        target=target,
    )
