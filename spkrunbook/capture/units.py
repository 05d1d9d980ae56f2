"""Numbers the way Wireshark shows them: byte counts, bit rates, packet counts and seconds as text.

Why here: the notebooks and records (``spkrunbook.display``) and the capture
command's terminal tables (:mod:`spkrunbook.capture.cli`) print the same numbers
the same way, and the capture engine may import nothing of the rest of the
package, so the rules live in the engine and the renderer borrows them.

Byte counts follow Wireshark's ``format_size`` (what ``tshark -z conv`` prints):
below ten thousand the count itself (``9,820 bytes``), else whole kB, MB, GB
(``233 kB``, ``1,534 kB``), SI prefixes, rounded down. Bit rates keep three
significant digits (``7.15 Mbit/s``). Thousands are separated with commas.
"""

from __future__ import annotations

import math

__all__ = ["bit_rate", "count", "percent", "seconds", "size"]

_POWERS = ((1000**4, "T"), (1000**3, "G"), (1000**2, "M"), (1000, "k"))


def size(n: int | float, unit: str = "B") -> str:
    """``9,820 bytes``, ``233 kB``, ``1,534 kB``, ``12 MB``: Wireshark's ``format_size`` with separators."""
    v = int(n)
    sign, v = ("-", -v) if v < 0 else ("", v)
    for power, prefix in _POWERS:
        if v // power >= 10:
            return f"{sign}{v // power:,} {prefix}{unit}"
    return f"{sign}{v:,} {'bytes' if unit == 'B' else unit}"


def _three(x: float) -> str:
    """Three significant digits, never an exponent (``7.15``, ``71.5``, ``715``)."""
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def bit_rate(bps: float) -> str:
    """``272 bit/s``, ``3.53 kbit/s``, ``7.15 Mbit/s`` (three significant digits, SI prefixes)."""
    x = float(bps)
    if math.isnan(x):
        return ""
    prefixes = ("", "k", "M", "G", "T")
    i = 0
    while i < len(prefixes) - 1 and abs(x) >= 1000:
        x /= 1000
        i += 1
    text = _three(abs(x))
    if float(text) >= 1000 and i < len(prefixes) - 1:  # 999.7 rounds to 1000: one prefix up
        x /= 1000
        i += 1
        text = _three(abs(x))
    return f"{'-' if x < 0 else ''}{text} {prefixes[i]}bit/s"


def count(n: int | float) -> str:
    """``3,581``: a count with thousands separated."""
    return f"{int(n):,}"


def seconds(s: float, places: int = 6) -> str:
    """``2.016038`` (Wireshark's relative times have 6 places, its durations 4)."""
    return f"{float(s):,.{places}f}"


def percent(fraction: float, places: int = 1) -> str:
    """``74.9%`` for 0.749."""
    return f"{float(fraction) * 100:.{places}f}%"
