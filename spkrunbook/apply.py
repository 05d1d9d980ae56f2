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
"""

from __future__ import annotations

import copy
import difflib
import html
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal

import pandas as pd
from ruamel.yaml import YAML

from .cluster.base import Obj, Resource, Target, resource
from .errors import ApplyRefused, ClusterError, Conflict, ResourceMissing, SpkRunbookError
from .results import Findings

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "spkrunbook"

Action = Literal["create", "update", "unchanged", "refused", "failed", "skipped"]
STATUS: dict[str, str] = {
    "create": "pass",
    "update": "pass",
    "unchanged": "pass",
    "refused": "fail",
    "failed": "fail",
    "skipped": "skip",
}
_PAST = {"create": "created", "update": "updated"}


def is_managed(obj: Obj) -> bool:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY) == MANAGER


def label_managed(obj: Obj) -> Obj:
    """A copy with our managed-by label set."""
    obj = copy.deepcopy(obj)
    md = obj.setdefault("metadata", {})
    md["labels"] = {**(md.get("labels") or {}), MANAGED_BY: MANAGER}
    return obj


def to_yaml(objs: Iterable[Obj]) -> str:
    """Objects as a multi-document YAML stream (``---`` separated), keys in build order."""
    y = YAML()
    y.default_flow_style = False
    y.width = 4096
    out = []
    for o in objs:
        from io import StringIO

        buf = StringIO()
        y.dump(o, buf)
        out.append("---\n" + buf.getvalue())
    return "".join(out)


def _view(obj: Obj) -> str:
    md = obj.get("metadata") or {}
    view = {
        "metadata": {"name": md.get("name"), "namespace": md.get("namespace"), "labels": dict(sorted((md.get("labels") or {}).items()))},
        "spec": obj.get("spec"),
    }
    return to_yaml([view])[4:]


def diff(existing: Obj, desired: Obj) -> str:
    md = desired.get("metadata") or {}
    ref = f"{md.get('namespace')}/{md.get('name')}"
    return "".join(
        difflib.unified_diff(
            _view(existing).splitlines(True), _view(desired).splitlines(True), fromfile=f"cluster: {ref}", tofile=f"desired: {ref}"
        )
    )


def same_spec(existing: Obj, desired: Obj) -> bool:
    return (existing.get("spec") or {}) == (desired.get("spec") or {})


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


@dataclass
class ApplyResult:
    """Per-object outcome; ``planned`` when the target is read-only and nothing was written."""

    kind: str
    changes: list[Change]
    planned: bool
    force_hint: str = "set force to take it over, or choose another name"
    extra: list[Any] = field(default_factory=list)

    @property
    def findings(self) -> Findings:
        f = Findings(f"{self.kind} {'plan' if self.planned else 'applied'}")
        for c in self.changes:
            action = ""
            if c.action == "refused":
                action = f"this object is not managed by spkrunbook: {self.force_hint}"
            elif c.action == "failed":
                action = (c.error.hint if c.error and c.error.hint else "") or "read the reason, fix it and run the step again"
            f.add("apply", STATUS[c.action], f"{c.outcome(self.planned)}: {c.reason}", action, c.ref)  # type: ignore[arg-type]
        return f

    @property
    def ok(self) -> bool:
        return self.findings.ok

    @property
    def partial(self) -> bool:
        return any(c.applied for c in self.changes) and any(c.action in ("refused", "failed") for c in self.changes)

    @property
    def diffs(self) -> dict[str, str]:
        return {c.ref: c.diff for c in self.changes if c.diff}

    def change(self, name: str) -> Change:
        return next(c for c in self.changes if c.name == name)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {"name": c.name, "namespace": c.namespace, "role": c.role, "action": c.action, "result": c.outcome(self.planned), "reason": c.reason}
                for c in self.changes
            ],
            columns=["name", "namespace", "role", "action", "result", "reason"],
        )

    def _repr_html_(self) -> str:
        title = f"{self.kind}: plan (read-only target, nothing written)" if self.planned else f"{self.kind}: applied"
        if self.partial:
            title += " — PARTIAL: some objects were written, others were not; nothing was rolled back"
        rows = "".join(
            f"<tr><td>{html.escape(c.ref)}</td><td>{html.escape(c.role)}</td><td><b>{html.escape(c.outcome(self.planned))}</b></td>"
            f"<td style='text-align:left'>{html.escape(c.reason)}</td></tr>"
            for c in self.changes
        )
        diffs = "".join(f"<p>diff for {html.escape(c.ref)}:</p><pre>{html.escape(c.diff)}</pre>" for c in self.changes if c.diff)
        return (
            f"<p><b>{html.escape(title)}</b> — {html.escape(self.findings.summary())}</p>"
            "<table><thead><tr><th>object</th><th>role</th><th>result</th><th style='text-align:left'>why</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{diffs}"
        )


def _get(target: Target, res: Resource, name: str, namespace: str | None) -> Obj | None:
    try:
        return target.get(res, name, namespace)
    except ResourceMissing:
        return None


def decide(desired: Obj, existing: Obj | None, *, force: bool, force_hint: str, kind: str, role: str = "",
           same: Callable[[Obj, Obj], bool] = same_spec) -> tuple[Change, Obj | None]:
    """The change for one object and the body to write (None: nothing to write)."""
    md = desired["metadata"]
    name, ns = md["name"], md.get("namespace", "")
    if existing is None:
        return Change(kind, name, ns, "create", "absent from the cluster", role=role), label_managed(desired)
    ours = is_managed(existing)
    if same(existing, desired):
        why = "matches the params" if ours else "matches the params; not managed by spkrunbook, left as it is"
        return Change(kind, name, ns, "unchanged", why, role=role), None
    body = copy.deepcopy(existing)
    body["spec"] = copy.deepcopy(desired.get("spec"))
    body = label_managed(body)
    text = diff(existing, body)
    if ours:
        return Change(kind, name, ns, "update", "differs from the params (see diff)", text, role=role), body
    owner = ((existing.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY)
    by = f"managed by {owner!r}" if owner else "not labelled as managed by spkrunbook"
    if force:
        return Change(kind, name, ns, "update", f"force: overwriting an object {by}; it is labelled ours from now on", text, role=role), body
    err = ApplyRefused(f"{ns}/{name} exists, differs from the params and is {by}; refusing to overwrite it", hint=force_hint)
    return Change(kind, name, ns, "refused", err.message, text, error=err, role=role), None


def apply_one(target: Target, res: "str | Resource", desired: Obj, *, force: bool = False, role: str = "",
              force_hint: str = "set force to take it over, or choose another name",
              same: Callable[[Obj, Obj], bool] = same_spec) -> Change:
    r = resource(res)
    md = desired["metadata"]
    name, ns = md["name"], md.get("namespace") if r.namespaced else None
    write = bool(getattr(target, "can_write", False))
    last: ClusterError | None = None
    for attempt in (1, 2):
        try:
            change, body = decide(desired, _get(target, r, name, ns), force=force, force_hint=force_hint, kind=r.kind, role=role, same=same)
        except ClusterError as exc:
            return Change(r.kind, name, ns or "", "failed", f"could not read it: {exc.message}", error=exc, role=role)
        if not write or body is None:
            return change
        try:
            if change.action == "create":
                target.create(r, body, ns)  # type: ignore[attr-defined]
            else:
                target.replace(r, body, ns)  # type: ignore[attr-defined]
        except Conflict as exc:
            last = exc
            continue
        except ClusterError as exc:
            return Change(r.kind, name, ns or "", "failed", f"{change.action} failed: {exc.message}", change.diff, error=exc, role=role)
        change.applied = True
        if attempt == 2:
            change.reason += " (after a 409 conflict, re-read and retried)"
        return change
    assert last is not None
    return Change(r.kind, name, ns or "", "failed", f"409 conflict twice: {last.message}; another writer keeps changing it", error=last, role=role)


def apply(target: Target, res: "str | Resource", desired: Iterable[tuple[str, Obj]], *, force: bool = False,
          force_hint: str = "set force to take it over, or choose another name",
          same: Callable[[Obj, Obj], bool] = same_spec) -> ApplyResult:
    """Apply (role, object) pairs; a plan when ``target.can_write`` is False."""
    r = resource(res)
    changes = [apply_one(target, r, obj, force=force, role=role, force_hint=force_hint, same=same) for role, obj in desired]
    return ApplyResult(r.kind or r.plural, changes, planned=not getattr(target, "can_write", False), force_hint=force_hint)


def skipped(res: "str | Resource", desired: Iterable[tuple[str, Obj]], reason: str, *, planned: bool) -> ApplyResult:
    r = resource(res)
    return ApplyResult(
        r.kind or r.plural,
        [Change(r.kind, o["metadata"]["name"], o["metadata"].get("namespace", ""), "skipped", reason, role=role) for role, o in desired],
        planned=planned,
    )
