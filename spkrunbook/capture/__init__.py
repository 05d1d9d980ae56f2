"""Packet capture engine: tcpdump text, pcap and pcapng into one pandas schema, statistics and plots.

The names below are the engine's API: read a capture into the schema
(:mod:`spkrunbook.capture.schema`) with :func:`read_capture` (any format),
:func:`read_pcap` or :func:`read_tcpdump_text`; decode bytes as they arrive with
:class:`PcapStreamReader`; or analyse a file of any size in one bounded-memory
pass with :func:`analyze_capture` (a :class:`CaptureStats`).  The tables and
pictures are in the submodules: ``stats`` (conversations, endpoints, I/O,
protocol hierarchy, flags, resets, summary), ``expert`` (tshark's TCP expert
analysis), ``flows`` and ``plots`` (figures; they import matplotlib, so this
package does not import them for you).
"""

from __future__ import annotations

import os

import pandas as pd

from spkrunbook.errors import CaptureError

from .limits import MAX_PACKETS, STREAMING_BYTES, CaptureLimitWarning, open_regular
from .pcap import CaptureTruncatedWarning, PcapStreamReader, read_pcap, read_pcap_stream
from .schema import COLUMNS, PROTOCOLS
from .streaming import CaptureStats, analyze_capture
from .text import read_tcpdump_text

__all__ = [
    "COLUMNS",
    "MAX_PACKETS",
    "PROTOCOLS",
    "STREAMING_BYTES",
    "CaptureError",
    "CaptureLimitWarning",
    "CaptureStats",
    "CaptureTruncatedWarning",
    "PcapStreamReader",
    "analyze_capture",
    "read_capture",
    "read_pcap",
    "read_pcap_stream",
    "read_tcpdump_text",
    "sniff_format",
]


def sniff_format(head: bytes) -> str:
    """``"pcap"``, ``"pcapng"`` or ``"text"`` from the first bytes of a file."""
    from .pcap import PCAP_MAGICS, PCAPNG_SHB

    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_SHB:
        return "pcapng"
    try:
        sample: str | None = head.decode("utf-8")
    except UnicodeDecodeError:
        sample = None
    if sample is not None and all(c.isprintable() or c in "\r\n\t" for c in sample[:2048].rstrip("\ufffd")):
        return "text"
    return "unknown"


def read_capture(path: str | os.PathLike[str], *, tz: str = "UTC", max_packets: int | None = MAX_PACKETS,
                 max_bytes: int | None = None) -> pd.DataFrame:
    """Read any capture the runbook meets -- pcap, pcapng or tcpdump text -- by sniffing it.

    Only regular files are read (a FIFO or a device is refused at once); memory
    is bounded as :mod:`spkrunbook.capture.limits` states; ``max_packets``
    (text: lines) and ``max_bytes`` (pcap/pcapng) stop the read early with a
    :class:`CaptureLimitWarning`.
    """
    p = os.fspath(path)
    with open_regular(p) as f:
        head = f.read(4096)
    kind = sniff_format(head)
    if kind in ("pcap", "pcapng"):
        return read_pcap(p, max_packets=max_packets, max_bytes=max_bytes)
    if kind == "text":
        df = read_tcpdump_text(p, tz=tz, max_lines=max_packets)
        if len(df) == 0 and df.attrs.get("unparsed_count"):
            raise CaptureError(f"{p} has no tcpdump packet lines ({df.attrs['unparsed_count']} lines not understood)",
                               hint="give a pcap/pcapng file or tcpdump's one-line output (tcpdump -nn -r FILE)")
        return df
    raise CaptureError(f"{p} is neither pcap, pcapng nor tcpdump text (starts with {head[:8].hex(' ')})",
                       hint="save captures with 'tcpdump -w FILE' or paste tcpdump's text output into a .txt file")
