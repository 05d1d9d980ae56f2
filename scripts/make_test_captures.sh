#!/usr/bin/env bash
# Regenerate the capture test data in tests/fixtures/captures with the REAL tcpdump.
#
# Why: the capture engine is checked packet for packet against tshark on captures
# made by tcpdump itself, not on hand-made bytes.  Everything happens inside two
# network namespaces joined by a veth pair; nothing leaves them.  Needs root,
# tcpdump, tshark (editcap/mergecap), ping and python3.
#
#   sudo scripts/make_test_captures.sh [OUTDIR]     (default tests/fixtures/captures)
#
# Files written (all small):
#   eth.pcap        Ethernet, usec: TCP (handshakes, data, FIN, RST, retransmissions
#                   caused by taking the peer link down for 300 ms mid-transfer),
#                   UDP, ICMP/ICMPv6 echo and port-unreachable, ARP/NDP, VLAN + QinQ
#   nano.pcap       same traffic, nanosecond timestamps (--time-stamp-precision=nano)
#   snap96.pcap     same traffic, snaplen 96 (-s 96)
#   any_sll2.pcap   -i any -y LINUX_SLL2 (cooked v2: ifindex + direction)
#   any_sll1.pcap   -i any -y LINUX_SLL  (cooked v1)
#   vlan.pcap       only the 802.1Q / 802.1ad (QinQ) frames
#   rawip.pcap      eth.pcap's IP frames re-written as link type RAW (101) by our converter
#   eth.pcapng      editcap -F pcapng eth.pcap
#   multi.pcapng    mergecap of rawip.pcap (usec) + nano.pcap (nsec): 2 interfaces,
#                   2 link types, per-interface if_tsresol
#   be.pcap         eth.pcap rewritten big-endian by the small converter below (ours)
#   *.nn.txt, *.tttt.txt, *.tt.txt, *.e.txt, *.names.txt   tcpdump -r text outputs
#   *.fields.csv    tshark -T fields (see FIELDS below)
#   *.conv.txt      tshark -q -z conv,tcp -z conv,udp
set -euo pipefail
OUT=${1:-$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/captures}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
A=spkcap-a; B=spkcap-b
WORK=$(mktemp -d)
cleanup() {
  for p in $(cat "$WORK"/pids 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  for ns in $A $B; do
    for p in $(ip netns pids $ns 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  done
  sleep 0.5
  ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true
  rm -rf /etc/netns/$A /etc/netns/$B "$WORK"
}
trap cleanup EXIT
cleanup; WORK=$(mktemp -d)

# names used by the "without -n" text outputs (ip netns exec bind-mounts these)
for ns in $A $B; do
  mkdir -p /etc/netns/$ns
  printf '127.0.0.1 localhost\n10.99.0.1 worker1\n10.99.0.2 tmm-0\nfd00:99::1 worker1-v6\nfd00:99::2 tmm-0-v6\n' > /etc/netns/$ns/hosts
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > /etc/netns/$ns/resolv.conf
done

ip netns add $A; ip netns add $B
ip link add va netns $A type veth peer name vb netns $B
ax() { ip netns exec $A "$@"; }; bx() { ip netns exec $B "$@"; }
ax ip link set lo up; bx ip link set lo up
ax ip link set va address 02:00:00:00:00:0a; bx ip link set vb address 02:00:00:00:00:0b
ax ip addr add 10.99.0.1/24 dev va; bx ip addr add 10.99.0.2/24 dev vb
ax ip -6 addr add fd00:99::1/64 dev va nodad; bx ip -6 addr add fd00:99::2/64 dev vb nodad
ax ip link set va up; bx ip link set vb up
if command -v ethtool >/dev/null; then ax ethtool -K va tso off gso off gro off >/dev/null 2>&1 || true; bx ethtool -K vb tso off gso off gro off >/dev/null 2>&1 || true; fi
# This kernel may lack 8021q; VLAN-tagged frames (802.1Q id 42 and QinQ 802.1ad
# 100 / 802.1Q 7) are injected raw on va by inject_vlan.py below and captured
# by the real tcpdump on vb.
# This kernel may have no tc actions / netem / ipip: retransmissions are made by
# taking va down for 300 ms while tmm-0 streams to worker1 (b's segments are
# seen by tcpdump on vb, then dropped by the downed peer, then retransmitted).
ax sysctl -qw net.ipv6.conf.all.keep_addr_on_down=1 || true
ax sysctl -qw net.ipv6.conf.va.keep_addr_on_down=1 || true

cat > "$WORK/server.py" <<'PY'
import socket, threading
def tcp():
    threading.Thread(target=slow, daemon=True).start()
    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::", 8080)); s.listen(16)
    while True:
        c, _ = s.accept()
        def h(c=c):
            n = 0
            while True:
                d = c.recv(65536)
                if not d: break
                n += len(d)
            c.sendall(b"r" * 1500); c.close()
        threading.Thread(target=h, daemon=True).start()
def slow():
    import time
    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::", 8081)); s.listen(4)
    while True:
        c, _ = s.accept(); c.recv(100)
        for i in range(30):
            c.sendall(b"s" * 1000); time.sleep(0.02)
        c.close()
def udp():
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    u.bind(("::", 5000))
    while True:
        d, a = u.recvfrom(65536); u.sendto(d.upper(), a)
threading.Thread(target=udp, daemon=True).start()
tcp()
PY
cat > "$WORK/client.py" <<'PY'
import socket, struct, time, sys
def tcp(host, fam, n, port=8080, abort=False):
    s = socket.socket(fam); s.settimeout(10)
    try:
        s.connect((host, port))
    except OSError:
        s.close(); return
    if abort:
        s.send(b"x" * 500)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close(); return
    s.sendall(bytes(range(256)) * (n // 256)); s.shutdown(socket.SHUT_WR)
    while s.recv(65536): pass
    s.close()
def udp(host, fam, port, k=3):
    u = socket.socket(fam, socket.SOCK_DGRAM); u.settimeout(0.3)
    for i in range(k):
        u.sendto(b"hello %d" % i * (i + 1), (host, port))
        try: u.recvfrom(2000)
        except OSError: pass
    u.close()
for i in range(4): tcp("10.99.0.2", socket.AF_INET, 3000 + 1000 * i)
for i in range(2): tcp("fd00:99::2", socket.AF_INET6, 3000)
tcp("10.99.0.2", socket.AF_INET, 0, port=9999)          # refused -> RST
tcp("fd00:99::2", socket.AF_INET6, 0, port=9999)
tcp("10.99.0.2", socket.AF_INET, 0, abort=True)         # abortive close -> RST
def retrans(host, fam):
    import subprocess
    s = socket.socket(fam); s.connect((host, 8081)); s.send(b"go"); n = 0; down = False
    while True:
        d = s.recv(65536)
        if not d: break
        n += len(d)
        if n > 8000 and not down:
            down = True
            subprocess.run(["ip", "link", "set", "va", "down"]); time.sleep(0.3)
            subprocess.run(["ip", "link", "set", "va", "up"]); time.sleep(0.05)
    s.close()
retrans("10.99.0.2", socket.AF_INET)
retrans("fd00:99::2", socket.AF_INET6)
udp("10.99.0.2", socket.AF_INET, 5000); udp("fd00:99::2", socket.AF_INET6, 5000)
udp("10.99.0.2", socket.AF_INET, 5001, 2); udp("fd00:99::2", socket.AF_INET6, 5001, 2)  # port unreachable
PY
ip netns exec $B $PY "$WORK/server.py" & echo $! >> "$WORK/pids"
sleep 0.5
start_cap() { local f=$1; shift; ip netns exec $B tcpdump -U -Z root -w "$WORK/$f" "$@" 2>>"$WORK/tcpdump.log" & echo $! >> "$WORK/pids"; }
start_cap eth.pcap -i vb
start_cap nano.pcap -i vb --time-stamp-precision=nano
start_cap snap96.pcap -i vb -s 96
start_cap any_sll2.pcap -i any -y LINUX_SLL2
start_cap any_sll1.pcap -i any -y LINUX_SLL
start_cap vlan.pcap -i vb vlan
sleep 1.5
ax ping -c 2 -i 0.2 10.99.0.2 >/dev/null
ax ping -6 -c 2 -i 0.2 fd00:99::2 >/dev/null
cat > "$WORK/inject_vlan.py" <<'PY'
import socket, struct
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
def ip4(src, dst, proto, payload, ident):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload
def udp(sp, dp, data):
    return struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data
def icmp_echo(ident, seq, data):
    h = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]
dst = bytes.fromhex("02000000000b"); src = bytes.fromhex("02000000000a")
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(("va", 0))
for i in range(3):
    q = struct.pack("!HH", 0x8100, 42)              # 802.1Q vid 42
    s.send(dst + src + q + b"\x08\x00" + ip4("10.99.42.1", "10.99.42.2", 1, icmp_echo(77, i, b"v" * 56), 100 + i))
    s.send(dst + src + q + b"\x08\x00" + ip4("10.99.42.1", "10.99.42.2", 17, udp(40000 + i, 5000, b"vlan42 " * 5), 200 + i))
    qq = struct.pack("!HHHH", 0x88a8, 100, 0x8100, 7)  # QinQ: S-tag 100, C-tag 7
    s.send(dst + src + qq + b"\x08\x00" + ip4("10.99.107.1", "10.99.107.2", 17, udp(41000 + i, 5000, b"qinq" * 9), 300 + i))
PY
ax $PY "$WORK/inject_vlan.py"
ax $PY "$WORK/client.py"
sleep 1
for p in $(tail -n +2 "$WORK/pids"); do kill -INT "$p" 2>/dev/null || true; done
sleep 1   # 'tcpdump -i any' may sleep in poll() and miss SIGINT; -U already flushed every packet
for p in $(tail -n +2 "$WORK/pids"); do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done

cd "$WORK"
editcap -F pcapng eth.pcap eth.pcapng
# raw IP (link type 101): our converter strips the Ethernet header of eth.pcap's
# untagged IPv4/IPv6 frames (this kernel has no ipip/tun device to capture on)
$PY - eth.pcap rawip.pcap <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
hdr = bytearray(d[:24]); struct.pack_into("<I", hdr, 20, 101); out = [bytes(hdr)]
o = 24
while o + 16 <= len(d):
    ts, us, cl, ol = struct.unpack_from("<IIII", d, o); fr = d[o + 16:o + 16 + cl]; o += 16 + cl
    if fr[12:14] in (b"\x08\x00", b"\x86\xdd"):
        out.append(struct.pack("<IIII", ts, us, cl - 14, ol - 14) + fr[14:])
open(sys.argv[2], "wb").write(b"".join(out))
PY
mergecap -F pcapng -w multi.pcapng rawip.pcap nano.pcap
# big-endian classic pcap: our own converter (swap every header field)
$PY - eth.pcap be.pcap <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:4] == b"\xd4\xc3\xb2\xa1"
out = [struct.pack(">IHHiIII", *struct.unpack_from("<IHHiIII", d, 0))]
o = 24
while o + 16 <= len(d):
    ts, us, cl, ol = struct.unpack_from("<IIII", d, o)
    out.append(struct.pack(">IIII", ts, us, cl, ol) + d[o + 16:o + 16 + cl]); o += 16 + cl
open(sys.argv[2], "wb").write(b"".join(out))
PY
FIELDS="frame.number frame.time_epoch frame.interface_id frame.len frame.cap_len sll.pkttype vlan.id ip.src ip.dst ipv6.src ipv6.dst ip.proto tcp.srcport tcp.dstport udp.srcport udp.dstport tcp.flags tcp.seq_raw tcp.ack_raw tcp.window_size_value tcp.len udp.length icmp.type icmp.code icmpv6.type icmpv6.code arp.opcode tcp.analysis.retransmission tcp.analysis.duplicate_ack"
EF=""; for f in $FIELDS; do EF="$EF -e $f"; done
for f in *.pcap *.pcapng; do
  b=${f%.*}; [ "${f##*.}" = pcapng ] && b="$b.ng"
  tshark -r "$f" -T fields -E header=y -E separator=, -E quote=d -E occurrence=f $EF > "$b.fields.csv" 2>/dev/null
  tshark -r "$f" -q -z conv,tcp -z conv,udp > "$b.conv.txt" 2>/dev/null
done
for f in eth any_sll2 vlan nano snap96 any_sll1; do
  tcpdump -r $f.pcap -nn > $f.nn.txt 2>/dev/null
done
for f in eth any_sll2 vlan; do
  tcpdump -r $f.pcap -nn -tttt > $f.tttt.txt 2>/dev/null
  tcpdump -r $f.pcap -nn -tt > $f.tt.txt 2>/dev/null
  tcpdump -r $f.pcap -nn -e > $f.e.txt 2>/dev/null
done
tcpdump -r nano.pcap -nn -tttt --time-stamp-precision=nano > nano.tttt.txt 2>/dev/null
# without -n: names from /etc/netns/*/hosts and /etc/services (no DNS reachable)
ax tcpdump -r eth.pcap > eth.names.txt 2>/dev/null
ax tcpdump -r any_sll2.pcap -e > any_sll2.names_e.txt 2>/dev/null
cp -- *.pcap *.pcapng *.txt *.csv "$OUT"/
cp tcpdump.log "$OUT"/tcpdump-stderr.log
tcpdump --version 2>&1 | head -2 > "$OUT/VERSIONS"; tshark --version | head -1 >> "$OUT/VERSIONS"
echo "captures written to $OUT"; ls -la "$OUT"
