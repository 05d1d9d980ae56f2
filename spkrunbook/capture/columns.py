"""Column helpers shared by the capture modules: schema columns as numpy arrays, text tokens as column values.

Why one module: the statistics, the expert analysis, the pictures and both text
engines read the same columns the same way (times on one axis, addresses as
codes into one list, protocol masks on category codes, service names to port
numbers).  Each rule lives here once, so the modules that use them import this
one and never each other's private helpers.
"""

from __future__ import annotations

import socket
from functools import lru_cache

import numpy as np
import pandas as pd

from . import schema

__all__ = ["NS_DAY", "addr_codes", "bytes_column", "dated", "flag_bits", "group_ids", "int_column", "port_number", "proto_mask",
           "time_index", "time_ns", "tod_ns"]

NS_DAY = 86_400_000_000_000


# ----------------------------------------------------------------------------- schema frames -> numpy
def bytes_column(df: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Bytes per packet as int64, and which column they came from (``wire_len``; text without ``-e``: ``payload_len``)."""
    w = df["wire_len"]
    if len(w) and w.notna().all():
        return w.to_numpy(np.int64), "wire_len"
    if w.notna().any():
        return w.fillna(df["payload_len"]).fillna(0).to_numpy(np.int64), "wire_len, else payload_len"
    return df["payload_len"].fillna(0).to_numpy(np.int64), "payload_len"


def dated(df: pd.DataFrame) -> bool:
    """Whether every packet has a date (pcap, dated text); else times are times of day."""
    return bool(len(df)) and bool(df["timestamp"].notna().all())


def time_ns(df: pd.DataFrame) -> np.ndarray:
    """Nanoseconds on one axis: epoch if dated, else time of day (text without date)."""
    if dated(df):
        return df["timestamp"].dt.tz_localize(None).to_numpy().astype("M8[ns]").view("i8")
    return df["time_of_day"].to_numpy().astype("m8[ns]").view("i8")


def time_index(ns: np.ndarray, is_dated: bool) -> pd.Index:
    """Nanoseconds from :func:`time_ns` back to times: UTC timestamps if dated, else times of day."""
    if is_dated:
        return pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC")
    return pd.TimedeltaIndex(ns.view("m8[ns]"))


def addr_codes(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """src/dst as codes into one shared list of address strings (-1: no address)."""
    s, d = df["src"], df["dst"]
    if isinstance(s.dtype, pd.CategoricalDtype) and isinstance(d.dtype, pd.CategoricalDtype) and s.cat.categories.equals(d.cat.categories):
        return np.asarray(s.cat.codes, np.int64), np.asarray(d.cat.codes, np.int64), np.asarray(s.cat.categories, dtype=object)
    codes, uniq = pd.factorize(pd.concat([s.astype(object), d.astype(object)], ignore_index=True))
    return codes[: len(s)].astype(np.int64), codes[len(s):].astype(np.int64), np.asarray(uniq, dtype=object)


def int_column(df: pd.DataFrame, col: str, na: int = 0) -> np.ndarray:
    """A column as int64 with NA replaced (no intermediate fillna copy)."""
    return df[col].to_numpy(np.int64, na_value=na)


def proto_mask(df: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    """``df["protocol"].isin(names)`` on the category codes (no per-row string compares)."""
    p = df["protocol"]
    if isinstance(p.dtype, pd.CategoricalDtype):
        cats = p.cat.categories
        want = [int(i) for i in cats.get_indexer(pd.Index(list(names))) if i >= 0]
        codes = np.asarray(p.cat.codes)
        if len(want) == 1:
            return codes == want[0]
        return np.isin(codes, want)
    return p.isin(names).to_numpy()


def group_ids(keys: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Dense group ids (first-appearance order, like ``groupby(sort=False)``) of non-negative int64 key columns."""
    comb = keys[0]
    for k in keys[1:]:
        span = int(k.max()) + 1 if len(k) else 1
        top = int(comb.max()) + 1 if len(comb) else 1
        if top > (2**62) // span:  # would overflow: densify what we have first
            comb = pd.factorize(comb)[0].astype(np.int64)
            top = int(comb.max()) + 1 if len(comb) else 1
            if top > (2**62) // span:
                k = pd.factorize(k)[0].astype(np.int64)
                span = int(k.max()) + 1 if len(k) else 1
        comb = comb * span + k
    ids, uniq = pd.factorize(comb)
    return ids.astype(np.int64, copy=False), len(uniq)


# ----------------------------------------------------------------------------- tcpdump text tokens -> values
_WELL_KNOWN = {"http": 80, "https": 443, "domain": 53, "ssh": 22, "http-alt": 8080, "ntp": 123, "bootps": 67,
               "bootpc": 68, "snmp": 161, "bgp": 179, "ldap": 389, "kerberos": 88, "mdns": 5353, "sunrpc": 111,
               "commplex-main": 5000, "commplex-link": 5001, "webcache": 8080, "rtsp": 554, "netbios-ns": 137,
               "login": 513, "who": 513, "isakmp": 500, "syslog": 514, "openflow": 6653, "geneve": 6081,
               "vxlan": 4789, "10250": 10250}


@lru_cache(maxsize=4096)
def port_number(name: str) -> int | None:
    """A port as tcpdump printed it (``443`` or a service name such as ``https``) as its number; None if unknown."""
    if name.isdigit():
        v = int(name)
        return v if v < 65536 else None
    if name in _WELL_KNOWN:
        return _WELL_KNOWN[name]
    for proto in ("tcp", "udp"):
        try:
            return socket.getservbyname(name, proto)
        except OSError:
            continue
    return None


_FLAG_CHAR_BITS = {"F": 1, "S": 2, "R": 4, "P": 8, ".": 16, "U": 32, "E": 64, "W": 128}


def flag_bits(s: str) -> int:
    """TCP flag bits from tcpdump's printed set (``S.`` -> 18); every flag letter ORed, others ignored."""
    if s in schema.FLAG_BITS:
        return schema.FLAG_BITS[s]
    return sum(_FLAG_CHAR_BITS.get(c, 0) for c in set(s))


def tod_ns(tod: pd.Series) -> np.ndarray:
    """``hh:mm:ss[.frac]`` strings (NA: midnight) as nanoseconds since midnight."""
    s = tod.fillna("00:00:00")
    hh = s.str.slice(0, 2).astype(np.int64).to_numpy()
    mm = s.str.slice(3, 5).astype(np.int64).to_numpy()
    ss = s.str.slice(6, 8).astype(np.int64).to_numpy()
    frac = s.str.slice(9).str.ljust(9, "0").str.slice(0, 9).replace("000000000", "0")
    fr = pd.to_numeric(frac, errors="coerce").fillna(0).astype(np.int64).to_numpy()
    return ((hh * 60 + mm) * 60 + ss) * 1_000_000_000 + fr
