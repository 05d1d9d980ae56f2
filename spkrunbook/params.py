"""The Lab parameter model: one typed, validated description of a lab run, and the only validator.

Loaded once at the edge (``spkrunbook validate``/``run``, a notebook opened by
hand, a form) and trusted everywhere after. ``load`` reports every problem at
once with its dotted field path, e.g.
``networks.internal.master: 'ens 224' is not a valid interface name``; forms ask
``field_problems(lab, path, value)`` so a person typing sees the same message.

What a params file may be is bounded: at most ``MAX_FILE_BYTES``, ``MAX_ALIASES``
YAML aliases, ``MAX_DEPTH`` levels, ``MAX_STRING`` characters per value, UTF-8
text without NUL or control characters; ``${ENV}`` expansion never multiplies
shared (aliased) nodes. Values still holding the template's ``<placeholder>``
are reported per field.

Secrets (``target.token``, ``install.image_credentials.password``) are
``SecretStr``: they never show in ``repr``, ``scrubbed()`` or a record, and may be
written as ``${ENV_VAR}`` so the params file itself holds none.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from . import kubeconfig
from .bundle import STEPS, step_name
from .errors import ClusterUnreachable, ParameterError, Problem
from .secrets import ENV_REFS

# Linux IFNAMSIZ is 16 including the NUL: names are at most 15 bytes.
IFNAME_MAX = 15
_IFNAME_BAD = re.compile(r"[/:\s]")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_PLACEHOLDER = re.compile(r"^<[^<>\n]{1,200}>$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MACVLAN_MODES = ("bridge", "private", "vepa", "passthru")
KNOWN_CNI_VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
# OpenShift documents cniVersion 0.3.1 as the minimum for macvlan additional networks.
OPENSHIFT_MIN_MACVLAN_CNI = "0.3.1"
SECRET_PLACEHOLDER = "***"
#: An MTU the params accept: IPv4's minimum link MTU (RFC 791) up to common jumbo frames.
MTU_MIN, MTU_MAX = 68, 9216
#: The runbook's steps in order; a params file may also name them 1-4 or 01-04.
# Bounds on what a params file may be (a lab file is a few KB).
MAX_FILE_BYTES = 1 << 20
MAX_ALIASES = 64
MAX_DEPTH = 32
MAX_STRING = 16 * 1024


def interface_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a Linux interface name, or None when it can."""
    if not name:
        return "an interface name cannot be empty"
    if name in (".", ".."):
        return f"{name!r} is not a valid interface name"
    if _CONTROL.search(name) or "\x00" in name:
        return f"{name!r} is not a valid interface name (control characters are not allowed)"
    if _IFNAME_BAD.search(name):
        return f"{name!r} is not a valid interface name (no '/', ':' or whitespace allowed)"
    if len(name.encode()) > IFNAME_MAX:
        return f"{name!r} is not a valid interface name (at most {IFNAME_MAX} characters, it has {len(name)})"
    return None


def dns1123_problem(name: str) -> str | None:
    if not name:
        return "required (a DNS-1123 label: lower-case letters, digits and '-')"
    if len(name) > 63:
        return f"{name!r} is longer than 63 characters (DNS-1123 label)"
    if not _DNS1123_LABEL.match(name):
        return f"{name!r} is not a DNS-1123 label (lower-case letters, digits and '-', starting and ending alphanumeric)"
    return None


def _ifname(value: str) -> str:
    msg = interface_name_problem(value)
    if msg:
        raise PydanticCustomError("ifname", msg)
    return value


def _dns(value: str) -> str:
    msg = dns1123_problem(value)
    if msg:
        raise PydanticCustomError("dns1123", msg)
    return value


def _quantity(value: Any) -> str | None:
    """A Kubernetes memory quantity written with Mi/Gi, as F5 requires for TMM."""
    if value is None:
        return None
    text = str(value)
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?(Mi|Gi)", text):
        raise PydanticCustomError("quantity", f"{text!r} must be a quantity in Mi or Gi, e.g. '1572Mi' or '2Gi'")
    return text


def _mtu(value: Any) -> int | None:
    """An MTU typed or written: empty is unset, otherwise a whole number in ``MTU_MIN..MTU_MAX``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise PydanticCustomError("mtu", f"{value!r} is not a whole number")
    try:
        n = int(str(value).strip())
    except ValueError:
        raise PydanticCustomError("mtu", f"{value!r} is not a whole number") from None
    if not MTU_MIN <= n <= MTU_MAX:
        raise PydanticCustomError("mtu", f"{n} is outside {MTU_MIN}..{MTU_MAX}")
    return n


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    cur = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        cur = cur[part]
    cur[parts[-1]] = value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TargetParams(_Model):
    """Where cluster state comes from: a live API server or a must-gather style snapshot."""

    kind: Literal["snapshot", "live"] = "snapshot"
    snapshot: Path | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool = False
    server: str | None = None
    token: SecretStr | None = None
    ca_file: Path | None = None  # with server: the CA that signed the API server's certificate
    verify_tls: bool = True
    # 15 s per request, the whole answer (not per read): long enough for a busy API server listing
    # 1,000 nodes, short enough that an unreachable cluster fails the run within a minute with retries.
    request_timeout: float = Field(15.0, gt=0, le=300)
    retries: int = Field(3, ge=0, le=10)
    # The largest list answer read (a single object is at most 8 MB whatever this says).
    max_response_mb: int = Field(64, gt=0, le=4096)

    @model_validator(mode="after")
    def _need_source(self) -> TargetParams:
        if self.kind == "snapshot" and self.snapshot is None:
            raise PydanticCustomError("target", "required when target.kind is 'snapshot'")
        return self


class NetworkParams(_Model):
    """One macvlan NetworkAttachmentDefinition."""

    name: str
    namespace: str = "default"
    master: str
    mode: str = "bridge"
    cni_version: str = OPENSHIFT_MIN_MACVLAN_CNI
    mtu: int | None = None

    _v_name = field_validator("name", "namespace")(_dns)
    _v_master = field_validator("master")(_ifname)
    _v_mtu = field_validator("mtu", mode="before")(_mtu)

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        if v not in MACVLAN_MODES:
            hint = " (the macvlan plugin spells it 'passthru')" if v == "passthrough" else ""
            raise PydanticCustomError(
                "mode", f"{v!r} is not a macvlan mode; use 'bridge', 'private', 'vepa' or 'passthru'{hint}")
        return v

    @field_validator("cni_version")
    @classmethod
    def _known_cni(cls, v: str) -> str:
        if v not in KNOWN_CNI_VERSIONS:
            raise PydanticCustomError("cni", f"{v!r} is not a known CNI spec version ({', '.join(KNOWN_CNI_VERSIONS)})")
        return v


class Networks(_Model):
    internal: NetworkParams
    external: NetworkParams
    # The order of tmm.cniNetworks decides TMM interface names: first is 1.1, second 1.2.
    order: tuple[Literal["internal", "external"], Literal["internal", "external"]] = ("internal", "external")

    @field_validator("order")
    @classmethod
    def _both(cls, v: tuple[str, str]) -> tuple[str, str]:
        if set(v) != {"internal", "external"}:
            raise PydanticCustomError("order", "must list 'internal' and 'external' once each")
        return v

    def ordered(self) -> list[tuple[str, NetworkParams]]:
        return [(role, getattr(self, role)) for role in self.order]


class NadOptions(_Model):
    force: bool = False
    teardown: bool = False


class EnvVar(_Model):
    name: str
    value: str


class TmmParams(_Model):
    """The TMM pod: where it runs and what it asks for."""

    namespace: str = "default"
    node_selector: dict[str, str] = Field(default_factory=lambda: {"node-role.kubernetes.io/worker": ""})
    replicas: int = Field(1, ge=1, le=64)
    cpu: int = Field(1, ge=1, le=64)
    memory: str | None = None
    hugepages: str | None = None
    hugepage_size: Literal["2Mi", "1Gi"] = "2Mi"
    topology_manager: bool = False
    pod_selector: str = "app=f5-tmm"
    custom_env: list[EnvVar] = Field(default_factory=list)
    # TMM_DEFAULT_MTU in TMM's environment: F5 couples it with a VLAN's mtu (steps.install.mtu)
    default_mtu: int | None = None

    _v_ns = field_validator("namespace")(_dns)
    _v_mtu = field_validator("default_mtu", mode="before")(_mtu)
    _v_q = field_validator("memory", "hugepages", mode="before")(_quantity)

    @field_validator("cpu", mode="before")
    @classmethod
    def _whole_cpu(cls, v: Any) -> Any:
        if isinstance(v, str) and v.endswith("m"):
            raise PydanticCustomError("cpu", f"{v!r}: TMM needs whole CPUs (Guaranteed QoS); millicores are not allowed")
        if isinstance(v, float) and not v.is_integer():
            raise PydanticCustomError("cpu", f"{v!r}: TMM needs whole CPUs (Guaranteed QoS); use 1, 2, 3 ...")
        return v

    def selector_string(self) -> str:
        return ",".join(f"{k}={v}" if v else k for k, v in self.node_selector.items())


class VlanParams(_Model):
    """One F5SPKVlan: self IPs (one per TMM replica, in order), prefix, optional tag and MTU."""

    name: str
    selfip_v4s: list[str] = Field(default_factory=list)
    prefixlen_v4: int | None = Field(None, ge=0, le=32)
    selfip_v6s: list[str] = Field(default_factory=list)
    prefixlen_v6: int | None = Field(None, ge=0, le=128)
    tag: int | None = Field(None, ge=0, le=4094)
    mtu: int | None = None

    _v_name = field_validator("name")(_dns)
    _v_mtu = field_validator("mtu", mode="before")(_mtu)

    @field_validator("selfip_v4s")
    @classmethod
    def _v4(cls, v: list[str]) -> list[str]:
        for a in v:
            try:
                ipaddress.IPv4Address(a)
            except ValueError:
                raise PydanticCustomError("ip", f"{a!r} is not an IPv4 address") from None
        return v

    @field_validator("selfip_v6s")
    @classmethod
    def _v6(cls, v: list[str]) -> list[str]:
        for a in v:
            try:
                ip = ipaddress.IPv6Address(a)
            except ValueError:
                raise PydanticCustomError("ip", f"{a!r} is not an IPv6 address") from None
            if ip.scope_id is not None:  # Python accepts fe80::1%eth0; the F5SPKVlan's format: ipv6 does not
                raise PydanticCustomError("ip", f"{a!r} has a scope id (%{ip.scope_id}); a self IP is written without one")
        return v


class Vlans(_Model):
    internal: VlanParams = Field(default_factory=lambda: VlanParams(name="internal"))
    external: VlanParams = Field(default_factory=lambda: VlanParams(name="external"))


class ImageCredentials(_Model):
    registry: str
    username: str
    password: SecretStr


class Signatures(_Model):
    """F5's signed release: a public key (PEM) and signature files, each over the file it names."""

    key: Path | None = None
    files: list[Path] = Field(default_factory=list)


class InstallParams(_Model):
    """The f5ingress Helm release."""

    release: str = "f5ingress"
    chart: str | None = None
    chart_version: str | None = None
    values_file: Path | None = None
    modify_values_in_place: bool = False
    extra_values_files: list[Path] = Field(default_factory=list)
    helm_timeout: str = "10m"
    # How long to wait for the TMM pod to become Ready after helm returns.
    wait_timeout: float = Field(600.0, gt=0, le=7200)
    image_credentials: ImageCredentials | None = None
    run_helm: bool = True
    # helm waits for the release's resources itself (v3 --wait, v4 --wait=watcher); the runbook waits for TMM anyway
    helm_wait: bool = False
    # a failed install or upgrade is rolled back by helm (v3 --atomic, v4 --rollback-on-failure)
    rollback_on_failure: bool = False
    # uninstall the release at the end of the step (the install step's teardown)
    teardown: bool = False
    # checked before helm runs (steps.install.signatures); found beside a local chart when not given
    signatures: Signatures = Field(default_factory=Signatures)
    # the public keyring `helm verify` checks a chart's provenance file (<chart>.prov) against
    keyring: Path | None = None
    # where the CWC (licensing) runs; default: the values' controller.f5_lic_helper.cwcNamespace, else spk-telemetry
    cwc_namespace: str | None = None

    _v_cwc = field_validator("cwc_namespace")(lambda v: None if v is None else _dns(v))

    @field_validator("helm_timeout")
    @classmethod
    def _duration(cls, v: str) -> str:
        if not re.fullmatch(r"([0-9]+h)?([0-9]+m)?([0-9]+s)?", v) or not v:
            raise PydanticCustomError("duration", f"{v!r} is not a Go duration like '10m' or '1h30m'")
        if not any(int(n) for n in re.findall(r"[0-9]+", v)):
            raise PydanticCustomError("duration", f"{v!r} is zero: helm needs time to install; give e.g. '10m'")
        return v


#: What a BPF filter word may hold: tcpdump gets each word as its own argument, never through a shell,
#: and a word with other characters (``443;``) is a typo or an attempt that tcpdump would refuse late.
BPF_WORD = re.compile(r"^[A-Za-z0-9_.:/\-\[\]&|!=<>()]+$")


def bpf_word_problem(word: str) -> str | None:
    """Why ``word`` cannot be one word of a capture filter, or None (the one rule; forms and steps ask it)."""
    if not isinstance(word, str) or not word:
        return "a capture filter word cannot be empty"
    if not BPF_WORD.match(word):
        return (f"capture filter word {word!r} has characters a BPF filter does not use; write the filter as "
                "a list of words, e.g. [tcp, port, '443']")
    return None


class CaptureParams(_Model):
    where: Literal["pod", "node"] = "pod"
    interface: str = "any"
    seconds: float = Field(10.0, gt=0, le=3600)
    packets: int | None = Field(None, ge=1, le=10_000_000)
    filter: list[str] = Field(default_factory=list)
    node: str | None = None
    snaplen: int = Field(262144, ge=64, le=262144)

    @field_validator("filter")
    @classmethod
    def _filter(cls, v: list[str]) -> list[str]:
        for word in v:
            why = bpf_word_problem(word)
            if why:
                raise PydanticCustomError("bpf", why)
        return v

    @field_validator("interface")
    @classmethod
    def _iface(cls, v: str) -> str:
        return _ifname(v)


class DebugParams(_Model):
    capture: CaptureParams = Field(default_factory=CaptureParams)
    live_capture: bool = False
    analyse: list[Path] = Field(default_factory=list)
    # Above these per-capture ratios the findings table warns.
    reset_threshold: float = Field(0.05, ge=0, le=1)
    retransmission_threshold: float = Field(0.02, ge=0, le=1)
    exec_timeout: float = Field(30.0, gt=0, le=600)


class Lab(_Model):
    """A whole lab: the one object every step receives."""

    lab: str
    description: str = ""
    target: TargetParams
    networks: Networks
    nad: NadOptions = Field(default_factory=NadOptions)
    tmm: TmmParams = Field(default_factory=TmmParams)
    vlans: Vlans = Field(default_factory=Vlans)
    install: InstallParams = Field(default_factory=InstallParams)
    debug: DebugParams = Field(default_factory=DebugParams)
    steps: list[str] = Field(default_factory=lambda: list(STEPS))

    _v_lab = field_validator("lab")(_dns)

    @field_validator("steps")
    @classmethod
    def _known_steps(cls, v: list[str]) -> list[str]:
        if not v:
            raise PydanticCustomError("steps", f"lists no step; give one or more of {', '.join(STEPS)}")
        out = []
        for s in v:
            name = step_name(s)
            if name is None:
                raise PydanticCustomError("steps", f"unknown step {s!r}; known: {', '.join(STEPS)} (or 1-4)")
            out.append(name)
        return out

    # The cross-field judgement of this lab and the content it judged: made when it was validated,
    # made again only when the content changed (a form edits nested fields the validator never sees).
    _judged: tuple[str, list[Problem]] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _cross(self, info: ValidationInfo) -> Lab:
        ctx = info.context if isinstance(info.context, dict) else {}
        if ctx.get("validated"):
            # A record's lab that this run already judged (``from_record`` checked it is the same
            # file): its warnings come from the run, nothing is judged twice.
            self._judged = (self._content(), list(ctx.get("warnings") or []))
            return self
        problems = semantic_problems(self)
        if any(p.severity == "error" for p in problems):
            # Warnings ride along (marked ~) so a form still sees them beside the errors.
            lines = [f"{'@' if p.severity == 'error' else '~'}{p.path}|{p.message}" for p in problems]
            raise PydanticCustomError("semantic", "\n".join(lines))
        self._judged = (self._content(), problems)
        return self

    def _content(self) -> str:
        return self.model_dump_json()

    def problems(self) -> list[Problem]:
        """The cross-field problems of this lab (only warnings, once it is valid), judged once per content."""
        content = self._content()
        if self._judged is None or self._judged[0] != content:
            self._judged = (content, semantic_problems(self))
        return list(self._judged[1])

    # -- convenience -----------------------------------------------------------------
    def secrets(self) -> list[str]:
        """Every secret value this lab carries (for scrubbing records)."""
        out = [v.get_secret_value() for v in self._secret_fields().values() if v is not None]
        return [s for s in out if s]

    def _secret_fields(self) -> dict[str, SecretStr | None]:
        creds = self.install.image_credentials
        return {"target.token": self.target.token,
                "install.image_credentials.password": creds.password if creds is not None else None}

    def scrubbed(self) -> dict[str, Any]:
        """The params as plain JSON-able data with every secret replaced by ``***``."""
        return self._with_secrets(lambda path: SECRET_PLACEHOLDER)

    def referenced(self) -> dict[str, Any]:
        """The params as JSON-able data with every secret as its ``${ENV}`` reference (``secrets.ENV_REFS``)."""
        return self._with_secrets(lambda path: "${" + ENV_REFS[path] + "}")

    def _with_secrets(self, placeholder: Any) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        for path, value in self._secret_fields().items():
            if value is not None:
                _set(data, path, placeholder(path))
        return data

    def secret_environment(self) -> dict[str, str]:
        """The environment a process needs to rebuild this lab from ``referenced()`` (names -> values)."""
        return {ENV_REFS[path]: v.get_secret_value() for path, v in self._secret_fields().items() if v is not None}

    def warnings(self) -> list[Problem]:
        return [p for p in self.problems() if p.severity == "warning"]

    @property
    def cni_networks(self) -> str:
        """The ``tmm.cniNetworks`` value: ``ns/name,ns/name`` in interface order."""
        return ",".join(f"{n.namespace}/{n.name}" for _, n in self.networks.ordered())


def semantic_problems(lab: Lab) -> list[Problem]:
    """Checks that span fields; warnings do not stop a run but are shown."""
    out: list[Problem] = []
    i, e = lab.networks.internal, lab.networks.external
    if (i.namespace, i.name) == (e.namespace, e.name):
        out.append(Problem("networks.external.name", f"{e.name!r} is also the internal network's name; they must differ"))
    if i.master == e.master and "passthru" in (i.mode, e.mode):
        out.append(Problem("networks.external.master",
                           f"{e.master!r} is also the internal master, and passthru gives a master to one attachment "
                           "per node: the second NAD could never attach; use separate interfaces"))
    elif i.master == e.master:
        out.append(
            Problem(
                "networks.external.master",
                f"{e.master!r} is also the internal master; internal and external should use separate interfaces",
                "warning",
            )
        )
    for role, n in (("internal", i), ("external", e)):
        if _version_tuple(n.cni_version) < (0, 3, 0):
            out.append(Problem(f"networks.{role}.cni_version",
                               f"{n.cni_version}: CNI results before 0.3.0 cannot describe an interface without an address, "
                               f"and SPK's NADs have an empty ipam; use {OPENSHIFT_MIN_MACVLAN_CNI}"))
        elif _version_tuple(n.cni_version) < _version_tuple(OPENSHIFT_MIN_MACVLAN_CNI):
            out.append(
                Problem(
                    f"networks.{role}.cni_version",
                    f"{n.cni_version} is below {OPENSHIFT_MIN_MACVLAN_CNI}, the minimum OpenShift documents for macvlan",
                    "warning",
                )
            )
    for role in ("internal", "external"):
        v: VlanParams = getattr(lab.vlans, role)
        if v.selfip_v4s and v.prefixlen_v4 is None:
            out.append(Problem(f"vlans.{role}.prefixlen_v4", "required when selfip_v4s are given"))
        if v.selfip_v6s and v.prefixlen_v6 is None:
            out.append(Problem(f"vlans.{role}.prefixlen_v6", "required when selfip_v6s are given"))
    tmm_mtu = [e.value for e in lab.tmm.custom_env if e.name == "TMM_DEFAULT_MTU"]
    if lab.tmm.default_mtu is not None and tmm_mtu and tmm_mtu[0] != str(lab.tmm.default_mtu):
        out.append(Problem("tmm.default_mtu", f"{lab.tmm.default_mtu} but tmm.custom_env sets TMM_DEFAULT_MTU to "
                                              f"{tmm_mtu[0]}: give it once"))
    if lab.vlans.internal.name == lab.vlans.external.name:
        out.append(Problem("vlans.external.name", "the internal and external VLANs must have different names"))
    out += selfip_problems(lab)
    if lab.target.kind == "live" and not (lab.target.kubeconfig or lab.target.in_cluster or lab.target.server):
        out.append(Problem("target", "a live target needs kubeconfig, in_cluster: true, or server + token"))
    if lab.target.server and lab.target.token is None and not lab.target.kubeconfig:
        out.append(Problem("target.token", "required with target.server (or give a kubeconfig)"))
    if lab.target.ca_file is not None and not lab.target.server:
        out.append(Problem("target.ca_file", "only with target.server: a kubeconfig names its own CA, and in-cluster "
                                             "uses the service account's"))
    if lab.target.kind == "live" and not lab.target.verify_tls:
        out.append(Problem("target.verify_tls", "false: the API server's certificate is not checked, so anything "
                                                "between here and the cluster can read the credentials; give "
                                                "target.ca_file (or the kubeconfig's CA) instead", "warning"))
    return out


def selfip_problems(lab: Lab) -> list[Problem]:
    """The self-IP rules that need no cluster: one per replica, distinct, usable, one subnet per VLAN.

    F5SPKVlan gives replica N the N-th address of each list; the same address on both
    VLANs, twice in one list, outside the subnet of the others, or the network or
    broadcast address of the prefix would be rejected after the NADs exist, so they
    are caught here, before anything is written. (The internal VLAN's node-subnet
    rule needs the cluster: ``spkrunbook validate``/``run`` check it before a write.)
    """
    out: list[Problem] = []
    seen: dict[str, str] = {}
    replicas = lab.tmm.replicas
    subnets: dict[str, list[Any]] = {"internal": [], "external": []}
    for role in ("internal", "external"):
        v: VlanParams = getattr(lab.vlans, role)
        for family, addrs, plen in ((4, v.selfip_v4s, v.prefixlen_v4), (6, v.selfip_v6s, v.prefixlen_v6)):
            field_name = f"vlans.{role}.selfip_v{family}s"
            if addrs and len(addrs) < replicas:
                out.append(Problem(field_name, f"{len(addrs)} address(es) for {replicas} TMM replica(s): "
                                               f"add {replicas - len(addrs)} more (one per replica, in order)"))
            elif len(addrs) > replicas:
                out.append(Problem(field_name, f"{len(addrs)} addresses for {replicas} replica(s); the extra ones are "
                                               "unused (remove them or raise tmm.replicas)", "warning"))
            first = None
            for n, a in enumerate(addrs):
                here = f"{field_name}[{n}]"
                if a in seen:
                    out.append(Problem(here, f"{a} is used in {seen[a]} and {field_name}; each self IP must be different"))
                    continue
                seen[a] = field_name
                if plen is None:
                    continue
                try:
                    iface = ipaddress.ip_interface(f"{a}/{plen}")
                except ValueError:
                    continue
                net = iface.network
                if family == 4:
                    subnets[role].append(net)
                if family == 4 and plen <= 30 and iface.ip in (net.network_address, net.broadcast_address):
                    which = "network" if iface.ip == net.network_address else "broadcast"
                    out.append(Problem(here, f"{a} is the {which} address of {net}; pick a host address inside the /{plen}"))
                elif family == 6 and plen <= 126 and iface.ip == net.network_address:
                    out.append(Problem(here, f"{a} is the subnet-router anycast address of {net}; pick a host address"))
                if first is None:
                    first = net
                elif net != first:
                    out.append(Problem(here, f"{a} is outside {first} (the /{plen} of the first address; every "
                                             "replica's self IP is on one subnet)"))
    overlap = sorted({f"{a} / {b}" for a in subnets["internal"] for b in subnets["external"] if a.overlaps(b)})
    if overlap:
        out.append(Problem("vlans.external.selfip_v4s", f"internal and external overlap: {', '.join(overlap)}; "
                                                       "use a different subnet per VLAN", "warning"))
    return out


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


# -- loading ------------------------------------------------------------------------------------


def _walk(data: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) for every scalar, each shared node visited once."""
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [(path, data)]
    while stack:
        p, node = stack.pop()
        if isinstance(node, (dict, list)):
            if id(node) in seen:
                continue
            seen.add(id(node))
            items = list(node.items() if isinstance(node, dict) else enumerate(node))
            for k, v in reversed(items):  # reversed onto the stack: visited in file order
                child = (f"{p}[{k}]" if isinstance(node, list) else (f"{p}.{k}" if p else str(k)))
                stack.append((child, v))
        else:
            yield p, node


def _text_problems(data: Any) -> list[Problem]:
    """Placeholders left from the template, NUL/control characters, absurdly long values."""
    out: list[Problem] = []
    for path, value in _walk(data):
        if not isinstance(value, str):
            continue
        if _PLACEHOLDER.match(value.strip()):
            out.append(Problem(path, f"still the template's placeholder {value.strip()}: fill it in"))
        elif "\x00" in value:
            out.append(Problem(path, "contains a NUL byte; retype the value"))
        elif _CONTROL.search(value):
            ch = _CONTROL.search(value).group(0)  # type: ignore[union-attr]
            out.append(Problem(path, f"contains the control character U+{ord(ch):04X}; retype the value"))
        elif len(value) > MAX_STRING:
            out.append(Problem(path, f"is {len(value):,} characters long (at most {MAX_STRING:,}); is this the right file?"))
    return out


def _expand_env(data: Any, problems: list[Problem]) -> Any:
    """Replace ``${VAR}`` strings with the environment's value, copying each shared node once."""
    memo: dict[int, Any] = {}

    def go(node: Any, path: str) -> Any:
        if isinstance(node, (dict, list)):
            if id(node) in memo:
                return memo[id(node)]
            if isinstance(node, dict):
                out: Any = {}
                memo[id(node)] = out
                for k, v in node.items():
                    out[k] = go(v, f"{path}.{k}" if path else str(k))
            else:
                out = []
                memo[id(node)] = out
                out.extend(go(v, f"{path}[{n}]") for n, v in enumerate(node))
            return out
        if isinstance(node, str):
            m = _ENV_REF.match(node)
            if m:
                if m.group(1) not in os.environ:
                    problems.append(Problem(path, f"environment variable {m.group(1)} is not set: export it before the run"))
                    return None
                return os.environ[m.group(1)]
        return node

    return go(data, "")


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif str(item).startswith("function-"):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _problems_from(exc: ValidationError) -> list[Problem]:
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        path = _loc_to_path(tuple(err["loc"]))
        msg = err["msg"]
        if err["type"] == "semantic":
            for line in msg.split("\n"):
                p, _, m = line[1:].partition("|")
                out.append(Problem(p, m, "warning" if line.startswith("~") else "error"))
            continue
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling against the documented template: spkrunbook init shows it)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "target":
            path = "target.snapshot"
        out.append(Problem(path, msg))
    return out


def parse(data: Any, *, base_dir: Path | None = None, source: str | None = None) -> Lab:
    """Validate a params mapping into a ``Lab``; relative paths resolve against ``base_dir``.

    With ``base_dir`` (a params file's folder) the files it names are checked too.
    """
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise ParameterError([Problem("", "the params file must be a YAML mapping (lab: ..., target: ...)")], source=source)
    text = _text_problems(data)
    data = _expand_env(data, problems)
    problems += text
    shadowed = {p.path for p in problems}
    try:
        lab = Lab.model_validate(data)
    except ValidationError as exc:
        # A placeholder is the whole story for its field: the model's complaint about it is noise.
        found = [p for p in _problems_from(exc) if not any(_related(p.path, s) for s in shadowed)]
        every = _dedupe(problems + found)
        err = ParameterError([p for p in every if p.severity == "error"], source=source)
        err.warnings = [p for p in every if p.severity != "error"]
        raise err from None
    if problems:
        raise ParameterError(_dedupe(problems), source=source)
    if base_dir is not None:
        _resolve_paths(lab, base_dir)
        if lab._judged is not None:  # where the files are is no rule's business: the judgement stands
            lab._judged = (lab._content(), lab._judged[1])
        missing = file_problems(lab)
        if missing:
            raise ParameterError(missing, source=source)
    return lab


def _related(a: str, b: str) -> bool:
    """One path is the other, or an element/field of it (``x[0]`` and ``x``)."""
    return a == b or a.startswith((b + "[", b + ".")) or b.startswith((a + "[", a + "."))


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out


def _kind(p: Path) -> str:
    try:
        mode = p.stat().st_mode
    except OSError as exc:
        return "loop" if exc.errno == errno.ELOOP else "missing"
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "special"


def file_problems(lab: Lab) -> list[Problem]:
    """Files and folders the params name must exist and be of the right kind before anything runs."""
    out: list[Problem] = []

    def need(path: str, p: Path | None, kind: str, what: str) -> None:
        if p is None:
            return
        got = _kind(Path(p))
        if got == "missing":
            out.append(Problem(path, f"{p} does not exist"))
        elif got == "loop":
            out.append(Problem(path, f"{p} is a symbolic link that points to itself (a loop)"))
        elif got != kind:
            shown = {"dir": "a folder", "file": "a file", "special": "not a regular file (a FIFO or device?)"}[got]
            out.append(Problem(path, f"{p} is {shown}; it must be {what}"))

    t = lab.target
    if t.kind == "snapshot":
        need("target.snapshot", t.snapshot, "dir", "the folder oc adm must-gather wrote")
    if t.kind == "live" and t.ca_file is not None:
        need("target.ca_file", t.ca_file, "file", "a PEM file with the CA that signed the API server's certificate")
    if t.kind == "live" and t.kubeconfig is not None:
        need("target.kubeconfig", t.kubeconfig, "file", "a kubeconfig file (oc login writes ~/.kube/config)")
        if _kind(Path(t.kubeconfig)) == "file":
            try:
                names = kubeconfig.load(t.kubeconfig).names
            except ClusterUnreachable as exc:  # aliases, not UTF-8, too large: said before anything connects
                out.append(Problem("target.kubeconfig", exc.message.removeprefix(f"the kubeconfig {t.kubeconfig} ")))
            else:
                if t.context and t.context not in names:
                    out.append(Problem("target.context", f"the kubeconfig {t.kubeconfig} has no context {t.context!r} "
                                                         f"(it has: {', '.join(names) or 'none'})"))
    need("install.values_file", lab.install.values_file, "file", "your ingress values YAML file")
    for n, p in enumerate(lab.install.extra_values_files):
        need(f"install.extra_values_files[{n}]", p, "file", "a values YAML file")
    chart = lab.install.chart
    if chart and _is_local_chart(chart):
        got = _kind(Path(chart))
        if got == "missing":
            out.append(Problem("install.chart", f"{chart} does not exist (give the f5ingress .tgz from the SPK tarball, "
                                                "or a repo/chart reference)"))
    for n, p in enumerate(lab.debug.analyse):
        need(f"debug.analyse[{n}]", p, "file", "a capture file (pcap, pcapng or tcpdump text)")
    need("install.signatures.key", lab.install.signatures.key, "file", "the PEM public key F5 ships with the release")
    for n, p in enumerate(lab.install.signatures.files):
        need(f"install.signatures.files[{n}]", p, "file", "a signature file (.sig) of the release")
    if lab.install.signatures.files and lab.install.signatures.key is None:
        out.append(Problem("install.signatures.key", "required with install.signatures.files (the PEM public key)"))
    need("install.keyring", lab.install.keyring, "file", "a public GnuPG keyring for helm verify")
    return out


def _is_local_chart(chart: str) -> bool:
    """A path on disk, not ``repo/chart`` or ``oci://...``: absolute, relative with ./, or a .tgz."""
    if re.match(r"^[a-z]+://", chart):
        return False
    return chart.startswith(("/", "./", "../", "~")) or chart.endswith((".tgz", ".tar.gz"))


def _resolve_paths(lab: Lab, base: Path) -> None:
    def fix(p: Path | None) -> Path | None:
        if p is None:
            return None
        p = p.expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    t = lab.target
    t.snapshot = fix(t.snapshot)
    t.kubeconfig = fix(t.kubeconfig)
    t.ca_file = fix(t.ca_file)
    lab.install.values_file = fix(lab.install.values_file)
    lab.install.extra_values_files = [fix(p) for p in lab.install.extra_values_files]  # type: ignore[misc]
    lab.debug.analyse = [fix(p) for p in lab.debug.analyse]  # type: ignore[misc]
    lab.install.signatures.key = fix(lab.install.signatures.key)
    lab.install.signatures.files = [fix(p) for p in lab.install.signatures.files]  # type: ignore[misc]
    lab.install.keyring = fix(lab.install.keyring)
    chart = lab.install.chart
    if chart and _is_local_chart(chart):
        lab.install.chart = str(fix(Path(chart)))


def read_yaml(path: Path) -> Any:
    """A params file's YAML, bounded in size, aliases and depth, as plain data (duplicate keys refused)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent

    src = str(path)

    def fail(message: str, hint: str | None = None) -> ParameterError:
        return ParameterError([Problem("", message)], source=src, hint=hint)

    kind = _kind(path)
    if kind == "loop":
        raise fail(f"params file {path} is a symbolic link that points to itself (a loop)",
                   "point at the real params file, or fix the link with `ls -l`")
    if kind == "missing":
        raise fail(f"params file {path} does not exist", "check the path; `spkrunbook init NAME` writes a new one")
    if kind == "dir":
        raise fail(f"{path} is a folder, not a params file", f"give a YAML file inside it, e.g. {path}/params/<lab>.yaml")
    if kind != "file":
        raise fail(f"{path} is not a regular file (a FIFO or device?)", "give a params YAML file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise fail(f"{path} is {path.stat().st_size:,} bytes; a params file is at most {MAX_FILE_BYTES:,}",
                   "is this the right file? a lab's params file is a few kilobytes")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}", "check the file's permissions") from None
    if b"\x00" in raw:
        raise fail(f"{path} is a binary file, not YAML text", "give the params YAML file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"{path} is not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})",
                   "save the file as UTF-8") from None
    yaml = YAML(typ="safe")
    try:
        aliases = depth = deepest = 0
        for event in yaml.parse(text):
            if isinstance(event, AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise fail(f"{path} uses more than {MAX_ALIASES} YAML aliases (*name)",
                               "write the values out; a params file needs few or no aliases")
            elif isinstance(event, CollectionStartEvent):
                depth += 1
                deepest = max(deepest, depth)
                if deepest > MAX_DEPTH:
                    raise fail(f"{path} nests deeper than {MAX_DEPTH} levels", "is this the right file?")
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
        return yaml.load(text)
    except YAMLError as exc:
        raise fail(f"not valid YAML: {exc}", "fix the YAML syntax at the line shown") from None
    except RecursionError:
        raise fail(f"{path} nests too deeply to read", "is this the right file?") from None


def load(path: str | os.PathLike[str]) -> Lab:
    """Read and validate a params file (relative paths inside resolve against its folder)."""
    p = Path(path).expanduser()
    try:
        p = p.resolve()
    except (RuntimeError, OSError):  # a symbolic link loop (RuntimeError before Python 3.13): read_yaml says so
        p = p.absolute()
    data = read_yaml(p)
    return parse({} if data is None else data, base_dir=p.parent, source=str(p))


def from_record(data: dict[str, Any], *, validated_warnings: list[Problem] | None = None) -> Lab:
    """The lab a runbook wrote into its record (``Lab.referenced()``), secrets from the environment.

    ``validated_warnings``: the run already judged this very lab (the caller checked the file is the
    one it wrote); the model is built without judging the cross-field rules again.
    """
    problems: list[Problem] = []
    expanded = _expand_env(data, problems)
    if problems:
        raise ParameterError(problems, source="the record's lab.json",
                             hint="run the notebook through `spkrunbook run`, which passes the secrets to it")
    context = {"validated": True, "warnings": validated_warnings} if validated_warnings is not None else None
    try:
        return Lab.model_validate(expanded, context=context)
    except ValidationError as exc:
        raise ParameterError(_problems_from(exc), source="the record's lab.json") from None


# -- forms: the same judgement for one field ------------------------------------------------------


def get_path(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    cur: Any = data
    for part in parts[:-1]:
        if isinstance(cur, list):
            cur = cur[int(part)]
        else:
            if cur.get(part) is None:
                cur[part] = {}
            cur = cur[part]
    if isinstance(cur, list):
        cur[int(parts[-1])] = value
    else:
        cur[parts[-1]] = value


def _under(problem_path: str, path: str) -> bool:
    return problem_path == path or problem_path.startswith(path + ".") or problem_path.startswith(path + "[")


def problems_with(lab: Lab, changes: dict[str, Any]) -> list[Problem]:
    """Every problem ``spkrunbook validate`` would report if ``lab`` had the dotted-path ``changes``.

    Errors come from the model, warnings from ``Lab.warnings()``. A form passes all
    its fields at once, so cross-field rules (a shared NAD name) are judged too.
    """
    data = lab.model_dump(mode="python")  # SecretStr values stay SecretStr: nothing secret is copied out
    for path, value in changes.items():
        _set_path(data, path, value)
    try:
        checked = parse(data)
    except ParameterError as exc:
        return list(exc.problems) + list(getattr(exc, "warnings", []))
    return checked.warnings()


def field_problems(lab: Lab, path: str, value: Any) -> list[Problem]:
    """What ``spkrunbook validate`` would say about field ``path`` if it held ``value`` (only that field's)."""
    return [p for p in problems_with(lab, {path: value}) if _under(p.path, path)]


def lab_with(lab: Lab, changes: dict[str, Any]) -> Lab:
    """A validated copy of ``lab`` with dotted-path ``changes`` (raises ``ParameterError``)."""
    data = lab.model_dump(mode="python")
    for path, value in changes.items():
        _set_path(data, path, value)
    return parse(data)


def dump(lab: Lab, path: str | os.PathLike[str], *, base_dir: Path | None = None) -> Path:
    """Write a Lab back as a params file (secrets written as ``${ENV}`` references, never values)."""
    from ruamel.yaml import YAML

    data = lab.referenced()
    base = Path(base_dir or Path(path).parent).resolve()

    def rel(v: Any) -> Any:
        if isinstance(v, str) and v.startswith("/"):
            try:
                return os.path.relpath(v, base)
            except ValueError:
                return v
        return v

    for key in ("snapshot", "kubeconfig", "ca_file"):
        data["target"][key] = rel(data["target"][key])
    data["install"]["values_file"] = rel(data["install"]["values_file"])
    out = Path(path)
    yaml = YAML()
    yaml.default_flow_style = False
    with open(out, "w", encoding="utf-8") as fh:
        yaml.dump(data, fh)
    return out


def secret_refs(lab: Lab) -> list[str]:
    """The env vars a params file written by ``dump`` for this lab needs before a headless run."""
    return sorted(lab.secret_environment())
