"""The capture engine's public names: what ``spkrunbook.capture`` exports, sorted, each real and documented."""

from __future__ import annotations

import inspect

import spkrunbook.capture as capture

EXPORTED = {
    "COLUMNS", "MAX_PACKETS", "PROTOCOLS", "STREAMING_BYTES", "CaptureError", "CaptureLimitWarning", "CaptureStats",
    "CaptureTruncatedWarning", "PcapStreamReader", "analyze_capture", "read_capture", "read_pcap", "read_pcap_stream",
    "read_tcpdump_text", "sniff_format",
}


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_exported_names_are_the_api_in_order() -> None:
    assert set(capture.__all__) == EXPORTED and len(capture.__all__) == len(EXPORTED)
    assert capture.__all__ == sorted(capture.__all__, key=_isort_key)


def test_every_exported_name_is_there_and_documented() -> None:
    for name in capture.__all__:
        obj = getattr(capture, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), name
            assert obj.__module__.startswith("spkrunbook."), name


def test_star_import_gives_exactly_the_api() -> None:
    ns: dict[str, object] = {}
    exec("from spkrunbook.capture import *", ns)
    assert set(ns) - {"__builtins__"} == EXPORTED
