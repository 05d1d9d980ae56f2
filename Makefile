# The two commands: `make demo` runs the whole runbook headless on the bundled demo
# lab; `make test` runs every test (fast, slow and browser). Both install what they need.
.PHONY: demo test test-fast bench clean

demo:
	@scripts/bootstrap.sh run
	.venv/bin/spkrunbook demo

test:
	@scripts/bootstrap.sh test
	.venv/bin/python -m pytest

test-fast:
	@scripts/bootstrap.sh test
	.venv/bin/python -m pytest -m "not slow and not browser"

bench:
	@scripts/bootstrap.sh test
	.venv/bin/python benchmarks/bench_prereqs.py
	.venv/bin/python benchmarks/bench_capture.py
	.venv/bin/python benchmarks/bench_runbook.py

clean:
	rm -rf .venv build *.egg-info .pytest_cache
