"""The one DataFrame schema every capture source is read into.

Why one schema: the statistics, plots, CLI and the debugging notebook work on any
capture -- a pcap pulled from a pod, a pcapng from Wireshark, or tcpdump lines a
user pasted -- without caring where the rows came from.  What a source cannot
know is missing (``<NA>`` / ``NaT``), never invented.

Columns (in this order)
-----------------------

============ =========================== ===========================================
column       dtype                       meaning
============ =========================== ===========================================
frame        UInt32                      1-based packet number in the source (text:
                                         the line number the packet was printed on)
timestamp    datetime64[ns, UTC]         capture time; ns precision kept.  NaT for
                                         text printed without a date (default or
                                         ``-t``/``-ttt``/``-ttttt`` formats)
time_of_day  timedelta64[ns]             time since midnight (UTC for pcap; as
                                         printed for text) -- the only clock a
                                         plain ``hh:mm:ss.frac`` line has
interface    category                    pcapng if_name (or ``"if<id>"``), text
                                         ``-i any`` interface name; NA otherwise
ifindex      Int32                       pcapng interface id, or the Linux ifindex
                                         of a cooked-v2 (SLL2) header
direction    category In/Out/B/M/P       Linux cooked packet type (tcpdump letters)
vlan         Int16                       outermost 802.1Q/802.1ad VLAN id
vlan_inner   Int16                       second tag (QinQ)
src, dst     category (str)              IPv4/IPv6 address text (ARP: sender and
                                         target protocol address); text input keeps
                                         host names as printed (``worker1``)
sport, dport UInt16                      TCP/UDP ports (text: service names such as
                                         ``https`` are mapped to numbers; NA if the
                                         name is unknown)
protocol     category                    TCP, UDP, ICMP, ICMPv6, ARP, LLDP, other
ip_version   UInt8                       4 or 6
ip_proto     UInt8                       IP protocol / IPv6 upper-layer next header
wire_len     UInt32                      frame length on the wire (pcap orig_len;
                                         text only with ``-e``)
cap_len      UInt32                      bytes captured (pcap only)
payload_len  UInt32                      what tcpdump prints as the last ``length``:
                                         TCP/UDP payload, ICMP message, ARP length;
                                         from IP header lengths so snaplen does not
                                         shrink it
tcp_flags    category                    tcpdump notation: ``S``, ``S.``, ``P.``,
                                         ``F.``, ``R``, ``R.``, ``.``, ``none`` ...
tcp_flagbits UInt8                       FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32
                                         ECE=64 CWR=128
seq          UInt32                      TCP sequence number (pcap: raw; text: as
                                         printed, i.e. relative unless ``-S``)
ack          UInt32                      TCP ack number, only when ACK is set
window       UInt16                      TCP window field (unscaled)
icmp_type    UInt8                       ICMP / ICMPv6 type (pcap only)
icmp_code    UInt8                       ICMP / ICMPv6 code (pcap only)
tcp_wscale   UInt8                       window-scale shift of a SYN's TCP option
                                         (RFC 7323); NA without the option or not a
                                         SYN.  The expert analysis needs it for
                                         tshark's "window full"
link         category                    the layers below IP as tshark's protocol
                                         hierarchy names them: ``eth``, ``sll``,
                                         ``raw``, ``null``, ``loop``, each maybe
                                         followed by its VLAN tags (``eth:vlan``,
                                         ``eth:ieee8021ad:vlan``)
============ =========================== ===========================================

Which source fills what (``y`` filled, ``-`` always NA, ``o`` when the capture
has it):

============ ====== ====== ===== ====== =====================================
column       pcap   pcapng SLL2  SLL1   tcpdump text
============ ====== ====== ===== ====== =====================================
timestamp    y      y      y     y      with ``-tt``/``-tttt`` only
time_of_day  y      y      y     y      with any absolute time format
interface    -      y      -     -      ``-i any`` lines
ifindex      -      y      y     -      ``-i any -e`` lines (``ifindex N``)
direction    -      -      y     y      ``-i any`` lines
vlan(_inner) o      o      -     -      ``-e`` lines
wire_len     y      y      y     y      ``-e`` lines (``length N:``)
cap_len      y      y      y     y      -
payload_len  y      y      y     y      y (last ``length N``)
src...window y      y      y     y      y (seq/ack relative unless ``-S``)
icmp_*       y      y      y     y      -
tcp_wscale   y      y      y     y      - (column absent)
link         y      y      y     y      - (column absent)
============ ====== ====== ===== ====== =====================================

Text timestamps are taken as printed; tcpdump prints local time, so pass
``tz=`` to :func:`spkrunbook.capture.read_tcpdump_text` when the capturing host
was not on UTC.

Extra information travels in ``df.attrs``: ``source`` (path or ``"<stream>"``),
``format`` (``pcap``/``pcapng``/``text``), ``linktypes``, ``truncated_at`` (byte
offset where a cut-off file stopped) and, for text, ``unparsed`` -- a list of
``(lineno, line)`` for every line that is not a packet line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

PROTOCOLS: tuple[str, ...] = ("TCP", "UDP", "ICMP", "ICMPv6", "ARP", "LLDP", "other")
DIRECTIONS: tuple[str, ...] = ("In", "B", "M", "P", "Out")

# tcpdump's print-tcp.c order: F S R P . U E W
_FLAG_CHARS = ((1, "F"), (2, "S"), (4, "R"), (8, "P"), (16, "."), (32, "U"), (64, "E"), (128, "W"))


def flags_to_str(bits: int) -> str:
    """tcpdump's rendering of a TCP flag byte (``[S.]`` -> ``"S."``, 0 -> ``"none"``)."""
    s = "".join(c for b, c in _FLAG_CHARS if bits & b)
    return s or "none"


FLAG_STRINGS: tuple[str, ...] = tuple(flags_to_str(i) for i in range(256))

#: link layers (tshark's names) and the VLAN tags that may follow them: a ``link`` code is
#: ``layer * 7 + tags``, tags 0 for none, else ``1 + 3 * (outer - 1) + inner`` (tag 1 ``vlan``,
#: 2 ``ieee8021ad``; inner 0 for none)
LINK_LAYERS: tuple[str, ...] = ("eth", "sll", "raw", "null", "loop")
_TAGS = ("", "vlan", "ieee8021ad")
LINKS: tuple[str, ...] = tuple(
    ":".join([layer] + ([_TAGS[outer]] if outer else []) + ([_TAGS[inner]] if inner else []))
    for layer in LINK_LAYERS for outer, inner in [(0, 0)] + [(o, i) for o in (1, 2) for i in (0, 1, 2)]
)
FLAG_BITS: dict[str, int] = {s: i for i, s in enumerate(FLAG_STRINGS)}

COLUMNS: dict[str, Any] = {
    "frame": "UInt32",
    "timestamp": "datetime64[ns, UTC]",
    "time_of_day": "timedelta64[ns]",
    "interface": "category",
    "ifindex": "Int32",
    "direction": pd.CategoricalDtype(list(DIRECTIONS)),
    "vlan": "Int16",
    "vlan_inner": "Int16",
    "src": "category",
    "dst": "category",
    "sport": "UInt16",
    "dport": "UInt16",
    "protocol": pd.CategoricalDtype(list(PROTOCOLS)),
    "ip_version": "UInt8",
    "ip_proto": "UInt8",
    "wire_len": "UInt32",
    "cap_len": "UInt32",
    "payload_len": "UInt32",
    "tcp_flags": pd.CategoricalDtype(list(FLAG_STRINGS)),
    "tcp_flagbits": "UInt8",
    "seq": "UInt32",
    "ack": "UInt32",
    "window": "UInt16",
    "icmp_type": "UInt8",
    "icmp_code": "UInt8",
    "tcp_wscale": "UInt8",
    "link": pd.CategoricalDtype(list(LINKS)),
}


def numpy_dtype(dtype: str) -> np.dtype[Any]:
    """The numpy dtype behind a pandas nullable integer dtype name (``"UInt16"`` -> ``uint16``)."""
    dt: Any = pd.api.types.pandas_dtype(dtype)
    return np.dtype(dt.numpy_dtype)


def masked(values: np.ndarray, valid: np.ndarray | None, dtype: str) -> pd.api.extensions.ExtensionArray:
    """A nullable integer array from numpy values + a validity mask, without copies."""
    np_dtype = numpy_dtype(dtype)
    values = np.asarray(values).astype(np_dtype, copy=False)
    mask = np.zeros(len(values), dtype=bool) if valid is None else ~np.asarray(valid, dtype=bool)
    if dtype.startswith("U"):
        return pd.arrays.IntegerArray(values, mask)
    return pd.arrays.IntegerArray(values, mask)


def empty_frame() -> pd.DataFrame:
    """A zero-row DataFrame with the full schema (so callers never special-case)."""
    empty: list[Any] = []
    return pd.DataFrame({c: pd.Series(empty, dtype=d) for c, d in COLUMNS.items()})


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Add missing schema columns as all-NA and put columns in schema order."""
    n = len(df)
    for c, d in COLUMNS.items():
        if c not in df.columns:
            values: Any = pd.array([None] * n, dtype=d) if n else []
            df[c] = pd.Series(values, dtype=d, index=df.index)
    return df[list(COLUMNS) + [c for c in df.columns if c not in COLUMNS]]
