"""tcpdump text reader benchmark: ``read_tcpdump_text`` against a plain Python ``re`` loop and RE2, per form.

    python benchmarks/bench_text.py [--packets N] [--forms nn,names,e,any,any_e,tttt,ttttt,v] [--repeat R]
                                    [--workdir DIR] [--write-readme]

The text is what the real tcpdump prints for the generated capture
(benchmarks/make_capture_bench.py; the ``any`` forms from the same traffic
captured as ``-i any`` writes it, Linux cooked v2).  Every form is rendered
offline: tcpdump always runs with ``-nn`` (no name lookups, which stall without
DNS), and the ``names`` form is that text with addresses and ports replaced the
way tcpdump prints them when names resolve (host names for the lab's servers,
service names from /etc/services), so no benchmark needs a network.

Readers, each in a fresh process (peak memory is its own), interleaved ``R``
times, best run kept:

- ours: ``read_tcpdump_text`` (the C scanner, LINE_RE in RE2 for the lines it
  hands back), a schema DataFrame;
- ours without the C scanner: what a machine without a compiler runs (the RE2
  gate and numpy byte walk, LINE_RE for the rest);
- the plain Python ``re`` loop: LINE_RE (the expression that reads every form)
  matched line by line, the groups collected into a DataFrame;
- RE2: pyarrow's ``extract_regex`` with LINE_RE over all lines at once, to a DataFrame.

Ratios are within one run (the machine is shared; absolute numbers are context).
Wall-clock lines/s on a busy 2-core machine are the share of a core a reader got;
lines per CPU-second say what each reader costs, whatever the load (RE2 may use
several threads, so its CPU can exceed its wall time).
No assertions: numbers, not tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
FORMS = {"nn": ("eth", ["-nn"]), "names": ("eth", ["-nn"]), "e": ("eth", ["-nn", "-e"]), "any": ("sll2", ["-nn"]),
         "any_e": ("sll2", ["-nn", "-e"]), "tttt": ("eth", ["-nn", "-tttt"]), "ttttt": ("eth", ["-nn", "-ttttt"]),
         "v": ("eth", ["-nn", "-v"])}
LABEL = {"nn": "`-nn`", "names": "names (host and service names)", "e": "`-nn -e`", "any": "`-i any -nn` (SLL2)",
         "any_e": "`-i any -nn -e` (SLL2)", "tttt": "`-nn -tttt`", "ttttt": "`-nn -ttttt`", "v": "`-nn -v` (two-line records)"}

CHILD = r'''
import json, sys, time, re
kind, path = sys.argv[1], sys.argv[2]
import numpy, pandas, pyarrow, pyarrow.compute as pc
from spkrunbook.capture import text
def status(k):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(k + ":"):
                return int(line.split()[1]) * 1024
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak below is this measurement's, above the imports
base = status("VmRSS")
t, c = time.perf_counter(), time.process_time()
if kind in ("ours", "ours_noc"):
    text.use_c_scan(kind == "ours")
    df = text.read_tcpdump_text(path)
    rows = len(df)
elif kind == "re_loop":
    rx = re.compile(text.LINE_RE)
    out = []
    with open(path) as f:
        for line in f:
            m = rx.match(line.rstrip("\n"))
            if m:
                out.append(m.groups())
    df = pandas.DataFrame(out, columns=list(rx.groupindex))
    rows = len(df)
elif kind == "re2":
    from spkrunbook.capture import _text_fast
    with open(path, "rb") as f:
        arr = _text_fast.lines_array(f.read())
    st = pc.extract_regex(arr, text.LINE_RE)
    df = pyarrow.Table.from_struct_array(st).to_pandas()
    rows = int(st.is_valid().to_numpy(zero_copy_only=False).sum())
seconds, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": rows, "peak_mb": (status("VmHWM") - base) / 2**20}))
'''


def child(kind: str, path: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([PY, "-c", CHILD, kind, path], capture_output=True, text=True, env=env)
    if r.returncode:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


_HOSTS = {"10.1.10.100": "web.lab", "10.1.10.53": "dns.lab", "10.1.10.54": "ntp.lab", "10.1.10.55": "collector.lab",
          "fd00::a01:a64": "web6.lab"}
_ADDR = re.compile(r"\b(\d+\.\d+\.\d+\.\d+|fd00::[0-9a-f:]+)\.(\d+)\b|\b(\d+\.\d+\.\d+\.\d+)\b")


def names_form(nn_text: str) -> str:
    """The -nn text as tcpdump prints it when names resolve: server addresses as host names, client addresses
    as worker names, ports as services (offline: a fixed map and /etc/services, no DNS)."""
    services: dict[int, str] = {}

    def service(port: str) -> str:
        p = int(port)
        if p not in services:
            try:
                services[p] = socket.getservbyport(p, "tcp")
            except OSError:
                services[p] = port
        return services[p]

    def host(a: str) -> str:
        if a in _HOSTS:
            return _HOSTS[a]
        if a.startswith("10.128.") or a.startswith("10.144."):
            return "worker-" + a.split(".", 2)[2].replace(".", "-")
        return a

    def sub(m: re.Match[str]) -> str:
        if m.group(3):
            return host(m.group(3))
        return f"{host(m.group(1))}.{service(m.group(2))}"

    return _ADDR.sub(sub, nn_text)


def render(wd: Path, packets: int, form: str) -> Path:
    sys.path.insert(0, str(HERE.parent))  # the checkout: benchmarks.* by its package name (as mypy reads it)
    from benchmarks.make_capture_bench import write

    link, flags = FORMS[form]
    pcap = wd / f"bench.{link}.{packets}.pcap"
    if not pcap.exists():
        write(str(pcap), packets, link=link)
    out = wd / f"bench.{form}.{packets}.txt"
    if not out.exists():
        r = subprocess.run(["tcpdump", *flags, "-r", str(pcap)], capture_output=True, check=True, timeout=3600)
        data = r.stdout
        if form == "names":
            data = names_form(data.decode()).encode()
        out.write_bytes(data)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--packets", type=int, default=300_000)
    ap.add_argument("--forms", default=",".join(FORMS), help="comma list of " + ",".join(FORMS))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--write-readme", action="store_true")
    a = ap.parse_args()
    wd = Path(a.workdir or tempfile.mkdtemp(prefix="textbench-"))
    wd.mkdir(parents=True, exist_ok=True)
    kinds = ("ours", "re_loop", "re2", "ours_noc")
    rows = []
    for form in a.forms.split(","):
        path = render(wd, a.packets, form)
        lines = path.read_bytes().count(b"\n")
        best: dict[str, dict] = {}
        for _ in range(a.repeat):
            for kind in kinds:
                r = child(kind, str(path))
                if kind not in best or ("seconds" in r and r["seconds"] < best[kind].get("seconds", float("inf"))):
                    best[kind] = r
        rows.append((form, lines, best))
        print(form, lines, json.dumps(best), flush=True)
    table = ["| form | lines | ours lines/s | `re` loop lines/s | RE2 lines/s | ours ÷ `re` | ours ÷ RE2 | "
             "lines per CPU-second: ours / `re` / RE2 | ours without C lines/s | packets read (ours / `re` loop) | "
             "peak MiB (ours / `re` / RE2) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for form, lines, b in rows:
        if any("seconds" not in b[k] for k in kinds):
            table.append(f"| {LABEL[form]} | {lines:,} | " + " | ".join(str(b[k].get("error", "")) for k in kinds) + " | | | | | |")
            continue
        speed = {k: lines / b[k]["seconds"] for k in kinds}
        cpu = {k: lines / b[k]["cpu"] for k in kinds}
        table.append(f"| {LABEL[form]} | {lines:,} | {speed['ours']:,.0f} | {speed['re_loop']:,.0f} | {speed['re2']:,.0f} | "
                     f"{speed['ours'] / speed['re_loop']:.1f}x | {speed['ours'] / speed['re2']:.1f}x | "
                     f"{cpu['ours']:,.0f} / {cpu['re_loop']:,.0f} / {cpu['re2']:,.0f} | {speed['ours_noc']:,.0f} | "
                     f"{b['ours']['rows']:,} / {b['re_loop']['rows']:,} | "
                     f"{b['ours']['peak_mb']:.0f} / {b['re_loop']['peak_mb']:.0f} / {b['re2']['peak_mb']:.0f} |")
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    head = (f"machine: {os.cpu_count()} cores, {platform.machine()}; Python {platform.python_version()}; load average "
            f"{load:.1f} at the end; {a.packets:,} packets rendered by tcpdump; best of {a.repeat}, interleaved")
    report = head + "\n\n" + "\n".join(table)
    print(report)
    if a.write_readme:
        readme = HERE / "README.md"
        marker = "<!-- bench_text -->"
        text_ = readme.read_text()
        body = (f"{marker}\n## tcpdump text (`python benchmarks/bench_text.py --write-readme`)\n\n"
                f"{(__doc__ or '').split(chr(10) + chr(10), 2)[2].strip()}\n\n{report}\n{marker}\n")
        parts = text_.split(marker)
        text_ = parts[0] + body + parts[2].lstrip("\n") if len(parts) >= 3 else text_.rstrip("\n") + "\n\n" + body
        readme.write_text(text_)
    if a.workdir is None:
        shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    main()
