"""Parsers for what the debugging step reads: pure functions from text to DataFrames.

Each parser takes the text a command printed and returns a ``pandas.DataFrame``
with fixed columns (so an empty result still has its columns). Lines a parser
cannot read are not silently dropped: they are listed in ``df.attrs["skipped"]``
as ``(line_number, line)``. Input that is not the command's output at all (no
header, not JSON) raises ``ParseError`` saying what was expected.

===============================  ==============================================
``parse_network_status``         ``k8s.v1.cni.cncf.io/network-status`` (Multus)
``parse_tmctl``                  any ``tmctl`` table (header, dashed rule, rows)
===============================  ==============================================

``ip -br link`` / ``ip -br addr`` are parsed in ``cluster.tmm`` (the install's
verification reads them too); ``ovn-nbctl`` listings in ``cluster.ovn.listings``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

from ...cluster.listings import frame as _frame
from ...cluster.listings import text as _text
from ...errors import ParseError

__all__ = ["NETWORK_STATUS_COLUMNS", "ParseError", "parse_network_status", "parse_tmctl"]

NETWORK_STATUS_COLUMNS = ["network", "interface", "mac", "ips", "default", "gateway"]


# -- Multus network-status ------------------------------------------------------------------------------
def parse_network_status(annotation: str | bytes | list | None) -> pd.DataFrame:
    """The pod's network-status annotation: one row per attachment.

    Columns: network (``ovn-kubernetes`` or ``<ns>/<nad>``), interface, mac, ips
    (list; empty for macvlan without IPAM), default (bool), gateway (list).
    """
    if annotation is None or (isinstance(annotation, (str, bytes)) and not _text(annotation).strip()):
        return _frame([], NETWORK_STATUS_COLUMNS, [])
    if isinstance(annotation, list):
        data: Any = annotation
    else:
        try:
            data = json.loads(_text(annotation))
        except json.JSONDecodeError as exc:
            raise ParseError(f"the network-status annotation is not JSON ({exc.msg} at character {exc.pos})",
                             hint="read it with `oc get pod <p> -o jsonpath='{.metadata.annotations.k8s\\.v1\\.cni\\.cncf\\.io/network-status}'`") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ParseError("the network-status annotation must be a JSON list of attachments")
    rows, skipped = [], []
    for n, entry in enumerate(data):
        if not isinstance(entry, dict) or not entry.get("name"):
            skipped.append((n, json.dumps(entry)[:200]))
            continue
        ips = entry.get("ips") or []
        gw = entry.get("gateway") or []
        rows.append({
            "network": str(entry["name"]),
            "interface": str(entry.get("interface") or ""),
            "mac": str(entry.get("mac") or "").lower(),
            "ips": [str(i) for i in (ips if isinstance(ips, list) else [ips])],
            "default": bool(entry.get("default", False)),
            "gateway": [str(g) for g in (gw if isinstance(gw, list) else [gw])],
        })
    return _frame(rows, NETWORK_STATUS_COLUMNS, skipped)


# -- tmctl ---------------------------------------------------------------------------------------------------
_RULE = re.compile(r"^\s*-+(\s+-+)*\s*$")


def parse_tmctl(text: str | bytes) -> pd.DataFrame:
    """A ``tmctl`` table: header row, a rule of dashes under each column, fixed-width rows.

    Column boundaries are the starts of the dash runs (the header's words are checked
    against them). A value wider than its column (it runs into the next one) makes the
    row fall back to whitespace splitting when that gives the right number of fields;
    otherwise the row is skipped. Cells are stripped strings; empty cells are "".
    """
    lines = _text(text).splitlines()
    rule_at = next((i for i, line in enumerate(lines) if _RULE.match(line) and line.strip()), None)
    if rule_at is None or rule_at == 0 or not lines[rule_at - 1].strip():
        raise ParseError("no tmctl table found (expected a header row followed by a rule of dashes)",
                         hint="check the table name, e.g. `tmctl -d blade tmm/xnet/device_probed`; "
                              "an error from tmctl is printed instead of a table")
    header, rule = lines[rule_at - 1], lines[rule_at]
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]
    starts = [s for s, _ in spans]
    names = []
    for i, (s, _e) in enumerate(spans):
        end = starts[i + 1] if i + 1 < len(starts) else None
        names.append(header[s:end].strip() or f"column{i + 1}")
    if len(set(names)) != len(names):  # duplicate header words: keep them apart
        names = [f"{n}_{i}" if names.count(n) > 1 else n for i, n in enumerate(names)]
    rows, skipped = [], []
    for n, line in enumerate(lines[rule_at + 1:], start=rule_at + 2):
        if not line.strip():
            continue
        cells = _fixed_cells(line, starts)
        if cells is None:
            tokens = line.split()
            if len(tokens) == len(names):
                cells = tokens
            else:
                skipped.append((n, line))
                continue
        rows.append(dict(zip(names, cells)))
    return _frame(rows, names, skipped)


def _fixed_cells(line: str, starts: list[int]) -> list[str] | None:
    cells = []
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else len(line)
        if 0 < s < len(line) and line[s - 1] != " " and line[s] != " ":
            return None  # the previous value runs into this column
        cells.append(line[s:e].strip() if s < len(line) else "")
    return cells
