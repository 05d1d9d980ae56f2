# Types of the optional C extension built from _account.c (see its docstring and streaming.py).
from typing import Any

import numpy as np

class Tally:
    def __init__(self) -> None: ...
    def add(self, n: int, ordinal0: int, t: np.ndarray, wire: np.ndarray, wire_ok: np.ndarray, payload: np.ndarray,
            payload_ok: np.ndarray, src: np.ndarray, dst: np.ndarray, sport: np.ndarray, dport: np.ndarray,
            proto: np.ndarray, flags: np.ndarray, tcp_ok: np.ndarray, iface: np.ndarray, pkttype: np.ndarray,
            pkttype_ok: np.ndarray, link: np.ndarray, ipv: np.ndarray, /) -> None: ...
    def tables(self) -> dict[str, Any]: ...

class Expert:
    def __init__(self, text: bool, relative: bool, has_wscale: bool, /) -> None: ...
    def add(self, n: int, src: np.ndarray, dst: np.ndarray, sport: np.ndarray, dport: np.ndarray, proto: np.ndarray,
            flags: np.ndarray, tcp_ok: np.ndarray, seq: np.ndarray, seq_ok: np.ndarray, ack: np.ndarray,
            ack_ok: np.ndarray, win: np.ndarray, win_ok: np.ndarray, payload: np.ndarray, payload_ok: np.ndarray,
            t: np.ndarray, wscale: np.ndarray | None, wscale_ok: np.ndarray | None, frame: np.ndarray,
            offset: np.ndarray | None, end: np.ndarray | None, /) -> tuple[bytes, bytes]: ...
    def streams(self) -> dict[str, Any]: ...
