"""What a TMM pod shows of itself in its ``debug`` container: links and addresses (``ip -br``).

The install's verification and the debugging step both ask which interfaces TMM
holds (the VLANs the controller configured appear as kernel interfaces named after
them, holding their self IPs); the parsers of ``ip -br link`` and ``ip -br addr``
live here so both read them the same way.
"""

from __future__ import annotations

import ipaddress
import re

import pandas as pd

from .listings import frame as _frame
from .listings import text as _text

__all__ = ["ADDR_COLUMNS", "LINK_COLUMNS", "parse_ip_br_addr", "parse_ip_br_link"]

LINK_COLUMNS = ["interface", "peer", "state", "mac", "flags", "up"]
ADDR_COLUMNS = ["interface", "peer", "state", "ipv4", "ipv6", "addresses"]


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


