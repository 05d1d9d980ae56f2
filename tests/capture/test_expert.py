"""The TCP expert analysis flags the same frames as tshark 4.0's ``tcp.analysis.*``.

The captures in tests/fixtures/analysis were made by the real tcpdump between
two network namespaces whose link lost, duplicated, reordered or delayed frames
(``scripts/make_analysis_captures.sh``; MANIFEST says how), and each has the
frames ``tshark -Y tcp.analysis.<kind>`` listed, kind by kind.  The slow tests
make fresh ones.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from spkrunbook.capture import expert, read_capture, read_pcap, read_tcpdump_text, stats

ROOT = Path(__file__).resolve().parents[2]
ANALYSIS = ROOT / "tests" / "fixtures" / "analysis"
CAPTURES = ROOT / "tests" / "fixtures" / "captures"
CONDITIONS = ("loss", "duplicate", "reorder", "delay", "window", "keepalive")
KINDS = expert.KIND_NAMES


def stored_tshark(path: Path) -> dict[str, list[int]]:
    """``<capture>.expert.csv``: the frames tshark listed for each kind."""
    out: dict[str, list[int]] = {k: [] for k in KINDS}
    with open(path.with_suffix(".expert.csv"), newline="") as f:
        for row in csv.DictReader(f):
            out[row["kind"]].append(int(row["frame"]))
    return {k: sorted(v) for k, v in out.items()}


def live_tshark(path: Path) -> dict[str, list[int]]:
    """Ask tshark itself, one ``-Y tcp.analysis.<kind>`` per kind."""
    out = {}
    for k, filt, _ in expert.KINDS:
        r = subprocess.run(["tshark", "-r", str(path), "-Y", filt, "-T", "fields", "-e", "frame.number"],
                           capture_output=True, text=True, check=True)
        out[k] = sorted(int(x) for x in r.stdout.split())
    return out


def ours(df: pd.DataFrame) -> dict[str, list[int]]:
    e = expert.analyze(df)
    return {k: e.frames(k) for k in KINDS if k not in e.unavailable}


@pytest.mark.parametrize("side", ["tx", "rx"])
@pytest.mark.parametrize("cond", CONDITIONS)
def test_pcap_flags_equal_tshark(cond: str, side: str) -> None:
    path = ANALYSIS / f"{cond}.{side}.pcap"
    got, want = ours(read_pcap(path)), stored_tshark(path)
    assert got == want  # every kind: the same count and the same frame numbers


def test_the_captures_show_every_kind() -> None:
    """The fixtures are worth comparing: together they hold every kind the brief names."""
    seen = {k for c in CONDITIONS for s in ("tx", "rx") for k, v in stored_tshark(ANALYSIS / f"{c}.{s}.pcap").items() if v}
    assert {"retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order", "lost_segment",
            "duplicate_ack", "zero_window", "window_full", "window_update", "keep_alive", "keep_alive_ack"} <= seen


@pytest.mark.parametrize("render", ["nn", "S"])
@pytest.mark.parametrize("cond", CONDITIONS)
def test_text_rendering_gives_the_pcap_counts(cond: str, render: str) -> None:
    """tcpdump text (relative numbers, or absolute with -S) flags the same frames, except what text cannot carry.

    On these captures even the kinds text only infers (zero-length segments print no seq) agree.
    """
    pcap = ANALYSIS / f"{cond}.rx.pcap"
    df = read_tcpdump_text(ANALYSIS / f"{cond}.rx.{render}.txt")
    e = expert.analyze(df)
    assert set(e.unavailable) == {"window_full"}
    assert e.relative_text is (render == "nn")
    want = stored_tshark(pcap)
    assert {k: e.frames(k) for k in KINDS if k != "window_full"} == {k: v for k, v in want.items() if k != "window_full"}
    c = e.counts().set_index("kind")
    assert pd.isna(c.loc["window_full", "packets"]) and not c.loc["window_full", "available"]
    assert "text" in c.loc["keep_alive", "note"] and not c.loc["keep_alive", "exact"] and c.loc["retransmission", "exact"]


def test_text_relative_flag_overrides_detection() -> None:
    df = read_tcpdump_text(ANALYSIS / "loss.rx.nn.txt")
    wrong = expert.analyze(df, relative=False)
    assert wrong.relative_text is False
    assert wrong.frames("lost_segment") != stored_tshark(ANALYSIS / "loss.rx.pcap")["lost_segment"]


@pytest.mark.parametrize("name", ["eth", "any_sll2", "any_sll1", "snap96", "nano", "be", "multi.ng"])
def test_older_captures_agree_with_tshark_fields(name: str) -> None:
    """The reader's own test captures (link taken down mid-transfer): retransmissions and dup ACKs as tshark."""
    t = pd.read_csv(CAPTURES / f"{name}.fields.csv", dtype=str, keep_default_na=False)
    f = CAPTURES / (name.replace(".ng", "") + (".pcapng" if name.endswith(".ng") else ".pcap"))
    e = expert.analyze(read_pcap(f))
    for kind in ("retransmission", "duplicate_ack"):
        assert e.frames(kind) == t.loc[t[f"tcp.analysis.{kind}"] != "", "frame.number"].astype(int).tolist()


def test_window_scale_column_equals_tshark() -> None:
    df = read_pcap(ANALYSIS / "window.rx.pcap")
    syn = df[df["tcp_flags"].astype(str).str.startswith("S")]
    assert len(syn) >= 2 and syn["tcp_wscale"].notna().all()
    assert df.loc[~df.index.isin(syn.index), "tcp_wscale"].isna().all()
    if shutil.which("tshark"):
        r = subprocess.run(["tshark", "-r", str(ANALYSIS / "window.rx.pcap"), "-Y", "tcp.flags.syn==1", "-T", "fields",
                            "-e", "frame.number", "-e", "tcp.options.wscale.shift"], capture_output=True, text=True, check=True)
        want = {int(a): int(b) for a, b in (ln.split("\t") for ln in r.stdout.splitlines())}
        assert {int(a): int(b) for a, b in zip(syn["frame"], syn["tcp_wscale"])} == want


def test_port_reuse_starts_a_new_stream() -> None:
    """keepalive.rx has two connections from client port 40001 (RST-closed): tshark's streams 1 and 2."""
    df = read_pcap(ANALYSIS / "keepalive.rx.pcap")
    p = expert.analyze(df).packets
    port = df["sport"].iloc[p["row"]].to_numpy() == 40001
    assert sorted(set(p.loc[port, "stream"])) == [1, 2]


def test_result_tables() -> None:
    df = read_pcap(ANALYSIS / "loss.rx.pcap")
    e = expert.analyze(df)
    c = e.counts()
    assert list(c["kind"]) == list(KINDS) and c["available"].all()
    assert c.set_index("kind").loc["lost_segment", "packets"] == len(stored_tshark(ANALYSIS / "loss.rx.pcap")["lost_segment"])
    ev = e.events(df, ["lost_segment", "duplicate_ack"])
    assert set(ev["kind"]) == {"lost_segment", "duplicate_ack"} and ev["frame"].is_monotonic_increasing
    assert len(ev) == c.set_index("kind").loc[["lost_segment", "duplicate_ack"], "packets"].sum()
    p = e.packets
    fin = (df["tcp_flagbits"].iloc[p["row"]].to_numpy() & 1) != 0
    data = p[p["payload_len"].to_numpy() > 0]
    assert (data["seq_rel"] >= 1).all()
    assert (data["next_seq_rel"] == data["seq_rel"] + data["payload_len"] + fin[p["payload_len"].to_numpy() > 0]).all()
    with pytest.raises(ValueError, match="unknown kind"):
        e.frames("bogus")


def test_tcp_anomalies_are_the_expert_retransmissions_and_dup_acks() -> None:
    df = read_pcap(ANALYSIS / "reorder.rx.pcap")
    a = stats.tcp_anomalies(df)
    want = stored_tshark(ANALYSIS / "reorder.rx.pcap")
    assert a.loc[a["kind"] == "retransmission", "frame"].astype(int).tolist() == want["retransmission"]
    assert a.loc[a["kind"] == "duplicate_ack", "frame"].astype(int).tolist() == want["duplicate_ack"]


def test_empty_and_non_tcp() -> None:
    from spkrunbook.capture.schema import empty_frame

    e = expert.analyze(empty_frame())
    assert len(e.packets) == 0 and e.counts()["packets"].fillna(0).sum() == 0
    assert len(e.events(empty_frame())) == 0


@pytest.mark.skipif(not shutil.which("tshark"), reason="tshark is not installed: the stored tshark lists were used")
def test_stored_lists_are_what_tshark_says() -> None:
    for c in ("loss", "window", "keepalive"):
        for s in ("tx", "rx"):
            p = ANALYSIS / f"{c}.{s}.pcap"
            assert live_tshark(p) == stored_tshark(p), p.name


# ---------------------------------------------------------------------------- fresh captures
def _capability_problem() -> str | None:
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    for tool in ("tcpdump", "tshark", "ip"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (the relay needs TAP devices)"
    return None


def _netem_problem() -> str | None:
    ns = f"spkx-netem-probe-{os.getpid()}"
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
        subprocess.run(["ip", "-n", ns, "link", "add", "p0", "type", "veth", "peer", "name", "p1"], check=True, capture_output=True)
        r = subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "p0", "root", "netem", "delay", "1ms"],
                           check=False, capture_output=True, text=True)
        return None if r.returncode == 0 else f"this kernel has no sch_netem ({r.stderr.strip() or 'tc failed'})"
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"cannot make a probe namespace: {exc}"
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def _fresh(tmp_path: Path, cond: str, mode: str) -> None:
    env = dict(os.environ, IMPAIR=mode, PYTHON=shutil.which("python3") or "python3")
    r = subprocess.run(["bash", str(ROOT / "scripts" / "make_analysis_captures.sh"), str(tmp_path), cond],
                       check=False, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{cond}: {mode}" in (tmp_path / "MANIFEST").read_text()
    for side in ("tx", "rx"):
        p = tmp_path / f"{cond}.{side}.pcap"
        want = live_tshark(p)
        assert ours(read_pcap(p)) == want, p.name
        assert stored_tshark(p) == want
    e = expert.analyze(read_capture(tmp_path / f"{cond}.rx.nn.txt"))
    exact = [k for k in KINDS if k not in e.unavailable and k not in e.inferred]
    want = live_tshark(tmp_path / f"{cond}.rx.pcap")
    assert {k: e.frames(k) for k in exact} == {k: want[k] for k in exact}


@pytest.mark.slow
@pytest.mark.parametrize("cond", ["loss", "reorder"])
def test_fresh_capture_through_the_relay(tmp_path: Path, cond: str) -> None:
    problem = _capability_problem()
    if problem:
        pytest.skip(problem)
    _fresh(tmp_path, cond, "relay")


@pytest.mark.slow
@pytest.mark.parametrize("cond", ["loss", "duplicate", "reorder", "delay"])
def test_fresh_capture_through_netem(tmp_path: Path, cond: str) -> None:
    problem = _capability_problem() or _netem_problem()
    if problem:
        pytest.skip(problem)
    _fresh(tmp_path, cond, "netem")


@pytest.mark.parametrize("cond", [["bogus", "1"], ["loss"], ["reorder", "5"], ["loss", "x"]])
def test_relay_refuses_a_condition_it_does_not_know(cond: list[str], tmp_path: Path) -> None:
    """scripts/impair.py says what it accepts before it touches any device."""
    r = subprocess.run([shutil.which("python3") or "python3", str(ROOT / "scripts" / "impair.py"), "--a-ns", "a", "--a-dev", "ta",
                        "--b-ns", "b", "--b-dev", "tb", "--ready", str(tmp_path / "ready"), *cond],
                       check=False, capture_output=True, text=True)
    assert r.returncode == 2 and "loss P | duplicate P | reorder P MS | delay MS" in r.stderr
    assert not (tmp_path / "ready").exists()


def test_counts_of_several_captures_side_by_side() -> None:
    tx, rx = read_pcap(ANALYSIS / "loss.tx.pcap"), read_pcap(ANALYSIS / "loss.rx.pcap")
    table = expert.expert_counts([tx, rx])
    assert list(table.columns) == [str(tx.attrs["source"]), str(rx.attrs["source"])] and list(table.index) == list(KINDS)
    assert table.iloc[:, 1]["lost_segment"] == len(stored_tshark(ANALYSIS / "loss.rx.pcap")["lost_segment"])
    assert table.iloc[:, 0]["lost_segment"] == 0  # the sender's side saw every segment it sent
