"""The macvlan changes to the f5ingress chart values, merged into the user's file.

The "Install SPK" section of F5's "Macvlan Network Configuration" guide lists four changes under ``tmm``:

1. ``customEnvVars`` gains ``TMM_MAPRES_ADDL_VETHS_ON_DP: "TRUE"`` (merged with the
   user's other variables: none dropped, no name twice);
2. ``topologyManager: false``;
3. ``cniNetworks`` names the NADs in interface order (first is TMM ``1.1``);
4. ``resources`` with requests equal to limits (Guaranteed QoS), whole CPUs and
   memory/hugepages in Mi/Gi (sizes from ``spkrunbook.sizing``).

``overrides(lab)`` is that desired state; ``merge(text, lab)`` applies it to a
values file with ruamel.yaml round-trip, so comments, key order, quoting and
indentation of everything else survive byte for byte, and returns every
``Change`` (path, old, new, reason). A user value that conflicts (for example
``topologyManager: true``) is a ``change`` row, never a silent overwrite.

Secrets a values file may hold (``imageCredentials.password``, keys named like
password/token/secret/key, base64 private keys) are masked in ``masked_*`` texts
and the diff; only ``merged`` (what helm reads) holds them.
"""

from __future__ import annotations

import copy
import difflib
import io
import json
import re
import shutil
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from ... import display, secrets, sizing
from ...errors import ValuesError
from ...params import Lab
from ...results import CheckResult, Findings

ENV_NAME = "TMM_MAPRES_ADDL_VETHS_ON_DP"
ENV_VALUE = "TRUE"
#: TMM's default MTU, which F5 couples with each VLAN's ``mtu`` (``steps.install.mtu``).
MTU_ENV = "TMM_DEFAULT_MTU"
MASK = secrets.MASK
# (mapping, sequence, offset) styles tried to reproduce a file exactly; the first
# that round-trips the original byte for byte wins.
INDENT_STYLES: tuple[tuple[int, int, int], ...] = ((2, 2, 0), (2, 4, 2), (4, 4, 2), (4, 2, 0), (4, 6, 4), (3, 3, 0), (2, 3, 1))
# A wide line limit so ruamel never re-wraps a long value (base64 certificates).
YAML_WIDTH = 1 << 20



# -- the desired state ------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One difference between the user's values and what the install uses.

    ``action``: ``add`` (absent before), ``change`` (the user had another value: a
    conflict), ``remove`` (a duplicate or contradicting entry), ``keep`` (already right).
    """

    path: str
    old: Any
    new: Any
    reason: str
    action: str = "change"

    @property
    def conflict(self) -> bool:
        return self.action in ("change", "remove")


@dataclass
class Overrides:
    """What the macvlan install needs in the chart values (from params + NAD order)."""

    env: list[tuple[str, str]]
    topology_manager: bool
    cni_networks: str
    resources: sizing.TmmResources
    replicas: int
    interface_order: list[tuple[str, str]]
    image_credentials: dict[str, str] | None = field(default=None, repr=False)

    @property
    def assumptions(self) -> list[str]:
        return [self.resources.assumption] if self.resources.assumption else []

    def as_values(self, *, reveal: bool = False) -> dict[str, Any]:
        """A plain values snippet with only these settings (the YAML blocks of F5's guide)."""
        tmm: dict[str, Any] = {
            "customEnvVars": [{"name": n, "value": v} for n, v in self.env],
            "topologyManager": self.topology_manager,
            "cniNetworks": self.cni_networks,
            "resources": self.resources.block(),
        }
        out: dict[str, Any] = {"tmm": tmm}
        if self.replicas != 1:
            tmm["replicaCount"] = self.replicas
        if self.image_credentials:
            creds = dict(self.image_credentials)
            if not reveal:
                creds["password"] = MASK
            out["imageCredentials"] = creds
        return out


def overrides(lab: Lab, *, cni_networks: str | None = None) -> Overrides:
    """The desired settings: ``cni_networks`` defaults to the params' NAD order.

    Pass the NAD step's ``ns/name,ns/name`` string when it created the NADs under
    other names; the order given is the TMM interface order.
    """
    cni = cni_networks if cni_networks is not None else lab.cni_networks
    names = [n.strip() for n in cni.split(",") if n.strip()]
    if len(names) < 2:
        raise ValuesError(
            f"tmm.cniNetworks needs the internal and external NADs, got {cni!r}",
            hint="give both NADs as namespace/name,namespace/name (internal first unless networks.order says otherwise)",
        )
    env = [(ENV_NAME, ENV_VALUE)] + [(e.name, e.value) for e in lab.tmm.custom_env if e.name != ENV_NAME]
    if lab.tmm.default_mtu is not None and MTU_ENV not in dict(env):
        env.append((MTU_ENV, str(lab.tmm.default_mtu)))
    creds = None
    if lab.install.image_credentials is not None:
        c = lab.install.image_credentials
        creds = {"registry": c.registry, "username": c.username, "password": c.password.get_secret_value()}
    roles = [role for role, _ in lab.networks.ordered()]
    order = [(f"1.{i + 1}", f"{roles[i] if i < len(roles) else '?'} ({name})") for i, name in enumerate(names)]
    return Overrides(
        env=env,
        topology_manager=lab.tmm.topology_manager,
        cni_networks=",".join(names),
        resources=sizing.tmm_resources(lab),
        replicas=lab.tmm.replicas,
        interface_order=order,
        image_credentials=creds,
    )


# -- YAML round trip -----------------------------------------------------------------------


def _yaml(style: tuple[int, int, int]) -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.width = YAML_WIDTH
    m, s, o = style
    y.indent(mapping=m, sequence=s, offset=o)
    return y


def _dump(y: YAML, doc: Any) -> str:
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue()


def load_roundtrip(text: str) -> tuple[Any, YAML, bool]:
    """Load for round trip; returns (doc, yaml with the file's indentation, exact?)."""
    first: tuple[Any, YAML] | None = None
    for style in INDENT_STYLES:
        y = _yaml(style)
        try:
            doc = y.load(text)
        except YAMLError as exc:
            raise ValuesError(f"the values file is not valid YAML: {exc}", hint="fix the YAML syntax and run again") from None
        if doc is None:
            doc = CommentedMap()
        if first is None:
            first = (doc, y)
        if _dump(y, doc) == text:
            return doc, y, True
    assert first is not None
    return first[0], first[1], False


def _tail_comment(node: Any) -> tuple[Any, Any, int] | None:
    """Where the comment lines after a collection's last line live: (holder, key, slot)."""
    if isinstance(node, CommentedMap) and len(node):
        key = list(node.keys())[-1]
        value = node[key]
        if isinstance(value, (CommentedMap, CommentedSeq)) and len(value):
            return _tail_comment(value)
        return (node, key, 2)
    if isinstance(node, CommentedSeq) and len(node):
        value = node[-1]
        if isinstance(value, (CommentedMap, CommentedSeq)) and len(value):
            return _tail_comment(value)
        return (node, len(node) - 1, 0)
    return None


def _take_trailing(node: Any) -> str:
    """Remove (and return) the blank lines and comments that follow a collection's last line.

    An end-of-line comment on the last line stays where it is.
    """
    where = _tail_comment(node)
    if where is None:
        return ""
    holder, key, slot = where
    entry = holder.ca.items.get(key)
    if not entry or len(entry) <= slot or not isinstance(entry[slot], CommentToken):
        return ""
    tok: CommentToken = entry[slot]
    value = tok.value
    nl = value.find("\n")
    if nl < 0:
        return ""
    head, tail = value[: nl + 1], value[nl + 1 :]
    if not tail:
        return ""
    if head.strip():
        tok.value = head
    else:
        entry[slot] = None
        if not any(entry):
            del holder.ca.items[key]
    return tail


def _put_trailing(node: Any, tail: str) -> None:
    """Attach lines taken by ``_take_trailing`` after a collection's (new) last line."""
    if not tail:
        return
    where = _tail_comment(node)
    if where is None:
        return
    holder, key, slot = where
    entry = holder.ca.items.setdefault(key, [None, None, None, None] if slot == 2 else [None, None])
    while len(entry) <= slot:
        entry.append(None)
    existing = entry[slot]
    if isinstance(existing, CommentToken):
        existing.value = existing.value.rstrip("\n") + "\n" + tail
    else:
        from ruamel.yaml.error import CommentMark

        entry[slot] = CommentToken("\n" + tail, CommentMark(0), None)


_PENDING = threading.local()


def _append_key(mapping: CommentedMap, key: str, value: Any) -> None:
    """Add a key at the end of a mapping, keeping the comments that followed it last.

    A new empty collection is filled later: its comments are re-attached by
    ``_flush_pending`` once it has its last line.
    """
    tail = _take_trailing(mapping)
    mapping[key] = value
    if isinstance(value, (CommentedMap, CommentedSeq)) and not len(value) and tail:
        pending = getattr(_PENDING, "items", None)
        if pending is not None:
            pending.append((mapping, tail))
            return
    _put_trailing(mapping, tail)


def _flush_pending() -> None:
    for holder, tail in reversed(getattr(_PENDING, "items", None) or []):
        _put_trailing(holder, tail)
    _PENDING.items = None


def _append_item(seq: CommentedSeq, value: Any) -> None:
    tail = _take_trailing(seq)
    seq.append(value)
    _put_trailing(seq, tail)


def _plain(value: Any) -> Any:
    """A ruamel value as plain Python (for display and comparison)."""
    if isinstance(value, ScalarString):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _same_quantity(a: Any, b: Any) -> bool:
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        return False
    try:
        return sizing.parse_quantity(str(a)) == sizing.parse_quantity(str(b))
    except (ValueError, TypeError):
        return False


def _is_cpu_whole(value: Any) -> bool:
    try:
        q = sizing.parse_quantity(str(value))
    except (ValueError, TypeError):
        return False
    return q == int(q) and q > 0


def _quantity_units_ok(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[0-9]+(Mi|Gi)", value) is not None


# -- merge ----------------------------------------------------------------------------------


@dataclass(repr=False)
class ValuesMerge:
    """The merged values, every change, and masked texts for showing and saving."""

    source: Path | None
    original: str
    merged: str
    changes: list[Change]
    overrides: Overrides
    roundtrip_exact: bool = True
    secrets: set[str] = field(default_factory=set)
    masked_original: str = ""
    masked_merged: str = ""
    #: Rows from ``check`` on the values helm will really use (added by ``prepare``).
    checks: list[CheckResult] = field(default_factory=list)
    #: The user's file as it was, when ``install.modify_values_in_place`` rewrote it.
    backup: Path | None = None

    @property
    def assumptions(self) -> list[str]:
        return self.overrides.assumptions

    @property
    def applied(self) -> list[Change]:
        return [c for c in self.changes if c.action != "keep"]

    @property
    def conflicts(self) -> list[Change]:
        return [c for c in self.changes if c.conflict]

    @property
    def diff(self) -> str:
        """Unified diff of the user's file against the merged one, secrets masked."""
        name = self.source.name if self.source else "values.yaml"
        return "".join(
            difflib.unified_diff(
                self.masked_original.splitlines(True),
                self.masked_merged.splitlines(True),
                fromfile=f"a/{name}",
                tofile=f"b/{name} (merged by spkrunbook)",
            )
        )

    def to_frame(self) -> pd.DataFrame:
        rows = [
            {"path": c.path, "action": c.action, "old": _show(c.old), "new": _show(c.new), "reason": c.reason}
            for c in self.changes
        ]
        return pd.DataFrame(rows, columns=["path", "action", "old", "new", "reason"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source) if self.source else None,
            "changes": [
                {"path": c.path, "action": c.action, "old": _show(c.old), "new": _show(c.new), "reason": c.reason}
                for c in self.changes
            ],
            "assumptions": self.assumptions,
            "roundtrip_exact": self.roundtrip_exact,
        }

    @property
    def findings(self) -> Findings:
        """Rows for the step table: conflicts overridden, assumptions, round-trip fidelity."""
        f = Findings("SPK values")
        n_conf = len(self.conflicts)
        f.add(
            "macvlan value changes",
            "pass",
            f"{len(self.applied)} change(s), {n_conf} overriding the user's values, "
            f"{len(self.changes) - len(self.applied)} already right",
            subject=self.source.name if self.source else "(no values file)",
        )
        # Deliberate: each override is a change F5's macvlan guide (or the params) asks for, so it is a note
        # with its diff for the record, not a warning a person must judge.
        for c in self.conflicts:
            f.add("user value overridden", "note", f"{c.path}: {_show(c.old)} -> {_show(c.new)} (see the values diff)",
                  c.reason, subject=c.path)
        for a in self.assumptions:
            f.add("sizing assumption", "warn", a, "set tmm.hugepages (and tmm.memory) in the params", subject="tmm.resources")
        if not self.roundtrip_exact:
            f.add(
                "values formatting kept",
                "warn",
                "the file's indentation could not be reproduced exactly; untouched lines may be re-indented",
                "compare the diff; use 2-space mappings to keep the file byte for byte",
            )
        f.extend(self.checks)
        return f

    def diff_html(self) -> str:
        """The merged file against the user's, secrets masked, as a coloured diff."""
        return display.diff(self.diff, title="your values file -> the values helm gets (secrets masked)")

    @property
    def diff_view(self) -> display.HTML:
        return display.HTML(self.diff_html())

    def files(self) -> dict[str, str | bytes]:
        """The merged values (secrets masked), the diff and the change list."""
        return {"values.yaml": self.masked_merged, "values.diff": self.diff or "(no differences)\n",
                "values-changes.json": json.dumps(self.to_dict(), indent=2, default=str) + "\n"}

    def _repr_html_(self) -> str:
        head = "<p><b>SPK values: {} change(s) from the macvlan settings of F5's guide</b>{}</p>".format(
            len(self.applied), f" (merged into {display.esc(self.source.name)})" if self.source else ""
        )
        notes = "".join(f"<p>&#9888; assumption: {display.esc(a)}</p>" for a in self.assumptions)
        df = self.to_frame().rename(columns={"action": "status"})
        df["status"] = df["status"].map({"keep": "pass", "add": "info", "change": "warn"}).fillna("info")
        df.insert(1, "action", self.to_frame()["action"])
        # what the step warns about is shown here, not only in the record's JSON
        return head + self.findings._repr_html_() + display.heading("Every change", 5) \
            + display.frame_html(df, code_columns=("old", "new")) + notes

    def __repr__(self) -> str:
        # Never the texts or secrets: a notebook shows repr() as text/plain.
        src = self.source.name if self.source else None
        return f"<ValuesMerge source={src!r} changes={len(self.applied)} conflicts={len(self.conflicts)} assumptions={len(self.assumptions)}>"

    def __str__(self) -> str:
        lines = [f"SPK values: {len(self.applied)} change(s)"]
        lines += [f"  {c.action:6} {c.path}: {_show(c.old)} -> {_show(c.new)}  ({c.reason})" for c in self.changes]
        lines += [f"  assumption: {a}" for a in self.assumptions]
        return "\n".join(lines)


def _show(value: Any) -> str:
    if value is None:
        return "(absent)"
    v = _plain(value)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        import json

        return json.dumps(v, sort_keys=False)
    return str(v)


def merge(text: str | None, lab: Lab, *, cni_networks: str | None = None, source: Path | None = None) -> ValuesMerge:
    """Apply the macvlan overrides to a values text (None or empty: start from nothing)."""
    ov = overrides(lab, cni_networks=cni_networks)
    original = text or ""
    doc, y, exact = load_roundtrip(original) if original.strip() else (CommentedMap(), _yaml((2, 4, 2)), True)
    if not isinstance(doc, CommentedMap):
        raise ValuesError("the values file must be a YAML mapping at the top level", hint="check the file is an f5ingress values file")
    changes: list[Change] = []
    _PENDING.items = []
    try:
        _apply_overrides(doc, ov, changes)
    finally:
        _flush_pending()
    merged = _dump(y, doc)
    return _finish(doc, y, original, merged, ov, changes, exact, source)


def _apply_overrides(doc: CommentedMap, ov: Overrides, changes: list[Change]) -> None:
    tmm = doc.get("tmm")
    if tmm is None:
        tmm = CommentedMap()
        _append_key(doc, "tmm", tmm)
    elif not isinstance(tmm, CommentedMap):
        raise ValuesError(f"tmm must be a mapping, not {type(tmm).__name__}", hint="fix the tmm: section of the values file")

    _merge_env(tmm, ov, changes)
    _set_scalar(
        tmm,
        "tmm.topologyManager",
        "topologyManager",
        ov.topology_manager,
        "macvlan TMM: F5's macvlan guide says verify topology manager is disabled"
        if not ov.topology_manager
        else "params tmm.topology_manager is true",
        changes,
    )
    order = ", ".join(f"{iface} = {what}" for iface, what in ov.interface_order)
    _set_scalar(tmm, "tmm.cniNetworks", "cniNetworks", ov.cni_networks, f"NADs in TMM interface order: {order}", changes)
    if ov.replicas != 1 or "replicaCount" in tmm:
        _set_scalar(tmm, "tmm.replicaCount", "replicaCount", ov.replicas, "params tmm.replicas (one self IP per replica)", changes)
    _merge_resources(tmm, ov.resources, changes)
    if ov.image_credentials:
        _merge_credentials(doc, ov.image_credentials, changes)


def _finish(doc: Any, y: YAML, original: str, merged: str, ov: Overrides, changes: list[Change], exact: bool, source: Path | None) -> ValuesMerge:
    secrets = find_secrets(doc)
    if ov.image_credentials:
        secrets.add(ov.image_credentials["password"])
    result = ValuesMerge(
        source=source,
        original=original,
        merged=merged,
        changes=changes,
        overrides=ov,
        roundtrip_exact=exact,
        secrets={s for s in secrets if s},
    )
    result.masked_merged = mask_text(merged, y)
    result.masked_original = mask_text(original, y) if original.strip() else ""
    return result


def prepare(lab: Lab) -> ValuesMerge:
    """The values step: merge the macvlan changes into the user's file and check what helm will see.

    The user's file is only rewritten with ``install.modify_values_in_place`` (a
    ``.bak`` copy is kept next to it).
    """
    result = merge_file(lab)
    eff = effective(result.merged, lab.install.extra_values_files)
    result.checks = list(check(eff, lab, title="values helm will use").rows)
    if lab.install.modify_values_in_place and result.source is not None and result.applied:
        result.backup = write_in_place(result)
    return result


def merge_file(lab: Lab, *, cni_networks: str | None = None) -> ValuesMerge:
    """``merge`` on ``lab.install.values_file`` (or on nothing when the params name none)."""
    path = lab.install.values_file
    if path is None:
        return merge(None, lab, cni_networks=cni_networks)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValuesError(
            f"values file {path} does not exist", hint="set install.values_file to your f5ingress values file, or remove it"
        ) from None
    return merge(text, lab, cni_networks=cni_networks, source=Path(path))


def write_in_place(result: ValuesMerge) -> Path:
    """Write the merged values over the user's file, keeping the original as ``<file>.bak``."""
    if result.source is None:
        raise ValuesError("there is no values file to modify", hint="set install.values_file")
    bak = result.source.with_name(result.source.name + ".bak")
    shutil.copy2(result.source, bak)
    result.source.write_text(result.merged, encoding="utf-8")
    return bak


def _merge_env(tmm: CommentedMap, ov: Overrides, changes: list[Change]) -> None:
    env = tmm.get("customEnvVars")
    if env is None:
        env = CommentedSeq()
        _append_key(tmm, "customEnvVars", env)
    elif not isinstance(env, CommentedSeq):
        raise ValuesError(
            f"tmm.customEnvVars must be a list of {{name, value}}, not {type(env).__name__}",
            hint="write it as a list: - name: X / value: 'Y'",
        )
    for want_name, want_value in ov.env:
        reason = (
            "lets TMM put the macvlan interfaces on its dataplane (F5SPKVlan configures them)"
            if want_name == ENV_NAME
            else "params tmm.default_mtu: F5 has TMM_DEFAULT_MTU equal a VLAN's mtu" if want_name == MTU_ENV
            else "params tmm.custom_env"
        )
        idx = [i for i, item in enumerate(env) if isinstance(item, Mapping) and item.get("name") == want_name]
        path = f"tmm.customEnvVars[{want_name}]"
        if not idx:
            item = CommentedMap()
            item["name"] = want_name
            item["value"] = DoubleQuotedScalarString(want_value)
            _append_item(env, item)
            changes.append(Change(path, None, want_value, reason, "add"))
            continue
        first = env[idx[0]]
        old = first.get("value")
        if old is not None and str(old) == want_value:
            changes.append(Change(path, old, want_value, reason, "keep"))
        else:
            style = SingleQuotedScalarString if isinstance(old, SingleQuotedScalarString) else DoubleQuotedScalarString
            first["value"] = style(want_value)
            changes.append(Change(path, old, want_value, reason, "change"))
        for i in reversed(idx[1:]):
            dup = env[i]
            tail = _take_trailing(env) if i == len(env) - 1 else ""
            del env[i]
            _put_trailing(env, tail)
            changes.append(Change(f"{path} (duplicate)", dup.get("value"), None, "a name may appear only once", "remove"))


def _set_scalar(node: CommentedMap, path: str, key: str, value: Any, reason: str, changes: list[Change]) -> None:
    if key not in node:
        _append_key(node, key, value)
        changes.append(Change(path, None, value, reason, "add"))
        return
    old = node[key]
    if _plain(old) == value and type(_plain(old)) is type(value):
        changes.append(Change(path, old, value, reason, "keep"))
        return
    node[key] = value
    changes.append(Change(path, old, value, reason, "change"))


def _merge_resources(tmm: CommentedMap, res: sizing.TmmResources, changes: list[Change]) -> None:
    block = tmm.get("resources")
    if block is None:
        block = CommentedMap()
        _append_key(tmm, "resources", block)
    elif not isinstance(block, CommentedMap):
        raise ValuesError("tmm.resources must be a mapping with limits and requests", hint="fix tmm.resources")
    why = {
        "cpu": f"{res.cpu} whole CPU(s) ({res.source}); requests == limits for Guaranteed QoS",
        res.hugepages_resource: f"hugepages for {res.cpu} CPU(s): {res.source}" + (" (assumption)" if res.assumption else ""),
        "memory": f"memory in Mi/Gi ({'params tmm.memory' if res.source == 'params tmm.memory' else res.source})",
    }
    wanted: dict[str, Any] = {"cpu": res.cpu, res.hugepages_resource: DoubleQuotedScalarString(res.hugepages), "memory": DoubleQuotedScalarString(res.memory)}
    for side in ("limits", "requests"):
        part = block.get(side)
        if part is None:
            part = CommentedMap()
            _append_key(block, side, part)
        elif not isinstance(part, CommentedMap):
            raise ValuesError(f"tmm.resources.{side} must be a mapping", hint="fix tmm.resources")
        for key, value in wanted.items():
            path = f"tmm.resources.{side}.{key}"
            if key not in part:
                _append_key(part, key, value)
                changes.append(Change(path, None, _plain(value), why[key], "add"))
                continue
            old = part[key]
            same = str(old) == str(value) if key == "cpu" else _same_quantity(old, value) and _quantity_units_ok(_plain(old))
            if key == "cpu" and not isinstance(old, bool) and _is_cpu_whole(old) and _same_quantity(old, value):
                same = True
            if same:
                changes.append(Change(path, old, _plain(value), why[key], "keep"))
                continue
            reason = why[key]
            if key == "cpu" and not _is_cpu_whole(old):
                reason = f"{_show(old)} is not a whole CPU: TMM would not be Guaranteed; " + reason
            part[key] = value
            changes.append(Change(path, old, _plain(value), reason, "change"))
        # The other hugepage size would ask the node for both kinds.
        for other in [k for k in list(part.keys()) if str(k).startswith("hugepages-") and k != res.hugepages_resource]:
            old = part[other]
            tail = _take_trailing(part) if list(part.keys())[-1] == other else ""
            del part[other]
            _put_trailing(part, tail)
            changes.append(Change(f"tmm.resources.{side}.{other}", old, None, f"TMM uses {res.hugepages_resource}", "remove"))
    # Anything else set on both sides must agree too (Guaranteed QoS).
    limits, requests = block["limits"], block["requests"]
    for key in [k for k in list(requests) if k in limits and k not in wanted]:
        if not _same_quantity(requests[key], limits[key]) and str(requests[key]) != str(limits[key]):
            old = requests[key]
            requests[key] = limits[key]
            changes.append(Change(f"tmm.resources.requests.{key}", old, _plain(limits[key]), "requests must equal limits (Guaranteed QoS)", "change"))


def _merge_credentials(doc: CommentedMap, creds: dict[str, str], changes: list[Change]) -> None:
    node = doc.get("imageCredentials")
    if node is None:
        node = CommentedMap()
        _append_key(doc, "imageCredentials", node)
    for key in ("registry", "username", "password"):
        value = creds[key]
        path = f"imageCredentials.{key}"
        shown_new = MASK if key == "password" else value
        if key in node and str(node[key]) == value:
            changes.append(Change(path, MASK if key == "password" else node[key], shown_new, "params install.image_credentials", "keep"))
            continue
        old = node.get(key)
        shown_old = None if old is None else (MASK if key == "password" else old)
        if key in node:
            node[key] = DoubleQuotedScalarString(value) if key == "password" else value
        else:
            _append_key(node, key, DoubleQuotedScalarString(value) if key == "password" else value)
        changes.append(Change(path, shown_old, shown_new, "params install.image_credentials", "add" if old is None else "change"))


# -- secrets --------------------------------------------------------------------------------


def find_secrets(doc: Any) -> set[str]:
    """Every secret-looking value in a values document (plus its lines, for block scalars)."""
    return secrets.secret_values(doc)


def mask(doc: Any) -> Any:
    """A copy of a values document with every secret replaced by ``***``."""
    doc = copy.deepcopy(doc)
    for container, key, value in list(secrets.secret_slots(doc)):
        if value != MASK:
            container[key] = SingleQuotedScalarString(MASK) if isinstance(value, SingleQuotedScalarString) else DoubleQuotedScalarString(MASK)
    return doc


def mask_text(text: str, y: YAML | None = None) -> str:
    """A values text with secrets masked, formatting otherwise kept."""
    if not text.strip():
        return text
    doc, yy, _ = load_roundtrip(text) if y is None else (_load_with(y, text), y, True)
    for container, key, value in list(secrets.secret_slots(doc)):
        if value != MASK:
            container[key] = SingleQuotedScalarString(MASK) if isinstance(value, SingleQuotedScalarString) else DoubleQuotedScalarString(MASK)
    return _dump(yy, doc)


def _load_with(y: YAML, text: str) -> Any:
    try:
        return y.load(text)
    except YAMLError as exc:
        raise ValuesError(f"the values file is not valid YAML: {exc}") from None


# -- checking the values helm will see -----------------------------------------------------------


def load_plain(text: str) -> Any:
    try:
        return YAML(typ="safe").load(text) or {}
    except YAMLError as exc:
        raise ValuesError(f"not valid YAML: {exc}", hint="fix the YAML syntax") from None


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's rule for several ``-f`` files: mappings merge, everything else is replaced."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def effective(merged: str, extra_files: Iterable[Path] = ()) -> dict[str, Any]:
    """What helm ends up with: the merged values, then each extra ``-f`` file over it."""
    data = load_plain(merged)
    for p in extra_files:
        try:
            data = deep_merge(data, load_plain(Path(p).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ValuesError(f"extra values file {p} does not exist", hint="fix install.extra_values_files") from None
    return data


def check(values: Mapping[str, Any], lab: Lab, *, cni_networks: str | None = None, title: str = "SPK values check") -> Findings:
    """Check the values helm will use hold the macvlan settings (catches an extra file undoing them)."""
    ov = overrides(lab, cni_networks=cni_networks)
    f = Findings(title)
    tmm = values.get("tmm") or {}
    env = tmm.get("customEnvVars") or []
    names = [e.get("name") for e in env if isinstance(e, Mapping)]
    ours = [e for e in env if isinstance(e, Mapping) and e.get("name") == ENV_NAME]
    if ours and str(ours[0].get("value")) == ENV_VALUE:
        f.add("TMM env var", "pass", f"{ENV_NAME}={ENV_VALUE}", subject="tmm.customEnvVars")
    else:
        f.add("TMM env var", "fail", f"{ENV_NAME} is {ours[0].get('value') if ours else 'absent'}",
              f"set {ENV_NAME}: \"TRUE\" (an extra values file may replace the whole list)", subject="tmm.customEnvVars")
    pal = [e for e in env if isinstance(e, Mapping) and e.get("name") == sizing.PAL_CPU_SET]
    if pal:
        cpu = sizing.tmm_resources(lab).cpu
        problem = sizing.pal_cpu_set_problem(pal[0].get("value"), cpu)
        if problem:
            f.add("PAL_CPU_SET", "warn", problem[0], problem[1], subject="tmm.customEnvVars")
        else:
            f.add("PAL_CPU_SET", "pass", f"{sizing.PAL_CPU_SET}={pal[0].get('value')} matches {cpu:g} TMM CPU(s)",
                  subject="tmm.customEnvVars")
    dups = sorted({str(n) for n in names if names.count(n) > 1})
    if dups:
        f.add("env var names unique", "fail", f"repeated: {', '.join(map(str, dups))}", "keep one entry per name", subject="tmm.customEnvVars")
    tm = tmm.get("topologyManager")
    if tm is ov.topology_manager or (tm is None and not ov.topology_manager):
        f.add("topology manager", "pass", f"topologyManager: {_show(tm)}", subject="tmm.topologyManager")
    else:
        f.add("topology manager", "fail", f"topologyManager: {_show(tm)}", "set tmm.topologyManager: false", subject="tmm.topologyManager")
    cni = tmm.get("cniNetworks")
    if cni == ov.cni_networks:
        f.add("NADs in order", "pass", str(cni), subject="tmm.cniNetworks")
    else:
        f.add("NADs in order", "fail", f"{cni!r}, expected {ov.cni_networks!r}", "set tmm.cniNetworks to the NADs in interface order", subject="tmm.cniNetworks")
    f.extend(check_resources(tmm.get("resources") or {}).rows)
    f.extend(check_placement(tmm, lab).rows)
    return f


def check_placement(tmm: Mapping[str, Any], lab: Lab) -> Findings:
    """The nodes the chart will schedule TMM on (``tmm.nodeSelector`` in the values) are the nodes the
    prerequisites and NAD checks looked at (``tmm.node_selector`` in the params)."""
    f = Findings("TMM placement")
    sel = tmm.get("nodeSelector")
    ours = dict(lab.tmm.node_selector)
    if tmm.get("affinity"):
        f.add("TMM placement", "warn", "the values set tmm.affinity: the checks only follow tmm.node_selector",
              "make tmm.node_selector in the params select the same nodes the affinity allows", subject="tmm.affinity")
    if sel is None:
        f.add("TMM placement", "pass" if not ours or ours == {"node-role.kubernetes.io/worker": ""} else "warn",
              f"the values set no tmm.nodeSelector; the checks looked at nodes matching {lab.tmm.selector_string() or 'all'}",
              "" if not ours or ours == {"node-role.kubernetes.io/worker": ""}
              else f"set tmm.nodeSelector to {ours} in the values, or the chart may place TMM elsewhere",
              subject="tmm.nodeSelector")
        return f
    theirs = {str(k): "" if v is None else str(v) for k, v in dict(sel).items()} if isinstance(sel, Mapping) else None
    if theirs == ours:
        f.add("TMM placement", "pass", f"tmm.nodeSelector {theirs} is the params' tmm.node_selector",
              subject="tmm.nodeSelector")
    else:
        f.add("TMM placement", "fail", f"the chart schedules TMM by tmm.nodeSelector {theirs}, but the masters and "
              f"hugepages were checked on nodes matching {ours}: TMM could land where the NICs were never checked",
              "make tmm.node_selector in the params equal the values' tmm.nodeSelector", subject="tmm.nodeSelector")
    return f


def check_resources(resources: Mapping[str, Any]) -> Findings:
    """Guaranteed-QoS rules for ``tmm.resources``: whole CPUs, Mi/Gi, requests == limits."""
    f = Findings("TMM resources")
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    if not limits:
        f.add("resources set", "fail", "tmm.resources.limits is empty", "set cpu, memory and hugepages limits", subject="tmm.resources")
        return f
    cpu = limits.get("cpu")
    if cpu is None or not _is_cpu_whole(cpu):
        f.add("whole CPUs", "fail", f"cpu: {_show(cpu)}", "use a whole number of CPUs (1, 2 ...), no millicores", subject="tmm.resources.limits.cpu")
    else:
        f.add("whole CPUs", "pass", f"cpu: {cpu}", subject="tmm.resources.limits.cpu")
    for key, value in limits.items():
        if key == "memory" or str(key).startswith("hugepages-"):
            if _quantity_units_ok(value if isinstance(value, str) else str(value)) and isinstance(value, str):
                f.add("Mi/Gi units", "pass", f"{key}: {value}", subject=f"tmm.resources.limits.{key}")
            else:
                f.add("Mi/Gi units", "fail", f"{key}: {_show(value)}", "write memory and hugepages with Mi or Gi, e.g. 2Gi", subject=f"tmm.resources.limits.{key}")
    diff = [k for k in set(limits) | set(requests) if k in requests and not (_same_quantity(limits.get(k), requests[k]) or str(limits.get(k)) == str(requests[k]))]
    if diff:
        f.add("requests == limits", "fail", "; ".join(f"{k}: requests {requests[k]} != limits {_show(limits.get(k))}" for k in sorted(diff)),
              "make requests equal to limits, or leave requests out", subject="tmm.resources")
    else:
        f.add("requests == limits", "pass", "Guaranteed QoS", subject="tmm.resources")
    return f
