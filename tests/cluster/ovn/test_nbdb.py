"""Offline OVN: NB databases in must-gather form, made and read by the real OVN tools.

The fixtures in ``tests/fixtures/ovn/`` were written by ``scripts/make_nbdb.py``
(real ``ovsdb-tool``, ``ovsdb-server``, ``ovn-nbctl``) from the demo lab; one test
runs the script again and checks it still makes the same routes. Without the
tools installed every test here skips, saying which are missing.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from spkrunbook.cluster.ovn import listings as parsers
from spkrunbook.cluster.ovn import nbdb
from spkrunbook.errors import ExecError, NotAvailable, SnapshotError

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "ovn"
IC = FIXTURES / "interconnect"
LEGACY = FIXTURES / "legacy"
NODES = ["master-0", "master-1", "master-2", "worker-0", "worker-1", "worker-2"]
TMM_SELFIP = "10.1.10.100"  # params/demo.yaml vlans.internal.selfip_v4s
APP_IPS = ["10.128.8.41", "10.128.8.42"]  # the spk-apps pods on worker-1, TMM's node


@pytest.fixture(scope="module", autouse=True)
def tools() -> nbdb.OvnTools:
    try:
        return nbdb.find_tools()
    except NotAvailable as exc:
        pytest.skip(str(exc))


def _ic(node: str) -> nbdb.NbdbFile:
    return nbdb.nbdb_for_node(IC, node)


def _legacy() -> nbdb.NbdbFile:
    return nbdb.nbdb_for_node(LEGACY, "worker-1")


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(proc.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _icni2_rows(gateway: str) -> list[dict[str, Any]]:
    df = parsers.parse_lr_route_list(gateway)
    assert df.attrs["skipped"] == []
    rows = df[(df["policy"] == "src-ip") & (df["nexthop"] == TMM_SELFIP)]
    records: list[dict[str, Any]] = rows.to_dict(orient="records")
    return records


# -- finding the databases ---------------------------------------------------------------------------------------
def test_interconnect_archive_lists_one_database_per_ovnkube_node_pod() -> None:
    files = nbdb.find_nbdbs(IC)
    assert [f.mode for f in files] == ["interconnect"] * 6
    assert all(f.member == f"ovnk_database_store/{f.pod}_nbdb" for f in files)  # the _sbdb members are left out
    assert sorted(f.node or "" for f in files) == NODES
    worker1 = _ic("worker-1")
    assert worker1.pod == "ovnkube-node-b001x" and worker1.size and worker1.size > 0
    assert "ovnkube-node-b001x on worker-1" in worker1.describe()


def test_legacy_leader_database_serves_every_node() -> None:
    files = nbdb.find_nbdbs(LEGACY)
    assert [(f.mode, f.path.name, f.node) for f in files] == [("legacy", "leader_nbdb.gz", None)]
    assert {nbdb.nbdb_for_node(files, n).path for n in NODES} == {files[0].path}


def test_pod_nodes_from_per_pod_files_in_an_image_folder(tmp_path: Path) -> None:
    """must-gather root -> image folder; pods as namespaces/<ns>/pods/<pod>/<pod>.yaml instead of core/pods.yaml."""
    image = tmp_path / "quay-io-openshift-release-dev-ocp-v4-0-art-dev-sha256-0000"
    (image / "network_logs").mkdir(parents=True)
    shutil.copy(IC / "network_logs" / nbdb.IC_ARCHIVE, image / "network_logs")
    yaml = YAML(typ="safe")
    pods = yaml.load((IC / "namespaces" / nbdb.OVN_NAMESPACE / "core" / "pods.yaml").read_text())["items"]
    for pod in pods:
        name = pod["metadata"]["name"]
        folder = image / "namespaces" / nbdb.OVN_NAMESPACE / "pods" / name
        folder.mkdir(parents=True)
        with open(folder / f"{name}.yaml", "w") as fh:
            yaml.dump(pod, fh)
    assert nbdb.pod_nodes(tmp_path) == {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods}
    assert nbdb.nbdb_for_node(tmp_path, "worker-1").pod == "ovnkube-node-b001x"


def test_no_databases_and_unknown_nodes_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="holds no OVN NB database") as exc:
        nbdb.nbdb_for_node(tmp_path, "worker-1")
    assert "must-gather" in str(exc.value)
    with pytest.raises(SnapshotError, match="no ovnkube-node database for node worker-9") as exc:
        nbdb.nbdb_for_node(IC, "worker-9")
    assert "worker-1" in str(exc.value)
    with pytest.raises(SnapshotError, match="does not exist"):
        nbdb.find_nbdbs(tmp_path / "missing")


def test_interconnect_databases_are_mapped_to_nodes_by_the_name_they_hold(tmp_path: Path) -> None:
    """No pods.yaml: each database's NB_Global options:name is its node (issue 24 item 5)."""
    (tmp_path / "network_logs").mkdir()
    shutil.copy(IC / "network_logs" / nbdb.IC_ARCHIVE, tmp_path / "network_logs")
    files = nbdb.find_nbdbs(tmp_path)
    assert len(files) == 6 and {f.node for f in files} == {None}
    identified = nbdb.identify_nodes(files)  # each database's zone is its node
    assert [f.node for f in identified] == [f.node for f in nbdb.find_nbdbs(IC)]
    assert nbdb.nbdb_for_node(files, "worker-1").pod == "ovnkube-node-b001x"  # mapped by name, no pod list
    with pytest.raises(SnapshotError, match="no ovnkube-node database for node worker-9"):
        nbdb.nbdb_for_node(files, "worker-9")


def test_the_name_in_the_database_wins_over_a_wrong_pod_list(tmp_path: Path) -> None:
    mg = tmp_path / "mg"
    shutil.copytree(IC, mg)
    pods = mg / "namespaces" / "openshift-ovn-kubernetes" / "core" / "pods.yaml"
    y = YAML()
    data = y.load(pods.read_text())
    for p in data["items"]:  # the pod list swaps two pods' nodes
        if p["spec"]["nodeName"] in ("worker-1", "worker-2"):
            p["spec"]["nodeName"] = "worker-2" if p["spec"]["nodeName"] == "worker-1" else "worker-1"
    with open(pods, "w") as fh:
        y.dump(data, fh)
    assert {f.pod: f.node for f in nbdb.find_nbdbs(mg)}["ovnkube-node-b001x"] == "worker-2"  # what the list says
    assert nbdb.nbdb_for_node(mg, "worker-1").pod == "ovnkube-node-b001x"  # what the database says


def test_interconnect_node_database_has_its_routes_and_the_icni2_routes() -> None:
    with nbdb.open_nbdb(_ic("worker-1")) as db:
        assert not db.clustered and db.damage is None
        assert db.routers() == ["GR_worker-1", "ovn_cluster_router"]  # a zone holds only its own gateway router
        assert db.zone() == "worker-1"
        texts = db.route_tables("worker-1")
    icni2 = _icni2_rows(texts["gateway"])
    assert sorted(r["prefix"] for r in icni2) == APP_IPS
    assert all(r["port"] == "rtoe-GR_worker-1" and r["ecmp_symmetric_reply"] and r["bfd"] for r in icni2)
    gw = parsers.parse_lr_route_list(texts["gateway"])
    assert set(gw["route_table"]) == {"main"}  # OVN 23.03 prints "Route Table <main>:"
    default = gw[gw["prefix"] == "0.0.0.0/0"].iloc[0]
    assert (default["nexthop"], default["port"]) == ("10.1.10.1", "rtoe-GR_worker-1")
    cluster = parsers.parse_lr_route_list(texts["cluster"])
    assert cluster.attrs["skipped"] == []
    local = cluster[cluster["policy"] == "src-ip"]
    assert local[["prefix", "nexthop"]].values.tolist() == [["10.128.8.0/23", "100.64.0.6"]]
    remote = cluster[(cluster["policy"] == "dst-ip") & cluster["nexthop"].str.startswith("100.88.")]
    assert len(remote) == 10  # five other zones: node subnet and join address each, via the transit switch
    policies = parsers.parse_lr_policy_list(texts["policies"])
    assert policies.attrs["skipped"] == []
    reroute = policies[policies["action"] == "reroute"]
    assert reroute[["priority", "nexthops"]].values.tolist() == [[1004, ["10.128.8.2"]]]
    assert (policies["action"] == "allow").sum() == 8


def test_interconnect_other_node_database_holds_no_icni2_routes_and_no_foreign_router() -> None:
    with nbdb.open_nbdb(_ic("worker-0")) as db:
        assert _icni2_rows(db.nbctl("lr-route-list", "GR_worker-0")) == []
        with pytest.raises(ExecError, match="GR_worker-1") as exc:
            db.nbctl("lr-route-list", "GR_worker-1")
    assert "lr-list" in str(exc.value)


def test_legacy_clustered_leader_database_has_every_gateway_router() -> None:
    with nbdb.open_nbdb(_legacy()) as db:
        assert db.clustered
        assert db.routers() == [f"GR_{n}" for n in NODES] + ["ovn_cluster_router"]
        assert db.zone() is None
        texts = db.route_tables("worker-1")
        other = db.nbctl("lr-route-list", "GR_worker-2")
    assert sorted(r["prefix"] for r in _icni2_rows(texts["gateway"])) == APP_IPS
    assert _icni2_rows(other) == []
    cluster = parsers.parse_lr_route_list(texts["cluster"])
    assert len(cluster[cluster["policy"] == "src-ip"]) == 6
    policies = parsers.parse_lr_policy_list(texts["policies"])
    assert len(policies[policies["priority"] == 1004]) == 6


def test_read_route_tables_picks_the_node_database() -> None:
    source, texts = nbdb.read_route_tables(IC, "worker-1")
    assert source.pod == "ovnkube-node-b001x"
    assert set(texts) == {"gateway", "cluster", "policies"}
    assert len(_icni2_rows(texts["gateway"])) == 2


def test_plain_database_file_is_read_too(tmp_path: Path) -> None:
    """A database copied by hand (raw, or gunzipped leader_nbdb) needs no archive."""
    raw = tmp_path / "leader_nbdb"
    raw.write_bytes(gzip.decompress((LEGACY / "network_logs" / "leader_nbdb.gz").read_bytes()))
    with nbdb.open_nbdb(raw) as db:
        assert db.clustered and "GR_worker-1" in db.routers()


# -- the private server ---------------------------------------------------------------------------------------
def test_server_is_gone_after_the_block() -> None:
    with nbdb.open_nbdb(_ic("worker-1")) as db:
        pid, run_dir = db.pid, db.run_dir
        assert _alive(pid) and db.socket.exists() and str(db.socket).startswith(str(run_dir))
        assert _processes_mentioning(str(run_dir)) == [pid]
    assert not _alive(pid)
    assert not run_dir.exists()
    assert _processes_mentioning(str(run_dir)) == []


def test_server_is_gone_after_an_error_in_the_block() -> None:
    with pytest.raises(ExecError), nbdb.open_nbdb(_legacy()) as db:
        pid, run_dir = db.pid, db.run_dir
        db.nbctl("lr-route-list", "GR_no-such-node")
    assert not _alive(pid) and not run_dir.exists()
    assert _processes_mentioning(str(run_dir)) == []


def test_reading_leaves_the_snapshot_untouched() -> None:
    def digest() -> dict[str, str]:
        return {str(p.relative_to(FIXTURES)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(FIXTURES.rglob("*")) if p.is_file()}

    before = digest()
    with nbdb.open_nbdb(_ic("worker-2")) as db:
        db.routers()
    with nbdb.open_nbdb(_legacy()) as db:
        db.routers()
    assert digest() == before


# -- what goes wrong ------------------------------------------------------------------------------------------
def test_missing_tools_are_not_available(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: ovsdb-tool and ovn-nbctl are not found
    with pytest.raises(NotAvailable, match="ovsdb-tool") as exc:
        nbdb.find_tools()
    assert "ovn-central" in str(exc.value) and "openvswitch-common" in str(exc.value)
    with pytest.raises(NotAvailable), nbdb.open_nbdb(_ic("worker-1")):
        pass


def _member_bytes(pod: str, suffix: str = "nbdb") -> bytes:
    with tarfile.open(IC / "network_logs" / nbdb.IC_ARCHIVE) as tar:
        fh = tar.extractfile(f"ovnk_database_store/{pod}_{suffix}")
        assert fh is not None
        return fh.read()


def _flip_late_byte(data: bytes) -> bytes:
    b = bytearray(data)
    b[len(b) - 300] ^= 0x01  # inside the last transaction record: its SHA-1 no longer matches
    return bytes(b)


@pytest.mark.parametrize("name, make, message", [
    ("garbage.db", lambda: b"this is not a database\n" * 10, "not an OVSDB database"),
    ("garbage.gz", lambda: gzip.compress(b"{}\n"), "not an OVSDB database"),
    ("cut.gz", lambda: (LEGACY / "network_logs" / "leader_nbdb.gz").read_bytes()[:3000], "cannot be decompressed"),
    ("cut_schema_nbdb", lambda: _member_bytes("ovnkube-node-b001x")[:5000], "not a readable OVSDB database"),
    ("cut_nbdb", lambda: _member_bytes("ovnkube-node-b001x")[:20000], "is damaged.*End of file"),
    ("flipped_nbdb", lambda: _flip_late_byte(_member_bytes("ovnkube-node-b001x")), "is damaged"),
    ("flipped_leader", lambda: _flip_late_byte(gzip.decompress(
        (LEGACY / "network_logs" / "leader_nbdb.gz").read_bytes())), "is damaged"),
    ("southbound_sbdb", lambda: _member_bytes("ovnkube-node-b001x", "sbdb"), "holds OVN_Southbound"),
])
def test_corrupt_or_wrong_database_is_a_snapshot_error(tmp_path: Path, name: str, make: Callable[[], bytes],
                                                       message: str) -> None:
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises(SnapshotError, match=message) as exc, nbdb.open_nbdb(path):
        pass
    assert exc.value.hint  # every message says what to do
    assert _processes_mentioning(str(tmp_path)) == []


def test_damaged_database_can_be_read_on_request_and_says_so(tmp_path: Path) -> None:
    """strict=False serves the records before the damage, as ovsdb-server does, with the damage named."""
    path = tmp_path / "flipped_nbdb"
    path.write_bytes(_flip_late_byte(_member_bytes("ovnkube-node-b001x")))
    with nbdb.open_nbdb(path, strict=False) as db:
        assert db.damage and "hash" in db.damage
        rows = _icni2_rows(db.nbctl("lr-route-list", "GR_worker-1"))
    assert len(rows) < 2  # the last route was in the damaged record: this is why strict is the default


def test_size_bound_refuses_a_bigger_database() -> None:
    with pytest.raises(SnapshotError, match="larger than 1000"), nbdb.open_nbdb(_ic("worker-1"), max_bytes=1000):
        pass
    with pytest.raises(SnapshotError, match="larger than 1000"), nbdb.open_nbdb(_legacy(), max_bytes=1000):
        pass  # gzip: bounded while decompressing


def _tar_with(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _must_gather_with_archive(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    (tmp_path / "mg" / "network_logs").mkdir(parents=True)
    _tar_with(tmp_path / "mg" / "network_logs" / nbdb.IC_ARCHIVE, members)
    return tmp_path / "mg"


@pytest.mark.parametrize("bad", ["ovnk_database_store/../../evil_nbdb", "../evil_nbdb", "/tmp/evil_nbdb",
                                 "ovnk_database_store/../x"])
def test_archive_with_an_unsafe_member_is_refused(tmp_path: Path, bad: str) -> None:
    good = tarfile.TarInfo("ovnk_database_store/ovnkube-node-b001x_nbdb")
    mg = _must_gather_with_archive(tmp_path, [(good, _member_bytes("ovnkube-node-b001x")),
                                              (tarfile.TarInfo(bad), b"x")])
    with pytest.raises(SnapshotError, match="unsafe member name") as exc:
        nbdb.find_nbdbs(mg)
    assert "collect it again" in str(exc.value)
    assert not (tmp_path / "evil_nbdb").exists() and not Path("/tmp/evil_nbdb").exists()
    forged = nbdb.NbdbFile(mg / "network_logs" / nbdb.IC_ARCHIVE, "interconnect", bad, "evil")
    with pytest.raises(SnapshotError, match="unsafe member name"), nbdb.open_nbdb(forged):
        pass


def test_member_missing_from_the_archive_is_a_snapshot_error() -> None:
    gone = nbdb.NbdbFile(IC / "network_logs" / nbdb.IC_ARCHIVE, "interconnect",
                          "ovnk_database_store/ovnkube-node-zzz_nbdb", "ovnkube-node-zzz")
    with pytest.raises(SnapshotError, match="has no member ovnk_database_store/ovnkube-node-zzz_nbdb"), \
            nbdb.open_nbdb(gone):
        pass


def test_archive_with_a_linked_database_is_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("ovnk_database_store/ovnkube-node-b001x_nbdb")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    mg = _must_gather_with_archive(tmp_path, [(link, None)])
    with pytest.raises(SnapshotError, match="link or special file"):
        nbdb.find_nbdbs(mg)


def test_truncated_archive_is_a_snapshot_error(tmp_path: Path) -> None:
    (tmp_path / "network_logs").mkdir()
    data = (IC / "network_logs" / nbdb.IC_ARCHIVE).read_bytes()
    (tmp_path / "network_logs" / nbdb.IC_ARCHIVE).write_bytes(data[: len(data) // 2])
    with pytest.raises(SnapshotError, match=r"not a readable tar\.gz archive"):
        nbdb.find_nbdbs(tmp_path)


# -- the generator ------------------------------------------------------------------------------------------
def test_make_nbdb_script_builds_the_fixtures_routes(tmp_path: Path) -> None:
    """scripts/make_nbdb.py, run again, makes databases with the same routes as the committed fixtures."""
    out = tmp_path / "both"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_nbdb.py"), "--out", str(out),
                           "--mode", "both"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "added pod openshift-ovn-kubernetes/ovnkube-node-d003x on master-0" in done.stdout
    # the demo snapshot carries the routing namespace's pods since it gained its NB database
    assert ("added pod spk-apps/spk-app-0 on worker-1 with IP 10.128.8.41" in done.stdout
            or "spk-app-0" in (ROOT / "spkrunbook" / "demo" / "snapshot").joinpath(
                "quay-io-openshift-release-dev-ocp-v4-0-art-dev-sha256-5d1c4f0d", "namespaces", "spk-apps", "pods",
                "spk-app-0", "spk-app-0.yaml").read_text())
    with tarfile.open(out / "network_logs" / nbdb.IC_ARCHIVE) as new, \
            tarfile.open(IC / "network_logs" / nbdb.IC_ARCHIVE) as old:
        assert new.getnames() == old.getnames()
    fresh, committed = nbdb.find_nbdbs(out), nbdb.find_nbdbs(IC) + nbdb.find_nbdbs(LEGACY)
    assert [(f.mode, f.pod, f.node) for f in fresh] == [(f.mode, f.pod, f.node) for f in committed]
    for a, b in [(nbdb.nbdb_for_node(fresh, "worker-1"), _ic("worker-1")),
                 (next(f for f in fresh if f.mode == "legacy"), _legacy())]:
        with nbdb.open_nbdb(a) as new_db, nbdb.open_nbdb(b) as old_db:
            new_texts, old_texts = new_db.route_tables("worker-1"), old_db.route_tables("worker-1")
        assert new_texts == old_texts
