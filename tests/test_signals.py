"""Ctrl-C and SIGTERM on a headless run, as a terminal and a CI runner send them (slow: the real demo run).

The signal goes to the run's process group, as a terminal's Ctrl-C does; the kernel
papermill started lives in its own session and must not print anything.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGINT, 130, "interrupted:"),
                                                   (signal.SIGTERM, 143, "terminated:"),
                                                   (signal.SIGHUP, 129, "hung up:")])
def test_signal_during_a_step_is_one_line_and_the_record_says_interrupted(tmp_path: Path, sig: int, code: int,
                                                                         word: str) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "spkrunbook", "demo", "--verbose", "--records", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if "spk-install cell 6" in line:  # step 3 is inside its main cell
            break
    else:
        pytest.fail("the run ended before step 3 started:\n" + "".join(seen) + (proc.stderr.read() if proc.stderr else ""))
    os.killpg(proc.pid, sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, out[-2000:] + err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(word), err
    assert "Traceback" not in out + err and "zmq" not in out + err
    (record,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    run = json.loads((record / "run.json").read_text())
    assert run["status"] == "incomplete" and run["interrupted"] is True
    assert run["ended"] and run["duration_s"] is not None, "the end time is recorded however the run ended"
    steps = {s["step"]: s["status"] for s in run["steps"]}
    assert steps == {"prerequisites": "passed", "network-attachments": "passed", "spk-install": "interrupted",
                     "debugging": "pending"}
    assert (record / "03-spk-install.html").stat().st_size > 0, "the interrupted step's partial notebook is rendered"
    assert not (record / "04-debugging.ipynb").exists()
