"""Parsers for what the debugging step reads: pure functions from text to DataFrames.

Each parser takes the text a command printed and returns a ``pandas.DataFrame``
with fixed columns (so an empty result still has its columns). Lines a parser
cannot read are not silently dropped: they are listed in ``df.attrs["skipped"]``
as ``(line_number, line)``. Input that is not the command's output at all (no
header, not JSON) raises ``ParseError`` saying what was expected.

===============================  ==============================================
``parse_network_status``         ``k8s.v1.cni.cncf.io/network-status`` (Multus)
``parse_tmctl``                  any ``tmctl`` table (header, dashed rule, rows)
``parse_ip_br_link``             ``ip -br link``
``parse_ip_br_addr``             ``ip -br addr``
``parse_lr_route_list``          ``ovn-nbctl lr-route-list <router>``
``parse_lr_policy_list``         ``ovn-nbctl lr-policy-list <router>``
===============================  ==============================================
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import pandas as pd

from ...errors import ParseError

NETWORK_STATUS_COLUMNS = ["network", "interface", "mac", "ips", "default", "gateway"]
LINK_COLUMNS = ["interface", "peer", "state", "mac", "flags", "up"]
ADDR_COLUMNS = ["interface", "peer", "state", "ipv4", "ipv6", "addresses"]
ROUTE_COLUMNS = ["family", "route_table", "prefix", "nexthop", "policy", "port", "flags", "ecmp",
                 "ecmp_symmetric_reply", "bfd"]
POLICY_COLUMNS = ["priority", "match", "action", "nexthops", "options"]
ROUTE_FLAGS = ("ecmp", "ecmp-symmetric-reply", "bfd")
_POLICIES = ("dst-ip", "src-ip")
_ACTIONS = ("allow", "drop", "reroute")


def _frame(rows: list[dict[str, Any]], columns: list[str], skipped: list[tuple[int, str]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    df.attrs["skipped"] = skipped
    return df


def _text(data: str | bytes) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else str(data)


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


# -- ip -br --------------------------------------------------------------------------------------------------
_STATES = {"UP", "DOWN", "UNKNOWN", "LOWERLAYERDOWN", "DORMANT", "NOTPRESENT", "TESTING"}
_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})+$")


def _split_ifname(token: str) -> tuple[str, str]:
    name, _, peer = token.partition("@")
    return name, peer


def parse_ip_br_link(text: str | bytes) -> pd.DataFrame:
    """``ip -br link``: interface, peer (``if23`` of ``eth0@if23``), state, mac, flags, up.

    ``up`` is True when the operational state is UP, or UNKNOWN with ``UP`` and
    ``LOWER_UP`` in the flags (loopback, tun/tap devices report UNKNOWN).
    """
    rows, skipped = [], []
    for n, line in enumerate(_text(text).splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) < 3 or tokens[1] not in _STATES:
            skipped.append((n, line))
            continue
        name, peer = _split_ifname(tokens[0])
        rest = tokens[2:]
        mac = rest.pop(0) if rest and _MAC.match(rest[0]) else ""
        flags_tok = next((t for t in rest if t.startswith("<") and t.endswith(">")), None)
        if flags_tok is None:
            skipped.append((n, line))
            continue
        flags = [f for f in flags_tok.strip("<>").split(",") if f]
        state = tokens[1]
        up = state == "UP" or (state == "UNKNOWN" and "UP" in flags and "LOWER_UP" in flags)
        rows.append({"interface": name, "peer": peer, "state": state, "mac": mac.lower(), "flags": flags, "up": up})
    return _frame(rows, LINK_COLUMNS, skipped)


def parse_ip_br_addr(text: str | bytes) -> pd.DataFrame:
    """``ip -br addr``: interface, peer, state, ipv4 / ipv6 (CIDR lists), addresses (all, in order)."""
    rows, skipped = [], []
    for n, line in enumerate(_text(text).splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) < 2 or tokens[1] not in _STATES:
            skipped.append((n, line))
            continue
        name, peer = _split_ifname(tokens[0])
        v4: list[str] = []
        v6: list[str] = []
        bad = False
        for tok in tokens[2:]:
            try:
                iface = ipaddress.ip_interface(tok)
            except ValueError:
                bad = True
                break
            (v4 if iface.version == 4 else v6).append(tok)
        if bad:
            skipped.append((n, line))
            continue
        rows.append({"interface": name, "peer": peer, "state": tokens[1], "ipv4": v4, "ipv6": v6,
                     "addresses": tokens[2:]})
    return _frame(rows, ADDR_COLUMNS, skipped)


# -- OVN northbound ------------------------------------------------------------------------------------------
_ROUTE_TABLE = re.compile(r"^\s*Route Table\s*<?([^>:]*)>?\s*:\s*$")
_FAMILY = re.compile(r"^\s*IPv([46]) Routes\s*$")


def _is_addr(token: str) -> bool:
    try:
        ipaddress.ip_address(token)
        return True
    except ValueError:
        return False


def _is_prefix(token: str) -> bool:
    try:
        ipaddress.ip_network(token, strict=False)
        return True
    except ValueError:
        return False


def parse_lr_route_list(text: str | bytes) -> pd.DataFrame:
    """``ovn-nbctl lr-route-list <router>``: one row per static route.

    Handles the ``IPv4 Routes`` / ``IPv6 Routes`` sections, ``Route Table <name>:``
    lines (OVN 22.03+; older releases have none: table ``main``), an optional output
    port, and the flags ``ecmp``, ``ecmp-symmetric-reply`` and ``bfd`` (plus any
    other trailing word, kept in ``flags``). ``nexthop`` may be ``discard``.
    """
    rows, skipped = [], []
    family, table = "", "main"
    for n, line in enumerate(_text(text).splitlines(), start=1):
        if not line.strip():
            continue
        m = _FAMILY.match(line)
        if m:
            family, table = f"IPv{m.group(1)}", "main"
            continue
        m = _ROUTE_TABLE.match(line)
        if m:
            table = m.group(1).strip() or "main"
            continue
        tokens = line.split()
        if len(tokens) < 3 or not _is_prefix(tokens[0]) or not (_is_addr(tokens[1]) or tokens[1] == "discard") \
                or tokens[2] not in _POLICIES:
            skipped.append((n, line))
            continue
        rest = tokens[3:]
        port = rest.pop(0) if rest and rest[0] not in ROUTE_FLAGS and not rest[0].startswith("(") else ""
        flags = [t.strip("()") for t in rest]
        fam = family or ("IPv6" if ":" in tokens[0] else "IPv4")
        rows.append({
            "family": fam, "route_table": table, "prefix": tokens[0], "nexthop": tokens[1], "policy": tokens[2],
            "port": port, "flags": flags, "ecmp": "ecmp" in flags or "ecmp-symmetric-reply" in flags,
            "ecmp_symmetric_reply": "ecmp-symmetric-reply" in flags, "bfd": "bfd" in flags,
        })
    if not rows and skipped and not any(_FAMILY.match(line) for line in _text(text).splitlines()):
        raise ParseError("this is not `ovn-nbctl lr-route-list` output (no route lines, no 'IPv4 Routes' header)",
                         hint="an error from ovn-nbctl is printed instead: check the router name with `ovn-nbctl lr-list`")
    return _frame(rows, ROUTE_COLUMNS, skipped)


_POLICY_LINE = re.compile(r"^\s*(\d+)\s+(.*\S)\s+(allow|drop|reroute)(?:\s+(\S.*?))?\s*$")


def parse_lr_policy_list(text: str | bytes) -> pd.DataFrame:
    """``ovn-nbctl lr-policy-list <router>``: priority (int), match, action, nexthops (list), options.

    The match may hold spaces and quotes; the action is the last ``allow``/``drop``/
    ``reroute`` word; what follows is the next hop list (reroute) or options such as
    ``pkt_mark=1008``.
    """
    rows, skipped = [], []
    for n, line in enumerate(_text(text).splitlines(), start=1):
        if not line.strip() or line.strip() == "Routing Policies":
            continue
        m = _POLICY_LINE.match(line)
        if not m:
            skipped.append((n, line))
            continue
        tail = (m.group(4) or "").strip()
        nexthops, options = [], []
        for tok in re.split(r"[\s,]+", tail) if tail else []:
            if _is_addr(tok):
                nexthops.append(tok)
            elif tok:
                options.append(tok)
        rows.append({"priority": int(m.group(1)), "match": m.group(2).strip(), "action": m.group(3),
                     "nexthops": nexthops, "options": " ".join(options)})
    if not rows and skipped:
        raise ParseError("this is not `ovn-nbctl lr-policy-list` output (no '<priority> <match> <action>' lines)",
                         hint="an error from ovn-nbctl is printed instead: check the router name with `ovn-nbctl lr-list`")
    return _frame(rows, POLICY_COLUMNS, skipped)
