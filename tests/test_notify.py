"""``--notify URL`` against a local HTTP receiver: the verdict, counts, worst findings and the record's link as
JSON with a Slack-compatible ``text``; never a secret; a failed post is a warning in the record, not a failed run."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from spkrunbook import cli, notify
from spkrunbook import record as records
from spkrunbook.secrets import Scrubber

WEBHOOK_SECRET = "T0FLEET/B0FLEET/xoxb-webhook-credential-88231"


class Receiver:
    """A local webhook: keeps every body it was sent, answers ``status``."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers["Content-Length"])
                outer.bodies.append(json.loads(self.rfile.read(n)))
                outer.paths.append(self.path)
                self.send_response(outer.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/{WEBHOOK_SECRET}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.mark.slow
def test_a_run_posts_its_verdict_and_a_failed_post_is_only_a_warning(tmp_path: Path, receiver: Receiver,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "records"
    receiver.status = 500
    argv = ["demo", "--records", str(root), "--notify", receiver.url]
    monkeypatch.setattr("sys.argv", ["spkrunbook", *argv])  # the record keeps the command line
    assert cli.main(argv) == 0  # the run passed; the post did not
    (record,) = [p for p in root.iterdir() if p.is_dir()]
    run = json.loads((record / "run.json").read_text())
    assert run["notify"] == {"host": receiver.url.split("/")[2], "ok": False, "http_status": 500,
                             "error": "HTTP 500 Internal Server Error"}
    assert any("notification" in w and "not sent" in w for w in run["warnings"])
    assert "not sent" in (record / "index.html").read_text()
    # the webhook's path is a credential: nowhere in the record, not even the command line
    for p in record.rglob("*"):
        if p.is_file():
            assert WEBHOOK_SECRET.encode() not in p.read_bytes(), p
    assert "--notify" in run["command"] and "***" in run["command"]

    receiver.status = 200
    sent = notify.notify(record, receiver.url, "https://records.example.com/x/index.html", Scrubber({receiver.url}))
    assert sent.ok and sent.status == 200
    body = receiver.bodies[-1]
    assert body["lab"] == "demo" and body["status"] == "passed"
    rec = records.read(record)
    assert body["counts"] == notify.counts(rec) and body["counts"]["warn"] > 0
    assert body["text"].startswith(f"spkrunbook: lab demo PASSED (0 failed, {body['counts']['warn']} warnings")
    assert body["worst"] and all(w["status"] == "warn" for w in body["worst"]) and len(body["worst"]) <= notify.WORST
    assert body["text"].endswith("record: https://records.example.com/x/index.html")
    assert json.loads((record / "run.json").read_text())["notify"]["ok"] is True


def test_failures_come_first_and_nothing_raises(tmp_path: Path) -> None:
    record = tmp_path / "20261203T020000Z-lab"
    (record / "steps").mkdir(parents=True)
    rows = [{"check": "cpu-manager", "subject": "worker-1", "status": "warn", "evidence": "none", "action": "", "reference": ""},
            {"check": "hugepages", "subject": "worker-2", "status": "fail", "evidence": "0 of 2Mi", "action": "add",
             "reference": ""},
            {"check": "ovn", "subject": "", "status": "pass", "evidence": "", "action": "", "reference": ""}]
    (record / "steps" / "prerequisites.json").write_text(json.dumps({"findings": [{"title": "t", "rows": rows}]}))
    (record / "run.json").write_text(json.dumps({"lab": "lab", "status": "failed",
                                                 "steps": [{"step": "prerequisites", "status": "failed"}]}))
    body = notify.payload(records.read(record), "s3://b/p/20261203T020000Z-lab/index.html")
    assert [w["check"] for w in body["worst"]] == ["hugepages", "cpu-manager"]
    assert "- FAIL hugepages on worker-2: 0 of 2Mi" in body["text"]
    dead = notify.post("http://127.0.0.1:9/hook", body, Scrubber(set()), timeout=2)  # nothing listens on port 9
    assert not dead.ok and dead.error
    assert not notify.post("file:///etc/passwd", body, Scrubber(set())).ok
