"""The capture form's logic, without a browser."""

from __future__ import annotations

from spkrunbook import params
from spkrunbook.capture import read_pcap
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.cluster.snapshot import SnapshotTarget
from spkrunbook.widgets import common
from spkrunbook.widgets.debug import CaptureForm
from tests.support import paths
from tests.support.labdata import lab_objects
from tests.support.paths import DEMO_DIR, DEMO_PARAMS

ROOT = paths.ROOT
PCAP = (DEMO_DIR / "captures/cni0.pcap").read_bytes()
N_PACKETS = len(read_pcap(PCAP))  # the demo capture is remade by scripts/make_demo_captures.sh


def test_form_on_snapshot_lists_interfaces_and_skips_capture():
    lab = params.load(DEMO_PARAMS)
    form = CaptureForm(lab=lab, target=SnapshotTarget(lab.target.snapshot))
    assert form.pod.value == "f5-tmm-7d9c6b5f4d-x2k8q"
    assert list(form.interface.options)[:3] == ["eth0", "net1", "net2"] and "internal" in form.interface.options
    form.button.click()
    assert form.result.skipped and "skipped" in form.status.value


def test_live_capture_redraws_the_rate_plot(api, kubeconfig):
    api.add_many(lab_objects())

    def tcpdump(argv, stdin):
        if "tcpdump" not in argv:
            return None

        def gen():
            for i in range(0, len(PCAP), 20000):
                yield 1, PCAP[i:i + 20000]
            return 0
        return gen()

    api.on_exec("f5-tmm-.*", "debug", tcpdump)
    lab = params.load(DEMO_PARAMS)
    with LiveTarget.from_kubeconfig(kubeconfig) as t:
        form = CaptureForm(lab=lab, target=t, redraw_every=0.0)
        form.interface.value = "net1"
        form.seconds.value = 2
        r = form.capture()
    assert r.ok and r.packets == N_PACKETS
    assert form.redraws >= 2 and form.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{N_PACKETS} packets" in form.status.value


def test_pods_and_nodes_come_from_the_shared_choices():
    lab = params.load(DEMO_PARAMS)
    target = SnapshotTarget(lab.target.snapshot)
    form = CaptureForm(lab=lab, target=target)
    choices = common.Choices.discover(lab, target)
    assert list(form.pod.options) == choices.pods
    assert form.nodes == choices.nodes and form.nodes
    assert list(form.node.options) == form.nodes  # common.choice_widget: pick a TMM node or type one
    pod = target.get("pods", form.pod.value, lab.tmm.namespace)
    assert form.node.value == pod["spec"]["nodeName"]  # defaults to the pod's node
    assert form.node.disabled and form.spec()["node"] is None  # where=pod: no node
    form.where.value = "node"
    assert not form.node.disabled and form.spec()["node"] == pod["spec"]["nodeName"]
    other = next(n for n in form.nodes if n != pod["spec"]["nodeName"])
    form.node.value = other
    assert form.spec() | {"seconds": 0} == {"where": "node", "pod": form.pod.value, "node": other,
                                            "interface": form.interface.value, "seconds": 0, "packets": None}
    form.node.value = ""
    assert form.spec()["node"] == pod["spec"]["nodeName"]  # empty: the pod's node again
    assert not hasattr(form, "gate")  # a capture changes nothing: no confirmation box


def test_capture_node_from_the_params_is_the_default():
    lab = params.load(DEMO_PARAMS)
    lab.debug.capture.node = "worker-2"
    form = CaptureForm(lab=lab, target=SnapshotTarget(lab.target.snapshot))
    assert form.node.value == "worker-2"
