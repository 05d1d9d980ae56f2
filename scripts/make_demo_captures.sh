#!/usr/bin/env bash
# Regenerate the demo lab's captures with the REAL tcpdump, inside network namespaces.
#
#   sudo scripts/make_demo_captures.sh [OUTDIR]
#   (default demo/captures; needs root, tcpdump, ping, python3)
#
# Three namespaces stand in for the demo lab (labdata.py): the node worker-1 with
# its node-network side named cni0 (10.1.10.22, MAC of worker-1's br-ex), TMM with
# net1 (internal self IP 10.1.10.100/24) and net2 (external self IP 10.1.20.100/24)
# using the MACs of the TMM pod's network-status, and an external client
# (10.1.20.50). The lab's own addresses are used directly inside the namespaces,
# so nothing is rewritten afterwards. Nothing leaves the namespaces; they are
# deleted on exit.
#
# Traffic: ARP, ICMP echo, BFD-like UDP (3784) between node and TMM, HTTP-like TCP
# requests, a bulk transfer whose segments the node drops while worker-1's address
# is removed for 300 ms (retransmissions), a refused connection (RST) and an abortive close
# (RST) on the internal side; HTTP-like requests and pings on the external side.
#
# Files: cni0.pcap (node side), net1.pcap and net2.pcap (TMM side), and cni0.txt,
# the text tcpdump prints for cni0 (`tcpdump -n -r cni0.pcap`, like the seed's
# `tcpdump -i cni0` example).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/demo/captures}
PY=${PYTHON:-python3}
NODE=spkdemo-node; TMM=spkdemo-tmm; EXT=spkdemo-ext
WORK=""
cleanup() {
  if [ -n "$WORK" ]; then for p in $(cat "$WORK/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; fi
  for ns in $NODE $TMM $EXT; do ip netns del $ns 2>/dev/null || true; done
}
trap cleanup EXIT
cleanup
WORK=$(mktemp -d); touch "$WORK/pids"
mkdir -p "$OUT"

for ns in $NODE $TMM $EXT; do ip netns add $ns; ip netns exec $ns ip link set lo up; done
nx() { ip netns exec $NODE "$@"; }; tx() { ip netns exec $TMM "$@"; }; ex() { ip netns exec $EXT "$@"; }
ip link add cni0 netns $NODE type veth peer name net1 netns $TMM
ip link add eth0 netns $EXT type veth peer name net2 netns $TMM
nx ip link set cni0 address 00:50:56:90:01:9c; tx ip link set net1 address 7e:12:9c:4a:01:b1
tx ip link set net2 address 7e:12:9c:4a:02:c2; ex ip link set eth0 address 00:50:56:9a:20:50
nx ip addr add 10.1.10.22/24 dev cni0; tx ip addr add 10.1.10.100/24 dev net1
tx ip addr add 10.1.20.100/24 dev net2; ex ip addr add 10.1.20.50/24 dev eth0
for dev in "nx cni0" "tx net1" "tx net2" "ex eth0"; do set -- $dev; $1 ip link set "$2" up; done
for dev in "nx cni0" "tx net1" "tx net2" "ex eth0"; do set -- $dev; $1 sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" || true; done

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
    for _ in range(60):
        c.sendall(b"d" * 4000); time.sleep(0.015)
    c.close()
def bfd():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("10.1.10.100", 3784))
    while True:
        d, a = u.recvfrom(100); u.sendto(d, a)
for a, p, h in (("10.1.10.100", 80, http), ("10.1.10.100", 8080, bulk), ("10.1.20.100", 80, http)):
    threading.Thread(target=serve, args=(a, p, h), daemon=True).start()
threading.Thread(target=bfd, daemon=True).start()
while True: time.sleep(1)
PY
cat > "$WORK/node.py" <<'PY'
import socket, struct, subprocess, time
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
    s = socket.create_connection((host, 8080), timeout=10); s.send(b"go"); n = 0; flapped = False
    while True:
        d = s.recv(65536)
        if not d: break
        n += len(d)
        if n > 60000 and not flapped:
            flapped = True
            # worker-1 loses its address for 300 ms: TMM's segments still reach cni0 (and
            # tcpdump) but the node's IP layer drops them, so TMM retransmits
            subprocess.run(["ip", "addr", "del", "10.1.10.22/24", "dev", "cni0"]); time.sleep(0.3)
            subprocess.run(["ip", "addr", "add", "10.1.10.22/24", "dev", "cni0"])
    s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(0.2)
for i in range(4):
    # BFD-like control packets (24 bytes, version 1, state Up) between worker-1 and TMM
    u.sendto(struct.pack("!BBBBIIIII", 0x20, 0xC0, 3, 24, 0x1000 + i, 0, 300000, 300000, 0), ("10.1.10.100", 3784))
    try: u.recvfrom(100)
    except OSError: pass
    time.sleep(0.1)
for _ in range(5): get("10.1.10.100"); time.sleep(0.05)
refused("10.1.10.100", 443)
abort("10.1.10.100")
bulk("10.1.10.100")
for _ in range(3): get("10.1.10.100"); time.sleep(0.1)
PY
cat > "$WORK/ext.py" <<'PY'
import socket, time
for _ in range(8):
    s = socket.create_connection(("10.1.20.100", 80), timeout=5); s.sendall(b"GET / HTTP/1.1\r\nHost: app.example.com\r\n\r\n")
    while s.recv(4096): pass
    s.close(); time.sleep(0.15)
PY
ip netns exec $TMM $PY "$WORK/server.py" & echo $! >> "$WORK/pids"
ip netns exec $NODE tcpdump -U -Z root -i cni0 -w "$WORK/cni0.pcap" 2>>"$WORK/tcpdump.log" & echo $! >> "$WORK/pids"
ip netns exec $TMM tcpdump -U -Z root -i net1 -w "$WORK/net1.pcap" 2>>"$WORK/tcpdump.log" & echo $! >> "$WORK/pids"
ip netns exec $TMM tcpdump -U -Z root -i net2 -w "$WORK/net2.pcap" 2>>"$WORK/tcpdump.log" & echo $! >> "$WORK/pids"
sleep 1.5
nx ping -c 3 -i 0.2 10.1.10.100 >/dev/null
ex ping -c 3 -i 0.2 10.1.20.100 >/dev/null
ex $PY "$WORK/ext.py" &
EXTPID=$!
nx $PY "$WORK/node.py"
wait $EXTPID
sleep 1
for p in $(tail -n +2 "$WORK/pids"); do kill -INT "$p" 2>/dev/null || true; done
sleep 1
for f in cni0 net1 net2; do cp "$WORK/$f.pcap" "$OUT/$f.pcap"; done
tcpdump -n -r "$OUT/cni0.pcap" > "$OUT/cni0.txt" 2>/dev/null
cat "$WORK/tcpdump.log" >&2
ls -l "$OUT"
