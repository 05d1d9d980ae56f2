"""cluster.facts: what the cluster says about a pod that does not start."""

from __future__ import annotations

from typing import Any, cast

from spkrunbook.cluster.base import Target
from spkrunbook.cluster.facts import pod_trouble

POD = {"metadata": {"name": "f5-tmm-1", "namespace": "spk", "uid": "u1"}, "status": {"phase": "Pending"}}


class Events:
    """An imitation of a target's event list, all pod_trouble reads."""

    def __init__(self, *events: tuple[str, str, str]) -> None:
        self.events = [{"type": "Warning", "reason": r, "message": m, "lastTimestamp": t,
                        "involvedObject": {"name": "f5-tmm-1", "uid": "u1"}} for r, m, t in events]

    def list(self, res: str, namespace: str | None = None, **_: Any) -> list[dict[str, Any]]:
        return self.events


def test_the_event_that_says_why_the_pod_cannot_start_wins_over_later_noise() -> None:
    t = cast(Target, Events(("FailedCreatePodSandBox", "plugin type=macvlan failed: Link not found", "2026-12-07T08:00:00Z"),
                            ("MissingClusterDNS", "pod: kubelet does not have ClusterDNS IP configured", "2026-12-07T08:00:05Z")))
    assert pod_trouble(t, POD) == ("FailedCreatePodSandBox", "plugin type=macvlan failed: Link not found")


def test_without_a_blocking_reason_the_latest_warning_is_quoted() -> None:
    t = cast(Target, Events(("Unhealthy", "Readiness probe failed", "2026-12-07T08:00:00Z"),
                            ("MissingClusterDNS", "no ClusterDNS", "2026-12-07T08:00:05Z")))
    assert pod_trouble(t, POD) == ("MissingClusterDNS", "no ClusterDNS")


def test_the_scheduler_s_condition_comes_first() -> None:
    pod = {**POD, "status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                             "message": "0/1 nodes are available: 1 Insufficient hugepages-2Mi."}]}}
    assert pod_trouble(cast(Target, Events()), pod) == ("Unschedulable", "0/1 nodes are available: 1 Insufficient hugepages-2Mi.")
