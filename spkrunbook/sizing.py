"""TMM resource sizing: whole CPUs, memory and hugepages with requests equal to limits, in Kubernetes quantities.

Known pairs come from the documents: 1 CPU with 1572Mi of 2Mi hugepages and 2Gi
memory (the test-environment example of F5's macvlan guide) and 2 CPUs with the chart default
3Gi hugepages and 2Gi memory (F5's TMM resources page). Any other CPU count needs
``tmm.hugepages`` in the params; otherwise the value is scaled from the 2-CPU
default (1.5Gi per CPU) and the result says so as an assumption, because F5
publishes no per-CPU rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .params import Lab

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -3, "u": -2, "m": -1, "": 0, "k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$")


def parse_quantity(value: object) -> Decimal:
    """The quantity as a Decimal (bytes for memory, cores for CPU); ValueError when it is not one."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return Decimal(str(value))
    text = str(value).strip()
    m = _QUANTITY.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number, suffix = m.groups()
    try:
        base = Decimal(number)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from None
    if suffix in _BINARY:
        return base * (Decimal(1024) ** _BINARY[suffix])
    if suffix[:1] in ("e", "E"):
        return base * (Decimal(10) ** int(suffix[1:]))
    return base * (Decimal(1000) ** _DECIMAL[suffix])


KNOWN_PAIRS: dict[int, tuple[str, str]] = {1: ("1572Mi", "2Gi"), 2: ("3Gi", "2Gi")}
DEFAULT_MEMORY = "2Gi"
# The debug sidecar's default limits (F5 TMM resources page): it shares the node with TMM.
DEBUG_SIDECAR_CPU = 0.5
DEBUG_SIDECAR_MEMORY = "1Gi"


@dataclass(frozen=True)
class TmmResources:
    cpu: int
    memory: str
    hugepages: str
    hugepage_size: str
    source: str
    assumption: str | None = None

    @property
    def hugepages_resource(self) -> str:
        return f"hugepages-{self.hugepage_size}"

    @property
    def hugepages_bytes(self) -> int:
        return int(parse_quantity(self.hugepages))

    @property
    def memory_bytes(self) -> int:
        return int(parse_quantity(self.memory))

    def block(self) -> dict[str, dict[str, object]]:
        """The ``tmm.resources`` values block: requests equal to limits (Guaranteed QoS)."""
        one = {"cpu": self.cpu, self.hugepages_resource: self.hugepages, "memory": self.memory}
        return {"limits": dict(one), "requests": dict(one)}


def tmm_resources(lab: Lab) -> TmmResources:
    """What one TMM pod's f5-tmm container asks for, and where each number came from."""
    t = lab.tmm
    known = KNOWN_PAIRS.get(t.cpu) if t.hugepage_size == "2Mi" else None
    memory = t.memory or (known[1] if known else DEFAULT_MEMORY)
    if t.hugepages:
        return TmmResources(t.cpu, memory, t.hugepages, t.hugepage_size, "params tmm.hugepages")
    if known:
        src = "F5's macvlan guide example (1 CPU)" if t.cpu == 1 else "chart default (2 CPU)"
        return TmmResources(t.cpu, memory, known[0], t.hugepage_size, src)
    mib = int(t.cpu * 1536)
    if t.hugepage_size == "1Gi":
        hp = f"{-(-mib // 1024)}Gi"
    else:
        hp = f"{mib}Mi" if mib % 1024 else f"{mib // 1024}Gi"
    return TmmResources(
        t.cpu,
        memory,
        hp,
        t.hugepage_size,
        "derived",
        assumption=(
            f"F5 publishes no hugepages rule for {t.cpu} CPUs; scaled the 2-CPU default (3Gi) to {hp}. "
            "Set tmm.hugepages in the params to state it explicitly."
        ),
    )


PAL_CPU_SET = "PAL_CPU_SET"


def cpu_set(text: str) -> list[int] | None:
    """The CPUs a Linux cpu-list names (``0-3,8``), or None when it is not one."""
    cpus: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            return None
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first or last - first > 4096:
            return None
        cpus.extend(range(first, last + 1))
    return sorted(set(cpus))


def pal_cpu_set_problem(value: object, cpu: float) -> tuple[str, str] | None:
    """(evidence, action) when ``PAL_CPU_SET`` disagrees with the TMM CPU count, else None.

    Field evidence ties TMM's mapres segfault crash-loop to this mismatch; the exact
    rule is unconfirmed, so callers report it as a warning with that evidence.
    """
    cpus = cpu_set(str(value))
    if cpus is None:
        return (f"{PAL_CPU_SET}={value!r} is not a cpu list (e.g. 0,1 or 0-3)",
                f"write {PAL_CPU_SET} as a cpu list with one CPU per TMM CPU, or remove it")
    if len(cpus) != int(cpu):
        return (f"{PAL_CPU_SET}={value} names {len(cpus)} CPU(s) but TMM has {cpu:g}: a mismatch is the cause "
                "field reports give for TMM's mapres segfault crash-loop (the exact rule is unconfirmed)",
                f"give {PAL_CPU_SET} exactly {cpu:g} CPU(s) (e.g. {','.join(str(i) for i in range(int(cpu)))}), "
                "or remove it")
    return None
