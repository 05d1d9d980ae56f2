"""Signed artifacts: verify what F5 signed before helm installs it, and keep the result in the record.

F5 ships SPK 1.8 as a tarball with a PEM public key and signature files, to check
with ``openssl dgst -sha512 -verify <key> -keyform PEM -signature <sig> <file>``
(prints ``Verified OK``). A Helm chart may also carry a provenance file
(``<chart>.tgz.prov``), which ``helm verify --keyring <pubring>`` checks.

When ``install.chart`` is a local tarball: the signatures named in
``install.signatures`` (else found beside the chart or one folder up, where the
release was unpacked) are each checked against the file they sign; a bad
signature refuses the install before helm runs; no signature at all is a warning.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ... import display
from ...params import Lab
from ...results import Findings

CHECK = "signed artifacts"
DEFAULT_KEYRING = Path("~/.gnupg/pubring.gpg")


@dataclass
class Verification:
    """One signature checked: the file, the signature (or provenance file), the command and what it said."""

    artifact: Path
    signature: Path
    tool: str
    argv: list[str]
    ok: bool
    output: str


@dataclass
class SignatureCheck:
    """Every signature checked before the install, or why none was."""

    chart: str | None
    checked: list[Verification] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (status, evidence, action)

    @property
    def refusal(self) -> str:
        """Why helm must not run ('' when nothing failed to verify)."""
        bad = [v for v in self.checked if not v.ok]
        return ("the signature check failed for " + ", ".join(v.artifact.name for v in bad)
                + ": nothing was installed") if bad else ""

    @property
    def findings(self) -> Findings:
        f = Findings("signed artifacts")
        for v in self.checked:
            subject = v.artifact.name
            lines = v.output.strip().splitlines()
            said = next((ln for ln in lines if ln.startswith("Verif")), lines[-1] if lines else "(no output)")
            if v.ok:
                f.add(CHECK, "pass", f"{v.signature.name} verifies {v.artifact.name} ({v.tool}: {said})", subject=subject)
            else:
                f.add(CHECK, "fail", f"{v.signature.name} does not verify {v.artifact.name} ({v.tool}: {said}); "
                      "helm was not run", "get the release again from F5 (MyF5 downloads) and compare its checksum; "
                      f"run it by hand: {' '.join(v.argv)}", subject)
        for status, evidence, action in self.problems:
            f.add(CHECK, status, evidence, action, Path(self.chart).name if self.chart else "install.chart")  # type: ignore[arg-type]
        return f

    def to_frame(self) -> pd.DataFrame:
        return self.findings.to_frame()

    def to_dict(self) -> dict[str, Any]:
        return {"chart": self.chart, "refusal": self.refusal,
                "checked": [{"artifact": str(v.artifact), "signature": str(v.signature), "tool": v.tool,
                             "command": v.argv, "ok": v.ok, "output": v.output} for v in self.checked]}

    def files(self) -> dict[str, str | bytes]:
        return {"signatures.json": json.dumps(self.to_dict(), indent=2) + "\n"} if self.checked or self.problems else {}

    def _repr_html_(self) -> str:
        return self.findings._repr_html_() + "".join(
            display.code(f"$ {' '.join(v.argv)}\n{v.output}", title=f"{v.tool}: {v.signature.name}") for v in self.checked)


def signed_file(sig: Path) -> Path | None:
    """The file a signature signs, by F5's names and the usual ones: ``f5-spk-tarball.tgz-1.8.0.sha512.sig``
    signs ``f5-spk-tarball-1.8.0.tgz``; ``x.tgz.sig`` / ``x.tgz.sha512.sig`` sign ``x.tgz``."""
    stem = re.sub(r"(\.sha(256|384|512))?\.sig$", "", sig.name)
    candidates = [stem]
    m = re.match(r"^(?P<base>.+?)\.(?P<ext>tgz|tar\.gz|txt|zip)-(?P<ver>\d[\w.-]*)$", stem)
    if m:  # F5: <name>.<ext>-<version> signs <name>-<version>.<ext>
        candidates.append(f"{m['base']}-{m['ver']}.{m['ext']}")
    return next((sig.parent / c for c in candidates if (sig.parent / c).is_file()), None)


def _digest(sig: Path) -> str:
    m = re.search(r"\.sha(256|384|512)\.sig$", sig.name)
    return f"-sha{m.group(1)}" if m else "-sha512"


def _run(argv: list[str], timeout: float = 120.0) -> tuple[int, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return done.returncode, (done.stdout + done.stderr).strip()


def _local_chart(lab: Lab) -> Path | None:
    chart = lab.install.chart
    if not chart or re.match(r"^[a-z]+://", chart):
        return None
    p = Path(chart).expanduser()
    return p if p.is_file() else None


def _found_signatures(chart: Path) -> tuple[Path | None, list[Path]]:
    """Signatures and a PEM key beside the chart, or one folder up (where the release tarball was unpacked)."""
    for folder in (chart.parent, chart.parent.parent):
        sigs = sorted(folder.glob("*.sig"))
        if sigs:
            keys = sorted(folder.glob("*.pem"))
            return (keys[0] if len(keys) == 1 else None), sigs
    return None, []


def verify(lab: Lab, *, which: Callable[[str], str | None] = shutil.which) -> SignatureCheck:
    """Check every signature of the release before the install (see the module's docstring)."""
    chart = _local_chart(lab)
    out = SignatureCheck(lab.install.chart)
    if chart is None:
        return out
    key, sigs = lab.install.signatures.key, list(lab.install.signatures.files)
    if not sigs:
        key_found, sigs = _found_signatures(chart)
        key = key or key_found
    openssl = which("openssl")
    for sig in sigs:
        target = signed_file(sig)
        if target is None:
            out.problems.append(("warn", f"{sig.name}: the file it signs is not beside it",
                                 "put the signature next to the file F5 shipped it with, or list it in install.signatures"))
        elif key is None:
            out.problems.append(("warn", f"{sig.name}: no public key to check it with (none, or several .pem files)",
                                 "set install.signatures.key to the f5-spk-<version>.pem of the release"))
        elif openssl is None:
            out.problems.append(("warn", f"{sig.name} not checked: openssl is not installed",
                                 "install openssl (Debian: apt-get install openssl)"))
        else:
            argv = [openssl, "dgst", _digest(sig), "-verify", str(key), "-keyform", "PEM", "-signature", str(sig),
                    str(target)]
            rc, text = _run(argv)
            out.checked.append(Verification(target, sig, "openssl", argv, rc == 0 and "Verified OK" in text, text))
    prov = chart.with_name(chart.name + ".prov")
    if prov.is_file():
        _helm_verify(lab, chart, prov, out, which)
    if not out.checked and not out.problems:
        out.problems.append(("warn", f"{chart.name} comes with no signature (no .sig beside it or one folder up, "
                             "no .prov): what helm installs was not checked",
                             "F5 ships SPK with a signing key and signature files: keep them beside the tarball, "
                             "or list them in install.signatures"))
    return out


def _helm_verify(lab: Lab, chart: Path, prov: Path, out: SignatureCheck, which: Callable[[str], str | None]) -> None:
    keyring = lab.install.keyring or DEFAULT_KEYRING.expanduser()
    helm = which("helm")
    if not Path(keyring).is_file():
        out.problems.append(("warn", f"{prov.name} is beside the chart but there is no keyring {keyring} to check it with",
                             "set install.keyring to the public keyring of the chart's signer"))
    elif helm is None:
        out.problems.append(("warn", f"{prov.name} not checked: helm is not on PATH", "install helm 3 or 4"))
    else:
        argv = [helm, "verify", str(chart), "--keyring", str(keyring)]
        rc, text = _run(argv)
        out.checked.append(Verification(chart, prov, "helm verify", argv, rc == 0, text))
