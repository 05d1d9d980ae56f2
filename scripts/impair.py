#!/usr/bin/env python3
"""A userspace stand-in for ``tc netem`` between two network namespaces.

Why: the TCP expert analysis is checked on captures in which real kernels
lose, reorder, duplicate and delay segments.  ``tc qdisc ... netem`` does that
in the kernel, but only where sch_netem is built (this project's machines
have CONFIG_NET_SCH_NETEM unset).  This relay does the same to Ethernet frames
between two TAP devices: it creates them, moves one into each namespace and
forwards frames, applying to the A->B direction the netem-like condition given
on the command line.  Both ends are the kernels' own TCP stacks; tcpdump
captures on the TAP devices inside the namespaces as on any interface.

    impair.py --a-ns NS_A --a-dev ta --b-ns NS_B --b-dev tb --ready FILE COND...

COND (like one netem line; percentages of A->B frames; several may follow
each other, e.g. ``loss 2 duplicate 1 reorder 5 8``):
    loss P          drop P %
    duplicate P     send P % twice
    reorder P MS    hold P % of the frames MS ms, so later frames overtake them
    delay MS        delay every frame MS ms
    none
``--seed`` makes the choices repeatable.  Runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import fcntl
import heapq
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000


def open_tap(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a-ns", required=True)
    ap.add_argument("--a-dev", required=True)
    ap.add_argument("--b-ns", required=True)
    ap.add_argument("--b-dev", required=True)
    ap.add_argument("--ready", required=True, help="file written once both devices are in place")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("cond", nargs="+")
    a = ap.parse_args(argv)
    want = {"loss": 1, "duplicate": 1, "reorder": 2, "delay": 1, "none": 0}
    conds: dict[str, list[float]] = {}
    i = 0
    while i < len(a.cond):
        kind = a.cond[i]
        k = want.get(kind, -1)
        try:
            args = [float(x) for x in a.cond[i + 1:i + 1 + k]] if k >= 0 else []
        except ValueError:
            k = -1
        if k < 0 or len(args) != k:
            ap.error(f"condition {' '.join(a.cond)!r} is not made of: loss P | duplicate P | reorder P MS | delay MS | none")
        conds[kind] = args
        i += 1 + k
    rng = random.Random(a.seed)
    fa, fb = open_tap(a.a_dev), open_tap(a.b_dev)
    for dev, ns in ((a.a_dev, a.a_ns), (a.b_dev, a.b_ns)):
        subprocess.run(["ip", "link", "set", dev, "netns", ns], check=True)
    with open(a.ready, "w") as f:
        f.write("ready\n")
    stop = False

    def on_signal(_sig: int, _frm: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    queue: list[tuple[float, int, int, bytes]] = []  # (due, order, fd, frame)
    order = 0

    def send_later(due: float, fd: int, frame: bytes) -> None:
        nonlocal order
        order += 1
        heapq.heappush(queue, (due, order, fd, frame))

    while not stop:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, fd, frame = heapq.heappop(queue)
            try:
                os.write(fd, frame)
            except OSError:
                pass  # the namespace's device is going away
        timeout = max(0.0, queue[0][0] - now) if queue else 0.2
        try:
            ready, _, _ = select.select([fa, fb], [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd in ready:
            while True:
                try:
                    frame = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    frame = b""
                if not frame:
                    break
                if fd == fb:  # B -> A is left alone
                    send_later(now, fa, frame)
                    continue
                if "loss" in conds and rng.random() * 100 < conds["loss"][0]:
                    continue
                delay = conds["delay"][0] / 1000 if "delay" in conds else 0.0
                if "duplicate" in conds and rng.random() * 100 < conds["duplicate"][0]:
                    send_later(now + delay, fb, frame)
                if "reorder" in conds and rng.random() * 100 < conds["reorder"][0]:
                    delay += conds["reorder"][1] / 1000
                send_later(now + delay, fb, frame)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
