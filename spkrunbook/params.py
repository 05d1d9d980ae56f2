"""The Lab parameter model: one typed, validated description of a lab run.

Loaded once at the edge (CLI, notebook first cell, widget form) and trusted
everywhere after. ``load`` reports every problem at once with its dotted field
path, e.g. ``networks.internal.master: 'ens 224' is not a valid interface name``.

Secrets (``target.token``, ``install.image_credentials.password``) are
``SecretStr``: they never show in ``repr``, ``scrubbed()`` or a record, and may be
written as ``${ENV_VAR}`` so the params file itself holds no secret.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .errors import ParameterError, Problem

# Linux IFNAMSIZ is 16 including the NUL: names are at most 15 bytes.
IFNAME_MAX = 15
_IFNAME_BAD = re.compile(r"[/:\s]")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
MACVLAN_MODES = ("bridge", "private", "vepa", "passthru")
KNOWN_CNI_VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
# OpenShift documents cniVersion 0.3.1 as the minimum for macvlan additional networks.
OPENSHIFT_MIN_MACVLAN_CNI = "0.3.1"
SECRET_PLACEHOLDER = "***"


def interface_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a Linux interface name, or None when it can."""
    if not name:
        return "an interface name cannot be empty"
    if name in (".", ".."):
        return f"{name!r} is not a valid interface name"
    if _IFNAME_BAD.search(name):
        return f"{name!r} is not a valid interface name (no '/', ':' or whitespace allowed)"
    if len(name.encode()) > IFNAME_MAX:
        return f"{name!r} is not a valid interface name (at most {IFNAME_MAX} characters, it has {len(name)})"
    return None


def dns1123_problem(name: str) -> str | None:
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
    verify_tls: bool = True
    # 15 s per request: long enough for a busy API server listing 1,000 nodes, short
    # enough that an unreachable cluster fails the run within a minute with retries.
    request_timeout: float = Field(15.0, gt=0, le=300)
    retries: int = Field(3, ge=0, le=10)

    @model_validator(mode="after")
    def _need_source(self) -> "TargetParams":
        if self.kind == "snapshot" and self.snapshot is None:
            raise PydanticCustomError("target", "required when target.kind is 'snapshot'")
        return self


class NetworkParams(_Model):
    """One macvlan NetworkAttachmentDefinition."""

    name: str
    namespace: str = "default"
    master: str
    mode: Literal["bridge", "private", "vepa", "passthru"] = "bridge"
    cni_version: str = OPENSHIFT_MIN_MACVLAN_CNI
    mtu: int | None = Field(None, ge=68, le=9216)

    _v_name = field_validator("name", "namespace")(_dns)
    _v_master = field_validator("master")(_ifname)

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

    _v_ns = field_validator("namespace")(_dns)
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
    mtu: int | None = Field(None, ge=68, le=9216)

    _v_name = field_validator("name")(_dns)

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
                ipaddress.IPv6Address(a)
            except ValueError:
                raise PydanticCustomError("ip", f"{a!r} is not an IPv6 address") from None
        return v


class Vlans(_Model):
    internal: VlanParams = Field(default_factory=lambda: VlanParams(name="internal"))
    external: VlanParams = Field(default_factory=lambda: VlanParams(name="external"))


class ImageCredentials(_Model):
    registry: str
    username: str
    password: SecretStr


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

    @field_validator("helm_timeout")
    @classmethod
    def _duration(cls, v: str) -> str:
        if not re.fullmatch(r"([0-9]+h)?([0-9]+m)?([0-9]+s)?", v) or not v:
            raise PydanticCustomError("duration", f"{v!r} is not a Go duration like '10m' or '1h30m'")
        return v


class CaptureParams(_Model):
    where: Literal["pod", "node"] = "pod"
    interface: str = "any"
    seconds: float = Field(10.0, gt=0, le=3600)
    packets: int | None = Field(None, ge=1, le=10_000_000)
    filter: list[str] = Field(default_factory=list)
    node: str | None = None
    snaplen: int = Field(262144, ge=64, le=262144)

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
    steps: list[str] = Field(default_factory=lambda: ["prerequisites", "network-attachments", "spk-install", "debugging"])

    _v_lab = field_validator("lab")(_dns)

    @model_validator(mode="after")
    def _cross(self) -> "Lab":
        problems = semantic_problems(self)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise PydanticCustomError("semantic", "\n".join(f"@{p.path}|{p.message}" for p in errors))
        return self

    # -- convenience -----------------------------------------------------------------
    def secrets(self) -> list[str]:
        """Every secret value this lab carries (for scrubbing records)."""
        out = []
        if self.target.token is not None:
            out.append(self.target.token.get_secret_value())
        if self.install.image_credentials is not None:
            out.append(self.install.image_credentials.password.get_secret_value())
        return [s for s in out if s]

    def scrubbed(self) -> dict[str, Any]:
        """The params as plain JSON-able data with every secret replaced by ``***``."""
        data = self.model_dump(mode="json")
        if data["target"].get("token"):
            data["target"]["token"] = SECRET_PLACEHOLDER
        if data["install"].get("image_credentials"):
            data["install"]["image_credentials"]["password"] = SECRET_PLACEHOLDER
        return data

    def warnings(self) -> list[Problem]:
        return [p for p in semantic_problems(self) if p.severity == "warning"]

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
    if i.master == e.master:
        out.append(
            Problem(
                "networks.external.master",
                f"{e.master!r} is also the internal master; internal and external should use separate interfaces",
                "warning",
            )
        )
    for role, n in (("internal", i), ("external", e)):
        if _version_tuple(n.cni_version) < _version_tuple(OPENSHIFT_MIN_MACVLAN_CNI):
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
    if lab.vlans.internal.name == lab.vlans.external.name:
        out.append(Problem("vlans.external.name", "the internal and external VLANs must have different names"))
    if lab.target.kind == "live" and not (lab.target.kubeconfig or lab.target.in_cluster or lab.target.server):
        out.append(Problem("target", "a live target needs kubeconfig, in_cluster: true, or server + token"))
    if lab.target.server and lab.target.token is None and not lab.target.kubeconfig:
        out.append(Problem("target.token", "required with target.server (or give a kubeconfig)"))
    return out


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


# -- loading ------------------------------------------------------------------------


def _expand_env(data: Any, path: str, problems: list[Problem]) -> Any:
    """Replace ``${VAR}`` strings with the environment's value (for secrets)."""
    if isinstance(data, dict):
        return {k: _expand_env(v, f"{path}.{k}" if path else str(k), problems) for k, v in data.items()}
    if isinstance(data, list):
        return [_expand_env(v, f"{path}[{n}]", problems) for n, v in enumerate(data)]
    if isinstance(data, str):
        m = _ENV_REF.match(data)
        if m:
            if m.group(1) not in os.environ:
                problems.append(Problem(path, f"environment variable {m.group(1)} is not set"))
                return None
            return os.environ[m.group(1)]
    return data


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("function-after", "function-before") or str(item).startswith("function-"):
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
                out.append(Problem(p, m))
            continue
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling against params/lab-template.yaml)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "target":
            path = "target.snapshot"
        out.append(Problem(path, msg))
    return out


def parse(data: dict[str, Any], *, base_dir: Path | None = None, source: str | None = None) -> Lab:
    """Validate a params mapping into a ``Lab``; relative paths resolve against ``base_dir``."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise ParameterError([Problem("", "the params file must be a YAML mapping")], source=source)
    data = _expand_env(data, "", problems)
    try:
        lab = Lab.model_validate(data)
    except ValidationError as exc:
        raise ParameterError(problems + _problems_from(exc), source=source) from None
    if problems:
        raise ParameterError(problems, source=source)
    if base_dir is not None:
        # Paths are only meaningful relative to a params file; check them then.
        _resolve_paths(lab, base_dir)
        missing = _missing_files(lab)
        if missing:
            raise ParameterError(missing, source=source)
    return lab


def _missing_files(lab: Lab) -> list[Problem]:
    """Files the params name must exist before anything runs."""
    out = []
    checks: list[tuple[str, Path | None]] = [("install.values_file", lab.install.values_file)]
    checks += [(f"install.extra_values_files[{n}]", p) for n, p in enumerate(lab.install.extra_values_files)]
    checks += [(f"debug.analyse[{n}]", p) for n, p in enumerate(lab.debug.analyse)]
    for path, p in checks:
        if p is not None and not Path(p).is_file():
            out.append(Problem(path, f"{p} does not exist"))
    return out


def _resolve_paths(lab: Lab, base: Path) -> None:
    def fix(p: Path | None) -> Path | None:
        if p is None:
            return None
        p = p.expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    t = lab.target
    t.snapshot = fix(t.snapshot)
    t.kubeconfig = fix(t.kubeconfig)
    lab.install.values_file = fix(lab.install.values_file)
    lab.install.extra_values_files = [fix(p) for p in lab.install.extra_values_files]  # type: ignore[misc]
    lab.debug.analyse = [fix(p) for p in lab.debug.analyse]  # type: ignore[misc]
    if lab.install.chart and not re.match(r"^[a-z]+://", lab.install.chart) and "/" in lab.install.chart:
        cand = base / lab.install.chart
        if cand.exists():
            lab.install.chart = str(cand.resolve())


def read_yaml(path: Path) -> Any:
    yaml = YAML(typ="safe")
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh)
    except FileNotFoundError:
        raise ParameterError([Problem("", f"params file {path} does not exist")], source=str(path)) from None
    except YAMLError as exc:
        raise ParameterError([Problem("", f"not valid YAML: {exc}")], source=str(path)) from None


def load(path: str | os.PathLike[str]) -> Lab:
    """Read and validate a params file (relative paths inside resolve against its folder)."""
    p = Path(path).expanduser().resolve()
    return parse(read_yaml(p) or {}, base_dir=p.parent, source=str(p))


def dump(lab: Lab, path: str | os.PathLike[str], *, base_dir: Path | None = None) -> Path:
    """Write a Lab back as a params file (secrets written as ``${ENV}`` references, never values)."""
    data = lab.scrubbed()
    if lab.target.token is not None:
        data["target"]["token"] = "${SPKRUNBOOK_TOKEN}"
    if lab.install.image_credentials is not None:
        data["install"]["image_credentials"]["password"] = "${SPKRUNBOOK_REGISTRY_PASSWORD}"
    base = Path(base_dir or Path(path).parent).resolve()

    def rel(v: Any) -> Any:
        if isinstance(v, str) and v.startswith("/"):
            try:
                return os.path.relpath(v, base)
            except ValueError:
                return v
        return v

    for key in ("snapshot", "kubeconfig"):
        data["target"][key] = rel(data["target"][key])
    data["install"]["values_file"] = rel(data["install"]["values_file"])
    out = Path(path)
    yaml = YAML()
    yaml.default_flow_style = False
    with open(out, "w", encoding="utf-8") as fh:
        yaml.dump(data, fh)
    return out
