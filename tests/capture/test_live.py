"""A fresh capture made here by the real tcpdump, read by our reader, checked
against tshark on that same file (slow: namespaces, tcpdump, tshark).

Two network namespaces joined by a veth pair (created and deleted by the test;
nothing outside them is touched): TCP with data and an abortive close, a refused
connection (RST), UDP, ICMP echo, IPv4 and IPv6.  Two tcpdumps run in one
namespace: ``-i vca`` (Ethernet) and ``-i any`` (Linux cooked).  Skips with a
reason without tcpdump, root or ``ip netns``; without tshark the cross-check skips.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from spkrunbook.capture import read_pcap, stats

pytestmark = pytest.mark.slow

TRAFFIC = r'''
import socket, sys, time
kind, host = sys.argv[1], sys.argv[2]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
if kind == "server":
    s = socket.socket(fam, socket.SOCK_STREAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 5201)); s.listen(4)
    u = socket.socket(fam, socket.SOCK_DGRAM); u.bind((host, 5353))
    print("ready", flush=True)
    for _ in range(2):
        c, _ = s.accept(); data = c.recv(65536); c.sendall(data[::-1] * 3); c.close()
    for _ in range(3):
        d, a = u.recvfrom(2048); u.sendto(d.upper(), a)
else:
    for i in range(2):
        c = socket.create_connection((host, 5201)); c.sendall(b"hello spk %d " % i * 200); time.sleep(0.05)
        got = c.recv(65536); c.close()
    try:
        socket.create_connection((host, 5999), timeout=2)
    except OSError:
        pass
    u = socket.socket(fam, socket.SOCK_DGRAM); u.settimeout(2)
    for i in range(3):
        u.sendto(b"dns-ish %d" % i, (host, 5353)); u.recvfrom(2048)
'''


def _skip_reason() -> str | None:
    """Probe the capability itself: traffic over a veth pair between two namespaces."""
    for tool, pkg in (("tcpdump", "tcpdump"), ("ip", "iproute2"), ("ping", "iputils-ping")):
        if shutil.which(tool) is None:
            return f"{tool!r} is not installed (scripts/bootstrap.sh test installs the Debian package {pkg})"
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    tag = uuid.uuid4().hex[:6]
    a, b = f"spkcap-pa-{tag}", f"spkcap-pb-{tag}"
    steps = [["ip", "netns", "add", a], ["ip", "netns", "add", b],
             ["ip", "link", "add", "vpa", "netns", a, "type", "veth", "peer", "name", "vpb", "netns", b],
             ["ip", "-n", a, "addr", "add", "10.201.9.1/30", "dev", "vpa"],
             ["ip", "-n", b, "addr", "add", "10.201.9.2/30", "dev", "vpb"],
             ["ip", "-n", a, "link", "set", "vpa", "up"], ["ip", "-n", b, "link", "set", "vpb", "up"],
             ["ip", "netns", "exec", a, "ping", "-c", "1", "-W", "3", "10.201.9.2"]]
    try:
        for cmd in steps:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            if r.returncode:
                return f"no traffic over a veth pair between two namespaces here: `{' '.join(cmd)}` said {(r.stderr or r.stdout).strip()!r}"
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    return None


def _ns(ns: str, *cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def fresh_captures(tmp_path_factory: pytest.TempPathFactory):
    why = _skip_reason()
    if why:
        pytest.skip(why)
    tag = uuid.uuid4().hex[:6]
    a, b = f"spkcap-a-{tag}", f"spkcap-b-{tag}"
    out = tmp_path_factory.mktemp("livecap")
    procs: list[subprocess.Popen] = []
    try:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "add", ns], check=True)
            _ns(ns, "ip", "link", "set", "lo", "up")
        subprocess.run(["ip", "link", "add", "vca", "netns", a, "type", "veth", "peer", "name", "vcb", "netns", b], check=True)
        for ns, dev, v4, v6 in ((a, "vca", "10.201.7.1/24", "fd00:201:7::1/64"), (b, "vcb", "10.201.7.2/24", "fd00:201:7::2/64")):
            _ns(ns, "ip", "addr", "add", v4, "dev", dev)
            _ns(ns, "ip", "-6", "addr", "add", v6, "dev", dev, "nodad")
            _ns(ns, "ip", "link", "set", dev, "up")
        files = {"veth": out / "veth.pcap", "any": out / "any.pcap"}
        for name, dev in (("veth", "vca"), ("any", "any")):
            p = subprocess.Popen(["ip", "netns", "exec", a, "tcpdump", "-i", dev, "-U", "-n", "-w", str(files[name])],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            procs.append(p)
            assert p.stderr is not None
            seen = ""
            while "listening" not in seen:  # tcpdump says "listening on ..." once the capture runs
                line = p.stderr.readline()
                assert line, f"tcpdump did not start: {seen}"
                seen += line
        time.sleep(0.3)
        for host in ("10.201.7.2", "fd00:201:7::2"):
            srv = subprocess.Popen(["ip", "netns", "exec", b, sys.executable, "-c", TRAFFIC, "server", host],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            assert srv.stdout is not None and srv.stderr is not None
            assert srv.stdout.readline().strip() == "ready", srv.stderr.read()
            _ns(a, sys.executable, "-c", TRAFFIC, "client", host, timeout=60)
            srv.wait(timeout=30)
            _ns(a, "ping", "-c", "2", "-i", "0.2", host, timeout=30)
        time.sleep(0.5)
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    yield files


def _tshark_fields(path: Path) -> pd.DataFrame:
    fields = ["frame.number", "frame.len", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
              "udp.srcport", "udp.dstport", "icmp.type", "icmpv6.type"]
    cmd = ["tshark", "-r", str(path), "-T", "fields", "-E", "header=y", "-E", "separator=,", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    return pd.read_csv(io.StringIO(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout),
                       dtype=str, keep_default_na=False)


@pytest.mark.parametrize("which", ["veth", "any"])
def test_fresh_capture_read_and_checked_against_tshark(fresh_captures, which: str) -> None:
    path = fresh_captures[which]
    df = read_pcap(path)
    assert df.attrs["linktypes"] == [1] if which == "veth" else df.attrs["linktypes"] in ([113], [276])
    prot = set(df["protocol"].astype(str))
    assert {"TCP", "UDP", "ICMP", "ICMPv6"} <= prot, prot
    assert (df["ip_version"] == 6).any() and (df["ip_version"] == 4).any()
    assert len(stats.resets(df)) >= 1  # the refused connection
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed: the fresh capture was read but not cross-checked")
    t = _tshark_fields(path)
    assert len(df) == len(t)
    assert int(df["wire_len"].sum()) == int(t["frame.len"].astype(int).sum())
    # conversation totals: tshark's fields folded into conversations vs ours
    t = t[(t["icmp.type"] == "") & (t["icmpv6.type"] == "")]
    src = t["ip.src"].where(t["ip.src"] != "", t["ipv6.src"])
    dst = t["ip.dst"].where(t["ip.dst"] != "", t["ipv6.dst"])
    sp = t["tcp.srcport"].where(t["tcp.srcport"] != "", t["udp.srcport"])
    dp = t["tcp.dstport"].where(t["tcp.dstport"] != "", t["udp.dstport"])
    ok = sp != ""
    key = [frozenset([(s, int(x)), (d, int(y))]) for s, x, d, y in zip(src[ok], sp[ok], dst[ok], dp[ok])]
    exp = pd.DataFrame({"k": key, "len": t.loc[ok, "frame.len"].astype(int).to_numpy()}).groupby("k")["len"].agg(["size", "sum"])
    c = stats.conversations(df)
    got = {frozenset([(a, int(ap)), (b, int(bp))]): (int(n), int(nb)) for a, ap, b, bp, n, nb in
           zip(c["a"].astype(str), c["a_port"].tolist(), c["b"].astype(str), c["b_port"].tolist(), c["packets"].tolist(),
               c["bytes"].tolist())}
    assert got == {k: (int(v["size"]), int(v["sum"])) for k, v in exp.iterrows()}
    assert len(got) >= 4  # at least the IPv4 ones: 2 TCP + refused + UDP (IPv6 adds more when its addresses are ready in time)
