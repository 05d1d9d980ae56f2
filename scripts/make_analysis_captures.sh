#!/usr/bin/env bash
# Captures for the TCP expert analysis, made with the REAL tcpdump between two
# network namespaces whose link loses, duplicates, reorders or delays frames.
#
#   sudo scripts/make_analysis_captures.sh [OUTDIR] [CONDITION...]
#   (default OUTDIR tests/fixtures/analysis; default: every condition below)
#
# Why: tshark's expert flags (retransmission, dup ACK, out-of-order, previous
# segment not captured, zero window, window full, keep-alive ...) only show on
# real TCP stacks meeting real trouble.  Namespace A (10.77.0.1, the sender) and
# B (10.77.0.2) run Linux's own TCP; the trouble is applied to A->B frames:
#
#   condition   netem line                    relay line (scripts/impair.py)
#   loss        loss 3%                       loss 3
#   duplicate   duplicate 3%                  duplicate 3
#   reorder     delay 8ms reorder 95%         reorder 5 8     (5 % held 8 ms)
#   delay       delay 30ms                    delay 30
#   window      -  (B reads slowly through a small receive buffer: zero window, window full)
#   keepalive   -  (an idle connection with 1 s keep-alives; then two connections
#                   from the same client port, closed with RST: tshark's port reuse)
#
# IMPAIR=netem uses a veth pair and `tc qdisc ... netem` on A's side (needs the
# sch_netem kernel module); IMPAIR=relay uses two TAP devices joined by
# scripts/impair.py, which applies the same condition in user space; the default
# (auto) takes netem when a probe namespace accepts a netem qdisc, else the relay.
# The mode used is written to MANIFEST.
#
# Files per condition C: C.tx.pcap (captured in A), C.rx.pcap (captured in B;
# snaplen 96, headers only: the analysis uses IP lengths), C.{tx,rx}.expert.csv
# (kind,frame from `tshark -Y tcp.analysis.<kind>` per kind), and for rx the
# text renderings C.rx.nn.txt (`tcpdump -nn -r`, relative sequence numbers) and
# C.rx.S.txt (`tcpdump -nn -S -r`, absolute).  Nothing leaves the namespaces.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/tests/fixtures/analysis}
[ $# -gt 0 ] && shift
CONDS=("$@")
[ ${#CONDS[@]} -eq 0 ] && CONDS=(loss duplicate reorder delay window keepalive)
PY=${PYTHON:-python3}
IMPAIR=${IMPAIR:-auto}
A=spkx-a; B=spkx-b; MID=spkx-m; PROBE=spkx-probe
for t in tcpdump tshark ip; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 2; }; done
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
WORK=$(mktemp -d)
teardown() {
  for p in $(cat "$WORK/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  for p in $(cat "$WORK/pids" 2>/dev/null); do wait "$p" 2>/dev/null || true; done
  : > "$WORK/pids"
  for ns in $A $B $MID $PROBE; do ip netns del $ns 2>/dev/null || true; done
}
trap 'teardown; rm -rf "$WORK"' EXIT
teardown
mkdir -p "$OUT"

netem_works() {
  ip netns add $PROBE || return 1
  ip -n $PROBE link add p0 type veth peer name p1 || { ip netns del $PROBE; return 1; }
  local ok=1
  ip netns exec $PROBE tc qdisc add dev p0 root netem delay 1ms 2>/dev/null && ok=0
  ip netns del $PROBE
  return $ok
}
if [ "$IMPAIR" = auto ]; then
  if netem_works; then IMPAIR=netem; else IMPAIR=relay; fi
fi
echo "impairment: $IMPAIR" >&2

netem_line() { case $1 in loss) echo "loss 3%";; duplicate) echo "duplicate 3%";;
  reorder) echo "delay 8ms reorder 95%";; delay) echo "delay 30ms";; *) echo "";; esac; }
relay_line() { case $1 in loss) echo "loss 3";; duplicate) echo "duplicate 3";;
  reorder) echo "reorder 5 8";; delay) echo "delay 30";; *) echo "none";; esac; }

cat > "$WORK/server.py" <<'PY'
import socket, threading, time
def listen(port, rcvbuf=None):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf: s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind(("10.77.0.2", port)); s.listen(8); return s
def serve(s, handler):
    while True:
        c, _ = s.accept(); threading.Thread(target=handler, args=(c,), daemon=True).start()
def sink(c):
    while c.recv(65536): pass
    c.sendall(b"done\n"); c.close()
def slow(c):
    while True:
        d = c.recv(1500)
        if not d: break
        time.sleep(0.03)
    c.close()
def idle(c):
    while c.recv(100): pass
    c.close()
def reqresp(c):
    c.recv(100); c.sendall(b"r" * 20000); c.close()
for port, h, buf in ((5001, sink, None), (5002, slow, 4096), (5003, idle, None), (5004, reqresp, None)):
    threading.Thread(target=serve, args=(listen(port, buf), h), daemon=True).start()
open("/dev/stdout", "w").write("listening\n")
while True: time.sleep(1)
PY
cat > "$WORK/client.py" <<'PY'
import socket, struct, sys, time
cond = sys.argv[1]
def bulk(n):
    s = socket.create_connection(("10.77.0.2", 5001), timeout=30)
    chunk = bytes(range(256)) * 64
    sent = 0
    while sent < n:
        s.sendall(chunk); sent += len(chunk)
    s.shutdown(socket.SHUT_WR); s.recv(100); s.close()
def reqresp():
    s = socket.create_connection(("10.77.0.2", 5004), timeout=30); s.sendall(b"GET /\r\n")
    while s.recv(65536): pass
    s.close()
if cond == "window":
    s = socket.create_connection(("10.77.0.2", 5002), timeout=60)
    s.sendall(b"w" * 150000); s.close()
    time.sleep(5)
elif cond == "keepalive":
    s = socket.create_connection(("10.77.0.2", 5003), timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    s.sendall(b"hello\n"); time.sleep(4.5); s.close()
    for _ in range(2):  # the same 4-tuple twice (abortive close leaves no TIME_WAIT)
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("10.77.0.1", 40001)); s.connect(("10.77.0.2", 5004)); s.sendall(b"GET /\r\n")
        got = 0
        while got < 20000:
            d = s.recv(65536)
            if not d: break
            got += len(d)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
        time.sleep(0.2)
else:
    for _ in range(3): reqresp()
    bulk(300_000)
    for _ in range(3): reqresp()
time.sleep(0.5)
PY

{ echo "impairment: $IMPAIR"; tcpdump --version 2>&1 | head -1; tshark --version | head -1; uname -r; } > "$WORK/MANIFEST"
KINDS="retransmission fast_retransmission spurious_retransmission out_of_order lost_segment duplicate_ack zero_window zero_window_probe zero_window_probe_ack window_full window_update keep_alive keep_alive_ack"

for C in "${CONDS[@]}"; do
  : > "$WORK/pids"
  ip netns add $A; ip netns add $B
  ip -n $A link set lo up; ip -n $B link set lo up
  if [ "$IMPAIR" = netem ]; then
    DA=va; DB=vb
    ip link add $DA netns $A type veth peer name $DB netns $B
    line=$(netem_line "$C")
    [ -n "$line" ] && ip netns exec $A tc qdisc add dev $DA root netem $line
    if command -v ethtool >/dev/null; then
      ip netns exec $A ethtool -K $DA tso off gso off gro off >/dev/null 2>&1 || true
      ip netns exec $B ethtool -K $DB tso off gso off gro off >/dev/null 2>&1 || true
    fi
    echo "$C: netem ${line:-none}" >> "$WORK/MANIFEST"
  else
    DA=ta; DB=tb
    ip netns add $MID
    rm -f "$WORK/ready"
    # shellcheck disable=SC2046
    ip netns exec $MID $PY "$ROOT/scripts/impair.py" --a-ns $A --a-dev $DA --b-ns $B --b-dev $DB \
      --ready "$WORK/ready" $(relay_line "$C") 2>>"$WORK/relay.log" & echo $! >> "$WORK/pids"
    for _ in $(seq 100); do [ -f "$WORK/ready" ] && break; sleep 0.05; done
    [ -f "$WORK/ready" ] || { cat "$WORK/relay.log" >&2; exit 1; }
    echo "$C: relay $(relay_line "$C")" >> "$WORK/MANIFEST"
  fi
  ip -n $A link set $DA address 02:77:00:00:00:01; ip -n $B link set $DB address 02:77:00:00:00:02
  ip -n $A addr add 10.77.0.1/24 dev $DA; ip -n $B addr add 10.77.0.2/24 dev $DB
  ip -n $A link set $DA up; ip -n $B link set $DB up
  ip netns exec $A sysctl -qw net.ipv6.conf.$DA.disable_ipv6=1 || true
  ip netns exec $B sysctl -qw net.ipv6.conf.$DB.disable_ipv6=1 || true
  ip netns exec $B $PY "$WORK/server.py" > "$WORK/server.out" & echo $! >> "$WORK/pids"
  ip netns exec $A tcpdump -U -Z root -s 96 -i $DA -w "$WORK/$C.tx.pcap" 2>>"$WORK/tcpdump.log" & echo $! >> "$WORK/pids"
  ip netns exec $B tcpdump -U -Z root -s 96 -i $DB -w "$WORK/$C.rx.pcap" 2>>"$WORK/tcpdump.log" & echo $! >> "$WORK/pids"
  for _ in $(seq 100); do grep -q listening "$WORK/server.out" 2>/dev/null && break; sleep 0.05; done
  sleep 1
  ip netns exec $A ping -c 1 -W 1 10.77.0.2 >/dev/null || true
  ip netns exec $A $PY "$WORK/client.py" "$C"
  sleep 0.5
  for p in $(tail -n 2 "$WORK/pids"); do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.5
  teardown
  for side in tx rx; do
    f="$WORK/$C.$side.pcap"
    { echo "kind,frame"
      for k in $KINDS; do
        tshark -r "$f" -Y "tcp.analysis.$k" -T fields -e frame.number 2>/dev/null | sed "s/^/$k,/"
      done; } > "$WORK/$C.$side.expert.csv"
    cp "$f" "$WORK/$C.$side.expert.csv" "$OUT/"
  done
  tcpdump -nn -r "$WORK/$C.rx.pcap" > "$OUT/$C.rx.nn.txt" 2>/dev/null
  tcpdump -nn -S -r "$WORK/$C.rx.pcap" > "$OUT/$C.rx.S.txt" 2>/dev/null
done
# MANIFEST: keep the lines of conditions not remade now
if [ -f "$OUT/MANIFEST" ]; then
  pat=$(printf '%s:|' "${CONDS[@]}"); pat="^(${pat%|})"
  grep -E '^[a-z]+: (netem|relay)' "$OUT/MANIFEST" | grep -v '^impairment:' | grep -Ev "$pat" >> "$WORK/MANIFEST" || true
fi
cp "$WORK/MANIFEST" "$OUT/MANIFEST"
echo "captures written to $OUT" >&2
ls -l "$OUT" >&2
