"""Count the repeated work of one demo run: lab validations, semantic checks, ClusterFacts built.

Every process of the run (the CLI and each notebook's kernel) gets a ``sitecustomize`` that
wraps the three functions and appends one line per call to a shared file; the counts are
summed per process kind. Reproduce:

    .venv/bin/python benchmarks/count_runbook_work.py          # prints a JSON summary
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HOOK = textwrap.dedent('''
    import os, sys

    def _count(what):
        with open(os.environ["SPKRUNBOOK_COUNT_FILE"], "a") as fh:
            fh.write(f"{os.getpid()} {'kernel' if 'ipykernel' in ' '.join(sys.argv) else 'cli'} {what}\\n")

    class _Finder:
        """Wrap the counted functions when their modules load (nothing is imported early)."""

        def find_spec(self, name, path, target=None):
            if name not in ("spkrunbook.params", "spkrunbook.cluster.facts"):
                return None
            sys.meta_path.remove(self)
            try:
                import importlib.util
                spec = importlib.util.find_spec(name)
            finally:
                sys.meta_path.insert(0, self)
            loader = spec.loader
            original = loader.exec_module

            def exec_module(module):
                original(module)
                if name == "spkrunbook.params":
                    sem = module.semantic_problems
                    def semantic_problems(lab, _f=sem):
                        _count("semantic_problems")
                        return _f(lab)
                    module.semantic_problems = semantic_problems
                    validate = module.Lab.model_validate.__func__
                    def model_validate(cls, *a, _f=validate, **k):
                        _count("Lab.model_validate")
                        return _f(cls, *a, **k)
                    module.Lab.model_validate = classmethod(model_validate)
                else:
                    init = module.ClusterFacts.__init__
                    def __init__(self, *a, _f=init, **k):
                        _count("ClusterFacts")
                        _f(self, *a, **k)
                    module.ClusterFacts.__init__ = __init__

            loader.exec_module = exec_module
            return spec

    if os.environ.get("SPKRUNBOOK_COUNT_FILE"):
        sys.meta_path.insert(0, _Finder())
''')


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="spkrunbook-count-") as tmp:
        hook = Path(tmp) / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(HOOK)
        counts = Path(tmp) / "counts.txt"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])),
               "SPKRUNBOOK_COUNT_FILE": str(counts)}
        work = Path(tmp) / "work"
        work.mkdir()
        done = subprocess.run([sys.executable, "-m", "spkrunbook", "demo"], cwd=work, env=env,
                              capture_output=True, text=True, check=False)
        lines = counts.read_text().split() if counts.exists() else []
    rows = [tuple(lines[i:i + 3]) for i in range(0, len(lines), 3)]
    total = collections.Counter(what for _, _, what in rows)
    by_kind = collections.Counter(f"{kind}:{what}" for _, kind, what in rows)
    print(json.dumps({"exit": done.returncode, "processes": len({pid for pid, _, _ in rows}),
                      "total": dict(sorted(total.items())), "by_process_kind": dict(sorted(by_kind.items()))}, indent=2))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
