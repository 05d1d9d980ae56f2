#!/usr/bin/env bash
# Regenerate the demo lab's captures with the REAL tcpdump, inside network namespaces.
#
#   sudo scripts/make_demo_captures.sh [OUTDIR]
#   (default spkrunbook/demo/captures; needs root, tcpdump, ping, ip, python3; about 70 s)
#
# Three namespaces stand in for the demo lab (labdata.py): the node worker-1 with
# its node-network side named cni0 (10.1.10.22, MAC of worker-1's br-ex), TMM with
# net1 (internal self IP 10.1.10.100/24) and net2 (external self IP 10.1.20.100/24)
# using the MACs of the TMM pod's network-status, and an external client
# (10.1.20.50). The lab's own addresses are used directly inside the namespaces,
# so nothing is rewritten afterwards. Nothing leaves the namespaces; they are
# deleted on exit.
#
# About a minute of traffic, so every picture has something to show:
# - internal path (node <-> TMM): the TMM -> node direction loses 2 %, duplicates
#   1 % and reorders 3 % (held 6 ms) of its frames: `tc netem loss 2% duplicate 1%
#   delay 6ms reorder 97%` on net1 where the kernel has sch_netem, else the same
#   condition on two TAP devices joined by scripts/impair.py (IMPAIR=netem|relay
#   forces one; the mode used is in MANIFEST). Over it: ARP, ICMP echo every
#   second, BFD-like UDP (3784) every 300 ms, HTTP-like requests every 0.5 s, a
#   200 kB transfer from TMM every 10 s (retransmissions, dup ACKs, out-of-order,
#   lost segments), a refused connection and an abortive close (RST), an idle
#   connection with keep-alives.
# - external path (client <-> TMM, a plain veth pair): HTTP-like requests and
#   pings all along, and from 20 s to 35 s a reset storm: the client opens ~40
#   connections a second to a closed port (RST) and aborts others (RST).
#
# Captured with a snaplen of 128 bytes (SNAPLEN), as a long capture on a busy TMM is taken:
# every header is kept and the frame lengths are the wire's, so the statistics and the TCP
# analysis (here and tshark's) are those of whole frames, at a fifth of the size.
#
# Files (names stable): cni0.pcap (node side), net1.pcap and net2.pcap (TMM side),
# cni0.txt, the text tcpdump prints for cni0 (`tcpdump -n -r cni0.pcap`, like the
# `tcpdump -i cni0` example of F5's guide), and MANIFEST.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/spkrunbook/demo/captures}
PY=${PYTHON:-python3}
NODE=spkdemo-node; TMM=spkdemo-tmm; EXT=spkdemo-ext; MID=spkdemo-mid; PROBE=spkdemo-probe
IMPAIR=${IMPAIR:-auto}
SNAPLEN=${SNAPLEN:-128}
WORK=""
cleanup() {
  if [ -n "$WORK" ]; then for p in $(cat "$WORK/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; fi
  for ns in $NODE $TMM $EXT $MID $PROBE; do ip netns del $ns 2>/dev/null || true; done
}
trap cleanup EXIT
cleanup
WORK=$(mktemp -d); touch "$WORK/pids"
netem_works() {
  ip netns add $PROBE || return 1
  ip -n $PROBE link add p0 type veth peer name p1 || { ip netns del $PROBE; return 1; }
  local ok=1
  ip netns exec $PROBE tc qdisc add dev p0 root netem delay 1ms 2>/dev/null && ok=0
  ip netns del $PROBE
  return $ok
}
if [ "$IMPAIR" = auto ]; then if netem_works; then IMPAIR=netem; else IMPAIR=relay; fi; fi
for ns in $NODE $TMM $EXT; do ip netns add $ns; ip netns exec $ns ip link set lo up; done
nx() { ip netns exec $NODE "$@"; }; tx() { ip netns exec $TMM "$@"; }; ex() { ip netns exec $EXT "$@"; }
if [ "$IMPAIR" = netem ]; then
  ip link add cni0 netns $NODE type veth peer name net1 netns $TMM
  tx tc qdisc add dev net1 root netem loss 2% duplicate 1% delay 6ms reorder 97%
  echo "internal path: netem loss 2% duplicate 1% delay 6ms reorder 97% (TMM -> node)" > "$WORK/MANIFEST"
else
  ip netns add $MID
  ip netns exec $MID $PY "$ROOT/scripts/impair.py" --a-ns $TMM --a-dev net1 --b-ns $NODE --b-dev cni0 \
    --ready "$WORK/ready" loss 2 duplicate 1 reorder 3 6 2>>"$WORK/relay.log" & echo $! >> "$WORK/pids"
  for _ in $(seq 100); do [ -f "$WORK/ready" ] && break; sleep 0.05; done
  [ -f "$WORK/ready" ] || { cat "$WORK/relay.log" >&2; exit 1; }
  echo "internal path: relay loss 2 duplicate 1 reorder 3 6 (TMM -> node; scripts/impair.py)" > "$WORK/MANIFEST"
fi
echo "external path: veth, no impairment; reset storm 20-35 s" >> "$WORK/MANIFEST"
ip link add eth0 netns $EXT type veth peer name net2 netns $TMM
nx ip link set cni0 address 00:50:56:90:01:9c; tx ip link set net1 address 7e:12:9c:4a:01:b1
tx ip link set net2 address 7e:12:9c:4a:02:c2; ex ip link set eth0 address 00:50:56:9a:20:50
nx ip addr add 10.1.10.22/24 dev cni0; tx ip addr add 10.1.10.100/24 dev net1
tx ip addr add 10.1.20.100/24 dev net2; ex ip addr add 10.1.20.50/24 dev eth0
for dev in "nx cni0" "tx net1" "tx net2" "ex eth0"; do set -- $dev; $1 ip link set "$2" up; done
for dev in "nx cni0" "tx net1" "tx net2" "ex eth0"; do set -- $dev; $1 sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" || true; done
if command -v ethtool >/dev/null; then
  for dev in "nx cni0" "tx net1" "tx net2" "ex eth0"; do set -- $dev; $1 ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true; done
fi

cat > "$WORK/server.py" <<'PY'
import socket, threading, time
def serve(addr, port, handler):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((addr, port)); s.listen(16)
    while True:
        c, _ = s.accept(); threading.Thread(target=handler, args=(c,), daemon=True).start()
def http(c):
    try:
        c.recv(4096)
        body = b"ok from tmm\n" * 20
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    except OSError:
        pass  # the abortive close: the client reset the connection
    c.close()
def bulk(c):
    c.recv(100)
    for _ in range(50):
        c.sendall(b"d" * 4000); time.sleep(0.005)
    c.close()
def idle(c):
    while c.recv(100): pass
    c.close()
def bfd():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("10.1.10.100", 3784))
    while True:
        d, a = u.recvfrom(100); u.sendto(d, a)
for a, p, h in (("10.1.10.100", 80, http), ("10.1.10.100", 8080, bulk), ("10.1.10.100", 8081, idle), ("10.1.20.100", 80, http)):
    threading.Thread(target=serve, args=(a, p, h), daemon=True).start()
threading.Thread(target=bfd, daemon=True).start()
while True: time.sleep(1)
PY
cat > "$WORK/node.py" <<'PY'
import socket, struct, subprocess, threading, time
T0 = time.monotonic(); DUR = 60.0
def left(): return DUR - (time.monotonic() - T0)
def get(host, port=80):
    s = socket.create_connection((host, port), timeout=5); s.sendall(b"GET /healthz HTTP/1.1\r\nHost: tmm\r\n\r\n")
    while s.recv(4096): pass
    s.close()
def refused(host, port):
    s = socket.socket(); s.settimeout(2)
    try: s.connect((host, port))
    except OSError: pass
    s.close()
def abort(host):
    s = socket.create_connection((host, 80), timeout=5); s.send(b"GET /slow HTTP/1.1\r\n")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
def bulk(host):
    s = socket.create_connection((host, 8080), timeout=20); s.send(b"go")
    while s.recv(65536): pass
    s.close()
def every(period, fn, start=0.0):
    time.sleep(start)
    while left() > 0:
        t = time.monotonic()
        try: fn()
        except OSError: pass
        time.sleep(max(0.0, period - (time.monotonic() - t)))
def bfd():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(0.2); i = 0
    def one():
        nonlocal i
        # BFD-like control packets (24 bytes, version 1, state Up) between worker-1 and TMM
        u.sendto(struct.pack("!BBBBIIIII", 0x20, 0xC0, 3, 24, 0x1000 + i, 0, 300000, 300000, 0), ("10.1.10.100", 3784)); i += 1
        try: u.recvfrom(100)
        except OSError: pass
    every(0.3, one)
def keepalive():
    s = socket.create_connection(("10.1.10.100", 8081), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 5); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 5)
    s.send(b"hello"); time.sleep(max(0.0, left() - 1)); s.close()
jobs = [lambda: bfd(), lambda: every(0.5, lambda: get("10.1.10.100"), 0.2), lambda: every(10.0, lambda: bulk("10.1.10.100"), 2.0),
        lambda: every(1.0, lambda: subprocess.run(["ping", "-c", "1", "-W", "1", "10.1.10.100"], capture_output=True)),
        lambda: (time.sleep(15), refused("10.1.10.100", 443), time.sleep(10), abort("10.1.10.100")), keepalive]
th = [threading.Thread(target=j, daemon=True) for j in jobs]
for t in th: t.start()
for t in th: t.join(DUR + 15)
PY
cat > "$WORK/ext.py" <<'PY'
import socket, struct, subprocess, threading, time
T0 = time.monotonic(); DUR = 60.0
def now(): return time.monotonic() - T0
def get():
    s = socket.create_connection(("10.1.20.100", 80), timeout=5); s.sendall(b"GET / HTTP/1.1\r\nHost: app.example.com\r\n\r\n")
    while s.recv(4096): pass
    s.close()
def storm():
    # 20-35 s: ~40 connections a second to a closed port (RST) and aborted requests (RST)
    while now() < 20: time.sleep(0.1)
    i = 0
    while now() < 35:
        s = socket.socket(); s.settimeout(1)
        try:
            if i % 4 == 3:
                s.connect(("10.1.20.100", 80)); s.send(b"GET /x HTTP/1.1\r\n")
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                s.connect(("10.1.20.100", 8443))
        except OSError:
            pass
        s.close(); i += 1; time.sleep(0.025)
def web():
    while now() < DUR:
        try: get()
        except OSError: pass
        time.sleep(0.3)
def ping():
    while now() < DUR:
        subprocess.run(["ping", "-c", "1", "-W", "1", "10.1.20.100"], capture_output=True); time.sleep(1)
th = [threading.Thread(target=f, daemon=True) for f in (storm, web, ping)]
for t in th: t.start()
for t in th: t.join(DUR + 15)
PY
ip netns exec $TMM $PY "$WORK/server.py" & echo $! >> "$WORK/pids"
ip netns exec $NODE tcpdump -U -Z root -s "$SNAPLEN" -i cni0 -w "$WORK/cni0.pcap" 2>>"$WORK/tcpdump.log" & echo $! >> "$WORK/pids"
ip netns exec $TMM tcpdump -U -Z root -s "$SNAPLEN" -i net1 -w "$WORK/net1.pcap" 2>>"$WORK/tcpdump.log" & echo $! >> "$WORK/pids"
ip netns exec $TMM tcpdump -U -Z root -s "$SNAPLEN" -i net2 -w "$WORK/net2.pcap" 2>>"$WORK/tcpdump.log" & echo $! >> "$WORK/pids"
sleep 1.5
ex $PY "$WORK/ext.py" &
EXTPID=$!
nx $PY "$WORK/node.py"
wait $EXTPID
sleep 1
for p in $(tail -n 3 "$WORK/pids"); do kill -INT "$p" 2>/dev/null || true; done
sleep 1
mkdir -p "$OUT"
for f in cni0 net1 net2; do cp "$WORK/$f.pcap" "$OUT/$f.pcap"; done
tcpdump -n -r "$OUT/cni0.pcap" > "$OUT/cni0.txt" 2>/dev/null
{ cat "$WORK/MANIFEST"; echo "snaplen $SNAPLEN"; tcpdump --version 2>&1 | head -1; uname -r; } > "$OUT/MANIFEST"
cat "$WORK/tcpdump.log" >&2
ls -l "$OUT"
