"""`records share`: a copy for a vendor with addresses, MACs and node names replaced consistently
across every file and inside the captures; the original record untouched (slow: a real run)."""

from __future__ import annotations

import hashlib
import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest

from spkrunbook import cli, runbook
from spkrunbook.capture import read_pcap, stats
from spkrunbook.capture.anonymize import Pseudonyms
from spkrunbook.errors import RecordError
from spkrunbook.record.share import share
from tests.support.paths import DEMO_PARAMS

pytestmark = pytest.mark.slow
NODES = [f"worker-{i}" for i in range(3)] + [f"master-{i}" for i in range(3)]


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    res = runbook.run(DEMO_PARAMS, records_root=tmp_path_factory.mktemp("records"))
    assert res.exit_code == 0
    return res.record


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def test_shared_copy_replaces_every_address_and_name_and_keeps_the_original(record: Path, tmp_path: Path) -> None:
    before = _hashes(record)
    res = share(record, tmp_path / "shared")
    assert _hashes(record) == before, "the original record is never touched"
    out = res.out
    assert res.captures and (out / "SHARED-README.md").is_file()
    assert all(k.endswith((".png", ".svg")) for k in res.left_out), res.left_out  # no redraw given: pictures out
    original = read_pcap(record / "debugging" / "captures" / "net1.pcap")
    addrs = {str(a) for a in set(original["src"].dropna().astype(str)) | set(original["dst"].dropna().astype(str))}
    addrs = {a for a in addrs if not ipaddress.ip_address(a).is_link_local and not ipaddress.ip_address(a).is_multicast}
    assert "10.1.10.100" in addrs
    needles = [a.encode() for a in addrs] + [n.encode() for n in NODES] + [b"00:50:56:9A", b"00:50:56:9a"]
    packed = [ipaddress.ip_address(a).packed for a in addrs]
    for p in out.rglob("*"):
        if not p.is_file():
            continue
        data = p.read_bytes()
        found: list[object] = [n for n in needles if n in data]
        if p.suffix == ".pcap":
            found += [ipaddress.ip_address(b).compressed for b in packed if b in data]
        assert not found, f"{p.relative_to(out)} still holds {found[:3]}"
    # the same original, the same token, in every kind of file: the TMM internal self IP
    token = Pseudonyms().text("10.1.10.100")  # the first /24 a share meets keeps its number; check it is used
    assert token.startswith("198.18.") and token.endswith(".100")
    vlans = (out / "spk-install" / "f5spkvlans.yaml").read_text()
    gateway = (out / "debugging" / "ovn" / "gateway.txt").read_text()
    table = (out / "debugging" / "captures" / "net1.conversations.csv").read_text()
    mapped = next(t for t in vlans.split() if t.startswith("198.18.") and t.endswith(".100"))
    assert mapped in gateway and mapped in table, "one placeholder for 10.1.10.100 in YAML, OVN routes, CSV"
    b = read_pcap(out / "debugging" / "captures" / "net1.pcap")
    assert mapped in set(b["dst"].dropna().astype(str)), "and in the rewritten pcap"
    assert "rtoe-GR_node-" in gateway

def test_shared_capture_keeps_its_shape_with_new_addresses_and_valid_checksums(record: Path, tmp_path: Path) -> None:
    out = share(record, tmp_path / "shared").out
    for name in ("cni0.pcap", "net1.pcap", "net2.pcap"):
        a = read_pcap(record / "debugging" / "captures" / name)
        b = read_pcap(out / "debugging" / "captures" / name)
        assert len(a) == len(b)
        shape = ["protocol", "packets_ab", "bytes_ab", "packets_ba", "bytes_ba", "a_port", "b_port"]
        ca = stats.conversations(a)[shape].astype(str).sort_values(shape).reset_index(drop=True)
        cb = stats.conversations(b)[shape].astype(str).sort_values(shape).reset_index(drop=True)
        assert ca.equals(cb), name
        assert set(b["src"].dropna().astype(str)).isdisjoint({"10.1.10.100", "10.1.10.22", "10.1.20.100"})
        if shutil.which("tshark"):
            # Wireshark's checksum status: 0 bad, 1 good, 2 unverified (a frame cut by the snaplen). A capture
            # taken where the NIC computes checksums later (net2: a veth) holds bad ones from the start: the
            # rewrite must leave each checksum as right as it was, never make a good one bad.
            def frames(pcap: Path, status: int) -> list[str]:
                text = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "frame.number",
                                       "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                                       "-o", "udp.check_checksum:TRUE", "-Y",
                                       " || ".join(f"{p}.checksum.status=={status}"
                                                   for p in ("ip", "tcp", "udp", "icmp", "icmpv6"))],
                                      capture_output=True, text=True, check=True).stdout
                return text.split()

            before, after = record / "debugging" / "captures" / name, out / "debugging" / "captures" / name
            assert frames(after, 0) == frames(before, 0), f"{name}: checksums made bad by the rewrite"
            assert frames(after, 1) == frames(before, 1) != [], f"{name}: good checksums kept good"


def test_share_never_overwrites_and_the_cli_says_where(record: Path, tmp_path: Path, capsys) -> None:
    dest = tmp_path / "taken"
    dest.mkdir()
    with pytest.raises(RecordError):
        share(record, dest)
    assert cli.main(["records", "share", str(record), "--out", str(tmp_path / "cli")]) == 0
    said = capsys.readouterr().out
    assert "shared copy:" in said and (tmp_path / "cli" / "run.json").is_file()
    assert "left out" not in said, "the CLI draws every picture again: nothing is left out of a demo record"
