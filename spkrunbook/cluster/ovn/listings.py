"""``ovn-nbctl`` listings as tables: ``lr-route-list`` and ``lr-policy-list`` (pure text -> DataFrame).

The same text comes from an NB database a must-gather collected (``nbdb``) or from
``ovn-nbctl`` run in an OVN pod of a live cluster (``routes``); one parser reads both.
"""

from __future__ import annotations

import ipaddress
import re

import pandas as pd

from ...errors import ParseError
from ..listings import frame as _frame
from ..listings import text as _text

__all__ = ["POLICY_COLUMNS", "ROUTE_COLUMNS", "ROUTE_FLAGS", "parse_lr_policy_list", "parse_lr_route_list"]

ROUTE_COLUMNS = ["family", "route_table", "prefix", "nexthop", "policy", "port", "flags", "ecmp",
                 "ecmp_symmetric_reply", "bfd"]
POLICY_COLUMNS = ["priority", "match", "action", "nexthops", "options"]
ROUTE_FLAGS = ("ecmp", "ecmp-symmetric-reply", "bfd")
_POLICIES = ("dst-ip", "src-ip")


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
