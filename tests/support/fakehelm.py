"""A stand-in ``helm`` for the unit tier (the real helm 3 and 4 run in the apiserver tier).

It answers the three calls the install step makes: ``version --short``
(``FAKE_HELM_MAJOR``, default 3), ``status RELEASE -o json`` (what the last
upgrade left, or ``FAKE_HELM_STATUS`` when set; "release: not found" before) and
``uninstall`` (forgets the release) and ``upgrade --install`` (logs argv and the values files to ``FAKE_HELM_LOG``, exit
``FAKE_HELM_RC``). An imitation: it checks nothing helm would check.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

SCRIPT = r'''#!{python}
import json, os, sys
argv = sys.argv[1:]
state = os.environ["FAKE_HELM_LOG"] + ".state"
if argv[:1] == ["version"]:
    print("v%s.16.2+g13654a5" % os.environ.get("FAKE_HELM_MAJOR", "3") if "--short" in argv else "version.BuildInfo{{}}")
    sys.exit(0)
if argv[:1] == ["status"]:
    forced = os.environ.get("FAKE_HELM_STATUS")
    if forced:
        print(json.dumps({{"name": argv[1], "version": 1, "info": {{"status": forced}}}}))
        sys.exit(0)
    if not os.path.exists(state):
        print("Error: release: not found", file=sys.stderr)
        sys.exit(1)
    print(open(state).read())
    sys.exit(0)
if argv[:1] == ["uninstall"]:
    if not os.path.exists(state):
        print("Error: uninstall: Release not loaded: %s: release: not found" % argv[1], file=sys.stderr)
        sys.exit(1)
    os.remove(state)
    print('release "%s" uninstalled' % argv[1])
    sys.exit(0)
values = []
for i, a in enumerate(argv):
    if a == "-f":
        p = argv[i + 1]
        values.append({{"path": p, "text": open(p).read(), "mode": oct(os.stat(p).st_mode & 0o777)}})
with open(os.environ["FAKE_HELM_LOG"], "w") as fh:
    json.dump({{"argv": argv, "values": values}}, fh)
print("Release \"f5ingress\" does not exist. Installing it now.", flush=True)
print("NAME: f5ingress", flush=True)
print("using password " + os.environ.get("FAKE_HELM_ECHO", "nothing"), flush=True)
rc = int(os.environ.get("FAKE_HELM_RC", "0"))
if rc:
    print("Error: INSTALLATION FAILED: Kubernetes cluster unreachable: connection refused", file=sys.stderr, flush=True)
else:
    rev = json.load(open(state))["version"] + 1 if os.path.exists(state) else 1
    open(state, "w").write(json.dumps({{"name": argv[2], "version": rev, "info": {{"status": "deployed"}}}}))
print("STATUS: deployed", flush=True)
sys.exit(rc)
'''


def install(bindir: Path) -> Path:
    """Write the stand-in as ``bindir/helm``; the caller puts ``bindir`` first on PATH and sets FAKE_HELM_LOG."""
    bindir.mkdir(parents=True, exist_ok=True)
    exe = bindir / "helm"
    exe.write_text(SCRIPT.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe
