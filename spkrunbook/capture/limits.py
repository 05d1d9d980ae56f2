"""The stated ceilings of the capture readers, and the one way they open files.

Why: a capture is user input.  A pcap header followed by zeros, a 2 GB sparse
file, a pcapng block that claims 4 GB, a FIFO nobody writes to or a huge text
file must each end in a message, in bounded memory, never in a ``MemoryError``
or a hang.  Memory is bounded by design:

- every reader streams: pcap/pcapng in ``CHUNK`` (16 MiB) reads, tcpdump text
  in ``TEXT_CHUNK`` (8 MiB) reads cut at a line end, so the working set is a
  fixed budget independent of the file size;
- what is kept grows with the packets kept, about 100 bytes per packet in the
  finished DataFrame (see ``benchmarks/README.md`` for the measured peak per
  million packets), and at most ``max_packets`` packets (text: lines) are kept
  (default :data:`MAX_PACKETS`); beyond it the reader stops, warns with
  :class:`CaptureLimitWarning` and sets ``df.attrs["limit_reached"]``;
  ``max_bytes`` optionally stops reading after that many bytes of the file;
- records that hold nothing (pcap ``caplen == orig_len == 0``, what a
  zero-filled file reads as) are skipped and counted
  (``df.attrs["skipped_records"]``, with a warning); a file with only such
  records is a :class:`~spkrunbook.errors.CaptureError`;
- a pcap record larger than ``MAX_RECORD`` or a pcapng block larger than
  ``MAX_BLOCK`` is damage: pcap stops there with a warning (the packets before
  it are kept), pcapng raises :class:`~spkrunbook.errors.CaptureError`;
- a text line longer than ``MAX_LINE`` is reported as unparsed (its first
  200 characters) and skipped; at most ``MAX_UNPARSED_KEPT`` unparsed lines
  keep their text, every one is counted (``attrs["unparsed_count"]``);
- only regular files are read by path: FIFOs, devices, sockets and folders are
  refused at once (opened non-blocking, so a FIFO without a writer never hangs).
  Live bytes go through :class:`spkrunbook.capture.PcapStreamReader`;
- the streaming pass (:func:`spkrunbook.capture.analyze_capture`) keeps no
  packet rows beyond ``MAX_KEPT_ROWS`` flagged or reset packets and
  ``MAX_STREAM_PACKETS`` packets of each stream it draws; its state grows with
  conversations, streams and addresses.  Files of ``STREAMING_BYTES`` or more
  take that pass in the debugging step and ``spkrunbook capture``.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from spkrunbook.errors import CaptureError

#: default ceiling of packets (text: lines) one read keeps (~1 GB of DataFrame at 10 M)
MAX_PACKETS = 10_000_000
#: largest pcap record accepted, whatever the header's snaplen says
MAX_RECORD = 16 * 1024 * 1024
#: largest pcapng block accepted
MAX_BLOCK = 16 * 1024 * 1024
#: longest tcpdump text line read as a line
MAX_LINE = 1024 * 1024
#: unparsed text lines whose text is kept in ``attrs["unparsed"]`` (all are counted)
MAX_UNPARSED_KEPT = 1000
#: bytes of tcpdump text parsed at a time
TEXT_CHUNK = 8 * 1024 * 1024
#: the streaming pass (spkrunbook.capture.streaming): flagged and reset packets kept for the event tables
MAX_KEPT_ROWS = 500_000
#: the streaming pass: packets of one stream read back for its flow and sequence graphs
MAX_STREAM_PACKETS = 200_000
#: files at least this large are analysed by the streaming pass in the debugging step and ``spkrunbook capture``
STREAMING_BYTES = 256 * 1024 * 1024


class CaptureLimitWarning(UserWarning):
    """A read stopped at ``max_packets`` / ``max_bytes``; the packets before the limit were kept."""


_KINDS = (
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISDIR, "folder"),
)


def open_regular(path: str | os.PathLike[str], what: str = "capture") -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file; raise CaptureError otherwise.

    The file is opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open
    descriptor (no race between the check and the read), so a FIFO without a
    writer is refused at once instead of blocking forever.
    """
    p = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(p, flags)
    except OSError as exc:
        if isinstance(exc, IsADirectoryError):
            raise CaptureError(f"{what} {p} is a folder, not a file", hint="give the path of a capture file") from exc
        raise CaptureError(f"cannot open {what} {p}: {exc.strerror}", hint="check the path and its permissions") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((name for test, name in _KINDS if test(st.st_mode)), "special file")
            raise CaptureError(
                f"{what} {p} is a {kind}, not a regular file; it is not read (it could block or never end)",
                hint=f"copy it to a file first (e.g. 'cat {p} > capture.pcap' or 'tcpdump -w capture.pcap'), "
                     "or feed live bytes to spkrunbook.capture.PcapStreamReader",
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
