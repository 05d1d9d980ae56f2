"""The run's kernels: forked from one warm server, each started while the step before it runs.

Why: a Python kernel takes about a second to boot, and each step's notebook then spent most
of a second importing pandas and the package: four times over, one after another, four
seconds of a headless run in which nothing else happened. Now, on Linux, the run starts a
kernel server (:mod:`spkrunbook.kernel_server`) that imports ipykernel and what every step
uses once, and forks each step's kernel from it; the next step's kernel is asked for as soon
as the current one is up, so it is ready when its step starts, and each is stopped in the
background after its step. A forked kernel is an ordinary ``ipykernel`` kernel: nbclient
drives it through jupyter_client's manager, whose provisioner here knows it by pid, so an
interrupt, a shutdown, a kill and a dead kernel are handled as for any other.

Where a kernel cannot be forked (not Linux, a ``python3`` kernel spec of another Python,
``SPKRUNBOOK_NO_FORK``, a server that died) it is launched by jupyter_client, still ahead of
its step, importing its step's modules (:data:`WARM`) as it boots. Either way its stderr goes
to a file the run reads back when a kernel dies.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

KERNEL = "python3"
#: Set (to anything) to launch every kernel through jupyter_client rather than fork it from the warm
#: server; the same switch has the debugging step draw its figures in the kernel (``capture.forked``).
NO_FORK_ENV = "SPKRUNBOOK_NO_FORK"

#: What nbclient adds when it starts a kernel itself: no IPython history file, which the run's kernels
#: (and a person's) would otherwise share.
NO_HISTORY = "--HistoryManager.hist_file=:memory:"

#: What each step's notebook imports, loaded in its kernel as it boots (``IPKernelApp.exec_lines``,
#: which run before the kernel answers its first request, outside the notebook's history and
#: namespace). ``tests/test_kernels.py`` runs each notebook after these and fails if its cells still
#: load one of the heavy libraries.
WARM: dict[str, tuple[str, ...]] = {
    "prerequisites": ("spkrunbook.notebook", "spkrunbook.steps.prereqs", "spkrunbook.widgets.prereqs"),
    "network-attachments": ("spkrunbook.notebook", "spkrunbook.steps.nad", "spkrunbook.widgets.nad"),
    "spk-install": ("spkrunbook.notebook", "spkrunbook.steps.install", "spkrunbook.widgets.install"),
    "debugging": ("spkrunbook.notebook", "spkrunbook.steps.debug", "spkrunbook.widgets.debug",
                  "matplotlib.figure", "matplotlib.backends.backend_svg"),
}


def warm_line(step: str) -> str:
    """The one line a kernel runs as it boots: the step's imports, binding no name in the notebook."""
    modules = WARM.get(step, ())
    return "; ".join(f"__import__({m!r})" for m in modules)


@functools.cache
def _manager_class() -> Any:
    """jupyter_client's (blocking) kernel manager, remembering the clients it made so they can be closed."""
    from jupyter_client.manager import KernelManager

    class Manager(KernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.made: list[Any] = []

        def client(self, **kwargs: Any) -> Any:
            made = super().client(**kwargs)
            self.made.append(made)
            return made

    return Manager


def _manager() -> Any:
    # nbclient drives the kernel with an asyncio client; the manager itself stays the blocking one, so it
    # can be stopped from a thread of its own.
    return _manager_class()(kernel_name=KERNEL, client_class="jupyter_client.asynchronous.AsyncKernelClient")


class Kernel:
    """One step's kernel, launched by jupyter_client at once (its process boots by itself); its stderr is
    kept in a file."""

    def __init__(self, step: str, cwd: Path, *, arguments: tuple[str, ...] = ()) -> None:
        self.step = step
        self.log: IO[bytes] = tempfile.NamedTemporaryFile(prefix="spkrunbook-kernel-", suffix=".log")  # noqa: SIM115
        self.manager = _manager()
        self.launch(cwd, arguments)

    def launch(self, cwd: Path, arguments: tuple[str, ...]) -> None:
        line = warm_line(self.step)
        self.manager.start_kernel(
            cwd=str(cwd), env=dict(os.environ), stderr=self.log,
            extra_arguments=[*arguments, NO_HISTORY, *([f"--IPKernelApp.exec_lines={line}"] if line else [])],
        )

    def ready(self, timeout: float = 60.0) -> bool:
        """Whether the kernel's process is there to be talked to (a forked one: once the server answered)."""
        return True

    def said(self, lines: int = 8) -> str:
        """The last lines the kernel wrote to its stderr (why it died, when it did)."""
        with open(self.log.name, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode("utf-8", "replace")
        return "\n".join(text.strip().splitlines()[-lines:])

    def stop(self) -> threading.Thread:
        """Close the clients, ask the kernel to shut down (killed after jupyter_client's grace period)
        and remove its files, on a thread: the run goes on meanwhile."""
        for made in self.manager.made:
            made.stop_channels()
        self.manager.made.clear()

        def shut() -> None:
            try:
                if self.manager.has_kernel:
                    self.manager.shutdown_kernel(now=False)
            except Exception:  # noqa: BLE001 - a kernel that is already gone needs no stopping
                pass
            finally:
                try:
                    self.manager.cleanup_resources()
                except Exception:  # noqa: BLE001 - its connection file may be gone with it
                    pass
                self.log.close()

        thread = threading.Thread(target=shut, name=f"stop-kernel-{self.step}", daemon=True)
        thread.start()
        return thread


class ForkedKernel(Kernel):
    """A step's kernel forked from the run's :class:`Server`: the same ``ipykernel`` kernel, spoken to the
    same way, without booting Python and importing the same libraries again."""

    def __init__(self, step: str, cwd: Path, server: Server, *, arguments: tuple[str, ...] = ()) -> None:
        self.server = server
        super().__init__(step, cwd, arguments=arguments)

    def launch(self, cwd: Path, arguments: tuple[str, ...]) -> None:
        self.manager.kernel_id = str(uuid.uuid4())
        self.manager.write_connection_file()
        self.pid = self.server.fork({
            "step": self.step, "connection_file": self.manager.connection_file, "cwd": str(cwd),
            "env": dict(os.environ), "stderr": self.log.name,
            "argv": [*arguments, NO_HISTORY],
        })
        self.manager.provisioner = _provisioner_class()(kernel_id=self.manager.kernel_id,
                                                        kernel_spec=self.manager.kernel_spec, parent=self.manager)
        self.manager.provisioner.pid = self.pid

    def ready(self, timeout: float = 60.0) -> bool:
        try:
            return self.pid.result(timeout) is not None
        except TimeoutError:
            return False


class Server:
    """The run's warm parent (:mod:`spkrunbook.kernel_server`), started once; ``fork`` asks it for a kernel
    and returns at once, the kernel's pid arriving later (None: the server could not fork it)."""

    def __init__(self) -> None:
        self.log: IO[bytes] = tempfile.TemporaryFile(prefix="spkrunbook-kernel-server-")  # noqa: SIM115
        # Its own session (a Ctrl-C meant for the run does not reach it; the run stops it), and the
        # environment without the lab's secrets: each kernel is given its own when it is forked.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "spkrunbook.kernel_server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, start_new_session=True)
        self.pending: dict[int, Future[int | None]] = {}
        self.lock = threading.Lock()
        self.ended = False
        threading.Thread(target=self._answers, name="spkrunbook-kernel-server", daemon=True).start()

    def fork(self, request: dict[str, Any]) -> Future[int | None]:
        pid: Future[int | None] = Future()
        assert self.process.stdin is not None
        with self.lock:
            ident = len(self.pending) + 1
            self.pending[ident] = pid
            try:
                if self.ended:
                    raise OSError("the kernel server has ended")
                self.process.stdin.write(json.dumps({**request, "id": ident}).encode() + b"\n")
                self.process.stdin.flush()
            except (OSError, ValueError):  # the server is gone: the caller launches a kernel of its own
                pid.set_result(None)
        return pid

    def _answers(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                answer = json.loads(line)
                with self.lock:
                    waiting = self.pending[int(answer["id"])]
                waiting.set_result(int(answer["pid"]))
            except (ValueError, KeyError, TypeError):
                break
        with self.lock:  # the server ended: nothing more will be forked
            self.ended = True
            for waiting in self.pending.values():
                if not waiting.done():
                    waiting.set_result(None)

    def close(self, timeout: float = 10.0) -> None:
        try:
            assert self.process.stdin is not None
            self.process.stdin.close()  # its end of the pipe: it leaves its loop
        except OSError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    @staticmethod
    def usable() -> bool:
        """Whether kernels can be forked here: Linux (``fork`` without ``exec``), and the ``python3`` kernel
        spec is this interpreter's ``ipykernel_launcher`` (another Python's kernel is launched as it is)."""
        if not sys.platform.startswith("linux") or os.environ.get(NO_FORK_ENV) or not os.path.exists("/proc/self/stat"):
            return False  # (a forked kernel is known by its pid, and seen alive or not in /proc)
        try:
            from jupyter_client.kernelspec import KernelSpecManager

            argv = KernelSpecManager().get_kernel_spec(KERNEL).argv
        except Exception:  # noqa: BLE001 - no spec: jupyter_client says so when it launches
            return False
        options = argv[1:argv.index("-m")] if "-m" in argv else ["?"]  # interpreter options, e.g. -Xfrozen_modules=off
        return (bool(argv) and os.path.abspath(argv[0]) == os.path.abspath(sys.executable)
                and all(o.startswith("-X") for o in options)
                and argv[len(options) + 1:len(options) + 3] == ["-m", "ipykernel_launcher"])


@functools.cache
def _provisioner_class() -> Any:
    """A jupyter_client provisioner for a kernel it did not launch: it knows the pid (from the server) and
    signals, polls and kills it, so the manager's interrupt and shutdown work as for any kernel."""
    from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase

    class Forked(KernelProvisionerBase):
        pid: Future[int | None] | None = None
        gone = False

        @property
        def has_process(self) -> bool:
            return not self.gone

        def _known(self) -> int | None:
            return self.pid.result() if self.pid is not None and self.pid.done() else None

        async def poll(self) -> int | None:
            if self.pid is None or not self.pid.done():
                return None  # being forked
            pid = self.pid.result()
            return None if pid is not None and _alive(pid) else 1

        async def wait(self) -> int | None:
            while (code := await self.poll()) is None:
                await asyncio.sleep(0.05)
            return code

        async def send_signal(self, signum: int) -> None:
            pid = self._known()
            if pid is not None:
                try:
                    os.killpg(pid, signum)  # its own process group (setsid), as jupyter_client signals kernels
                except (ProcessLookupError, PermissionError):
                    pass

        async def kill(self, restart: bool = False) -> None:
            await self.send_signal(signal.SIGKILL)

        async def terminate(self, restart: bool = False) -> None:
            await self.send_signal(signal.SIGTERM)

        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
            raise NotImplementedError("a forked kernel is launched by the kernel server, not jupyter_client")

        async def cleanup(self, restart: bool = False) -> None:
            self.gone = True

    return Forked


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: the server reaps its children, but may not have yet)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


_EARLY: list[Server] = []


def start_server_early() -> None:
    """Start the kernel server before the run's own imports and checks (the CLI does, first thing), so it
    has imported sooner; the run's :class:`Kernels` takes it over. One never taken over ends with this
    process (its stdin closes), or at the next ``Kernels.close()``."""
    if not _EARLY and sys.platform.startswith("linux") and not os.environ.get(NO_FORK_ENV):
        _EARLY.append(Server())


def _take_early() -> Server | None:
    return _EARLY.pop() if _EARLY else None


class Kernels:
    """A run's kernels: ``ahead(step, cwd)`` launches a step's kernel early, ``take(step, cwd)`` hands it
    over (or launches one then), ``done(kernel)`` stops it in the background; ``close()`` stops the rest
    and waits.

    Where :meth:`Server.usable`, the kernels are forked from one warm :class:`Server`, started by
    ``warm()`` (or with the first kernel); a kernel the server could not give is launched by
    jupyter_client instead, and so is every later one.
    """

    def __init__(self, *, arguments: tuple[str, ...] = ()) -> None:
        self.arguments = arguments
        self.waiting: dict[str, Kernel] = {}
        self.stopping: list[threading.Thread] = []
        self.server: Server | None = None
        self.forking = Server.usable()

    def warm(self) -> None:
        """Start the kernel server now (or take over the one :func:`start_server_early` started), so it
        imports while the caller does other work."""
        if self.forking and self.server is None:
            self.server = _take_early() or Server()

    def _launch(self, step: str, cwd: Path) -> Kernel:
        if self.forking:
            self.warm()
            assert self.server is not None
            return ForkedKernel(step, cwd, self.server, arguments=self.arguments)
        return Kernel(step, cwd, arguments=self.arguments)

    def ahead(self, step: str | None, cwd: Path) -> None:
        if step is not None and step not in self.waiting:
            self.waiting[step] = self._launch(step, cwd)

    def take(self, step: str, cwd: Path) -> Kernel:
        kernel = self.waiting.pop(step, None) or self._launch(step, cwd)
        if not kernel.ready():  # the server died or hung: this kernel, and the rest, are launched the usual way
            self.done(kernel)
            self.forking = False
            kernel = Kernel(step, cwd, arguments=self.arguments)
        return kernel

    def done(self, kernel: Kernel) -> None:
        self.stopping.append(kernel.stop())

    def release(self) -> None:
        """Stop the kernels not taken and the server, in the background: the caller finishes its own work
        meanwhile, then ``close()`` waits for them."""
        for kernel in self.waiting.values():
            self.stopping.append(kernel.stop())
        self.waiting.clear()
        server, self.server = self.server, None
        if server is not None:
            stopping = list(self.stopping)

            def stop_server() -> None:  # after its kernels: a kernel ends when its server does
                for thread in stopping:
                    thread.join(30.0)
                server.close()

            thread = threading.Thread(target=stop_server, name="spkrunbook-stop-kernel-server", daemon=True)
            thread.start()
            self.stopping.append(thread)

    def close(self, timeout: float = 30.0) -> None:
        self.release()
        for thread in self.stopping:
            thread.join(timeout)
        self.stopping.clear()
        early = _take_early()  # one started for a run that never came to its kernels ends here too
        if early is not None:
            early.close()

    def __enter__(self) -> Kernels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
