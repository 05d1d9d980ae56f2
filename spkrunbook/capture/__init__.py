"""Packet capture engine: tcpdump text, pcap and pcapng into one pandas schema,
statistics and matplotlib plots.  See :mod:`spkrunbook.capture.schema`.
"""

from __future__ import annotations

import os
from typing import BinaryIO

import pandas as pd

from spkrunbook.errors import CaptureError

from .pcap import CaptureTruncatedWarning, PcapStreamReader, read_pcap, read_pcap_stream
from .schema import COLUMNS, PROTOCOLS
from .text import read_tcpdump_text

__all__ = [
    "COLUMNS", "PROTOCOLS", "CaptureError", "CaptureTruncatedWarning", "PcapStreamReader",
    "read_capture", "read_pcap", "read_pcap_stream", "read_tcpdump_text",
]


def sniff_format(head: bytes) -> str:
    """``"pcap"``, ``"pcapng"`` or ``"text"`` from the first bytes of a file."""
    from .pcap import PCAP_MAGICS, PCAPNG_SHB

    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_SHB:
        return "pcapng"
    try:
        sample = head.decode("utf-8")
    except UnicodeDecodeError:
        sample = head[:-4].decode("utf-8", "strict") if False else None
    if sample is not None and all(c.isprintable() or c in "\r\n\t" for c in sample[:2048].rstrip("\ufffd")):
        return "text"
    return "unknown"


def read_capture(path: str | os.PathLike[str], *, tz: str = "UTC") -> pd.DataFrame:
    """Read any capture the runbook meets -- pcap, pcapng or tcpdump text -- by sniffing it."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise CaptureError(f"cannot open capture {p}: {exc.strerror}", hint="check the path") from exc
    kind = sniff_format(head)
    if kind in ("pcap", "pcapng"):
        return read_pcap(p)
    if kind == "text":
        df = read_tcpdump_text(p, tz=tz)
        if len(df) == 0 and df.attrs.get("unparsed_count"):
            raise CaptureError(f"{p} has no tcpdump packet lines ({df.attrs['unparsed_count']} lines not understood)",
                               hint="give a pcap/pcapng file or tcpdump's one-line output (tcpdump -nn -r FILE)")
        return df
    raise CaptureError(f"{p} is neither pcap, pcapng nor tcpdump text (starts with {head[:8].hex(' ')})",
                       hint="save captures with 'tcpdump -w FILE' or paste tcpdump's text output into a .txt file")
