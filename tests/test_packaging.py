"""The package as a user gets it: a wheel built from this checkout, installed into a
fresh venv outside the checkout, run from an empty folder; and the binder build.

Slow: each builds a venv and installs the runtime dependencies (from pip's cache
once warm).  Nothing here imports the checkout: every command runs in the new venv,
from a temporary folder, with a PATH and PYTHONPATH that do not lead back here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from spkrunbook.bundle import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
STEPS = tuple(sorted(Path(nb).stem for nb in NOTEBOOKS.values()))


def _source_copy(dest: Path) -> Path:
    """The files git would ship (tracked or new, not ignored): a build must not see .venv or records."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, listed):
        src = ROOT / name.decode()
        if src.is_file():
            (dest / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name.decode())
    return dest


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER", "SPKRUNBOOK"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if str(ROOT) not in p)
    env["HOME"] = str(home)  # a fresh user: no ~/.jupyter, no kernels of ours
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin"


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = _source_copy(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("dist")
    done = _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(src)],
                cwd=src, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (whl,) = out.glob("spkrunbook-*.whl")
    return whl


def test_wheel_holds_the_notebooks_the_demo_lab_and_templates_and_no_test_code(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for step in STEPS:
        assert f"spkrunbook/notebooks/{step}.ipynb" in names
    for must in ("spkrunbook/demo/demo.yaml", "spkrunbook/templates/lab-template.yaml",
                 "spkrunbook/templates/lab-README.md", "spkrunbook/demo/captures/MANIFEST", "spkrunbook/py.typed"):
        assert must in names, must
    assert any(n.startswith("spkrunbook/demo/snapshot/") for n in names)
    assert any(n.startswith("spkrunbook/demo/captures/") and n.endswith(".pcap") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "scripts/", "notebooks/", "params/"))]
    code = {n: zipfile.ZipFile(wheel).read(n).decode() for n in names if n.endswith(".py")}
    leaked = [n for n, text in code.items() if "FakeApiServer" in text or "import pytest" in text]
    assert not leaked, f"test-only code in the wheel: {leaked}"


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_the_demo_and_writes_a_lab_folder(wheel: Path, tmp_path: Path) -> None:
    env = _clean_env(tmp_path / "home")
    (tmp_path / "home").mkdir()
    bin_ = _venv(tmp_path / "venv")
    done = _run([str(bin_ / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    work = tmp_path / "empty"
    work.mkdir()
    spk = str(bin_ / "spkrunbook")

    ver = _run([spk, "--version"], cwd=work, env=env)
    assert ver.returncode == 0 and "spkrunbook" in ver.stdout
    assert _run([str(bin_ / "python"), "-m", "spkrunbook", "--help"], cwd=work, env=env).returncode == 0

    demo = _run([spk, "demo"], cwd=work, env=env)
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:]
    (record,) = [p for p in (work / "records").iterdir() if p.is_dir()]
    assert sorted(p.stem for p in record.glob("*.ipynb")) == list(STEPS)
    assert sorted(p.stem for p in record.glob("*.html") if p.stem != "index") == list(STEPS)
    run = json.loads((record / "run.json").read_text())
    assert run["status"] == "passed", run
    assert "Traceback" not in demo.stdout + demo.stderr

    init = _run([spk, "init", "mylab"], cwd=work, env=env)
    assert init.returncode == 0, init.stdout + init.stderr
    lab = work / "mylab"
    assert sorted(p.stem for p in lab.glob("*.ipynb")) == list(STEPS)
    params = lab / "params" / "mylab.yaml"
    assert "lab: mylab" in params.read_text() and (lab / "README.md").is_file()
    params.write_text(params.read_text() + "\n# mine\n")
    again = _run([spk, "init", "mylab"], cwd=work, env=env)
    assert again.returncode == 0 and "kept" in again.stdout
    assert params.read_text().endswith("# mine\n"), "init overwrote the user's params"

    unfilled = _run([spk, "validate", "--offline", str(params)], cwd=work, env=env)
    assert unfilled.returncode == 2, unfilled.stdout + unfilled.stderr
    assert "placeholder" in unfilled.stdout + unfilled.stderr

    # The headless runtime: no JupyterLab; `spkrunbook lab` names the one command that adds it.
    lab_cmd = _run([spk, "lab", str(lab), "--dry-run"], cwd=work, env=env)
    assert lab_cmd.returncode == 2, lab_cmd.stdout + lab_cmd.stderr
    assert "pip install 'spkrunbook[lab]'" in lab_cmd.stdout + lab_cmd.stderr
    assert "Traceback" not in lab_cmd.stdout + lab_cmd.stderr
    widgets = _run([str(bin_ / "python"), "-c", "import ipywidgets, jupyterlab"], cwd=work, env=env)
    assert widgets.returncode != 0 and "jupyterlab" in widgets.stderr, "the headless install pulled in JupyterLab"


@pytest.mark.slow
def test_binder_environment_installs_like_a_user_and_runs_the_demo(tmp_path: Path) -> None:
    """repo2docker's order: requirements.txt, then postBuild from the repository root."""
    src = _source_copy(tmp_path / "repo")
    env = _clean_env(tmp_path / "home")
    (tmp_path / "home").mkdir()
    bin_ = _venv(tmp_path / "venv")
    env["PATH"] = f"{bin_}{os.pathsep}{env['PATH']}"
    done = _run([str(bin_ / "python"), "-m", "pip", "install", "-q", "-r", str(src / "binder" / "requirements.txt")],
                cwd=src, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    post = _run(["bash", str(src / "binder" / "postBuild")], cwd=src, env=env)
    assert post.returncode == 0, post.stdout[-3000:] + post.stderr[-3000:]
    assert "ipywidgets 8." in post.stdout
    home = tmp_path / "session"
    home.mkdir()
    run = _run(["bash", str(src / "binder" / "start"), "spkrunbook", "demo"], cwd=home, env=env)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    (record,) = [p for p in (home / "records").iterdir() if p.is_dir()]
    assert json.loads((record / "run.json").read_text())["status"] == "passed"
