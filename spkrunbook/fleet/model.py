"""The fleet file: many labs, one image, one records store, a schedule; validated like a params file.

::

    fleet: spk-labs                      # names every object rendered (DNS-1123)
    namespace: spk-runbooks
    image: registry.example.com/spkrunbook:0.1.0
    schedule: "0 2 * * *"                # a CronJob; without it one Indexed Job
    records: s3://lab-records/spk
    s3: {endpoint: https://s3.example.com, region: us-east-1, credentials: {secret: spk-s3}}
    notify: {secret: spk-notify, key: url}
    parallelism: 10
    labs:
      - params: labs/lab-a.yaml          # relative to this file
        secrets: {LAB_A_TOKEN: {secret: lab-a, key: token}}
      - params: labs/lab-b.yaml
        steps: [prerequisites, debugging]

``load`` reports every problem at once with its field path (``labs[2].params:
target.snapshot ...``), the lab params included, and raises ``ParameterError``
(exit 2). Secrets are never values here: only references to Kubernetes Secrets
(name and key), so the fleet file and everything rendered from it can live in Git.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .. import params
from ..errors import ParameterError, Problem
from ..record import remote

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# A cron line of five fields, or one of the macros CronJob accepts.
_CRON = re.compile(r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$")
#: Environment names the runtime sets itself; a lab's secret may not take them.
RESERVED_ENV = frozenset({"HOME", "PATH", "JOB_COMPLETION_INDEX", "SPKRUNBOOK_FLEET_RUN", "SPKRUNBOOK_NOTIFY_URL",
                          "SPKRUNBOOK_STAGING", "SPKRUNBOOK_RECORDS_LINK", "AWS_ENDPOINT_URL_S3", "AWS_REGION"})


def seconds(duration: str) -> int:
    """``1h30m`` -> 5400."""
    m = _DURATION.match(duration)
    if not m or not duration:
        raise ValueError(duration)
    h, mi, s = (int(x or 0) for x in m.groups())
    return h * 3600 + mi * 60 + s


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SecretRef(_Model):
    """A key of a Kubernetes Secret in the fleet's namespace (never its value)."""

    secret: str
    key: str = "value"

    _v_secret = field_validator("secret")(params._dns)


class S3(_Model):
    """Where the records store is: endpoint and region are not secret; credentials are a Secret's keys."""

    endpoint: str | None = None
    region: str | None = None
    # A Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN): given to the pod as env.
    credentials: SecretRef | None = None

    @field_validator("endpoint")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+", v):
            raise PydanticCustomError("url", f"{v!r} is not an http(s) URL")
        return v


class LabEntry(_Model):
    """One lab of the fleet: its params file, and the Secrets its ``${ENV}`` references come from."""

    params: Path
    steps: list[str | int] | None = None
    secrets: dict[str, SecretRef] = Field(default_factory=dict)
    # A Secret holding a kubeconfig, mounted read-only; the params' target.kubeconfig names where.
    kubeconfig: SecretRef | None = None

    @field_validator("steps")
    @classmethod
    def _steps(cls, v: list[str | int] | None) -> list[str | int] | None:
        if v is None:
            return v
        out: list[str | int] = []
        for s in v:
            name = params.step_name(s)
            if name is None:
                raise PydanticCustomError("steps", f"unknown step {s!r}; known: {', '.join(params.STEPS)} (or 1-4)")
            out.append(name)
        if not out:
            raise PydanticCustomError("steps", "lists no step")
        return out

    @field_validator("secrets")
    @classmethod
    def _env_names(cls, v: dict[str, SecretRef]) -> dict[str, SecretRef]:
        for name in v:
            if not _ENV_NAME.match(name):
                raise PydanticCustomError("env", f"{name!r} is not an environment variable name")
            if name in RESERVED_ENV:
                raise PydanticCustomError("env", f"{name} is set by the runtime; name the variable otherwise")
        return v


class Fleet(_Model):
    """Many labs, run by Kubernetes: what ``spkrunbook fleet plan`` renders."""

    fleet: str
    namespace: str = "spkrunbook"
    image: str
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    records: str
    records_link: str | None = None
    s3: S3 = Field(default_factory=S3)
    notify: SecretRef | None = None
    schedule: str | None = None
    time_zone: str | None = None
    parallelism: int = Field(4, ge=1, le=1000)
    # Retries of one lab's pod after a kill or eviction (exit 130/143, a lost node); a verdict is never retried.
    retries: int = Field(2, ge=0, le=10)
    # The longest one lab may run before Kubernetes stops it (the runbook bounds its own waits).
    deadline: str = "2h"
    # What the target cluster runs; `fleet apply` reads it from the cluster. Chooses the failure-policy form.
    kubernetes_version: str = "1.33"
    # Whether a lab's pod gets the ServiceAccount's token (labs with target.in_cluster need it).
    service_account: str | None = None
    resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "3Gi"}})
    # Extra volumes (Kubernetes volume objects) and where they mount: must-gather folders, captures.
    volumes: list[dict[str, Any]] = Field(default_factory=list)
    volume_mounts: list[dict[str, Any]] = Field(default_factory=list)
    labs: list[LabEntry]

    _v_fleet = field_validator("fleet")(params._dns)
    _v_ns = field_validator("namespace")(params._dns)

    @field_validator("fleet")
    @classmethod
    def _short(cls, v: str) -> str:
        # <fleet>-lab-<lab> must stay a DNS-1123 label of at most 63 characters; a lab name is at most 40 here.
        if len(v) > 18:
            raise PydanticCustomError("length", f"{v!r} is {len(v)} characters; at most 18 (object names add to it)")
        return v

    @field_validator("records")
    @classmethod
    def _store(cls, v: str) -> str:
        if not remote.is_remote(v):
            raise PydanticCustomError("records", f"{v!r} is not an object store URL: a Job's pod keeps nothing, "
                                                 "so records go to s3://bucket/prefix")
        return v.rstrip("/")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None and not _CRON.match(v.strip()):
            raise PydanticCustomError("cron", f"{v!r} is not a cron schedule like '0 2 * * *' or '@daily'")
        return v

    @field_validator("deadline")
    @classmethod
    def _deadline(cls, v: str) -> str:
        try:
            if seconds(v) <= 0:
                raise ValueError(v)
        except ValueError:
            raise PydanticCustomError("duration", f"{v!r} is not a duration like '2h' or '90m'") from None
        return v

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not re.match(r"^v?1\.\d+", str(v)):
            raise PydanticCustomError("version", f"{v!r} is not a Kubernetes version like '1.33'")
        return str(v).lstrip("v")

    @field_validator("labs")
    @classmethod
    def _some(cls, v: list[LabEntry]) -> list[LabEntry]:
        if not v:
            raise PydanticCustomError("labs", "lists no lab")
        return v

    @model_validator(mode="after")
    def _mounts(self) -> Fleet:
        names = {str(v.get("name")) for v in self.volumes}
        for m in self.volume_mounts:
            if m.get("name") not in names:
                raise PydanticCustomError("mounts", f"volume_mounts names {m.get('name')!r}, which volumes does not define")
        return self

    @property
    def minor(self) -> int:
        return int(self.kubernetes_version.split(".")[1])


class LabPlan:
    """One lab as the fleet runs it: its validated params, its raw text, the files that go with it."""

    def __init__(self, index: int, entry: LabEntry, lab: params.Lab, files: dict[str, bytes], text: str,
                 in_cluster: bool) -> None:
        self.index = index
        self.entry = entry
        self.lab = lab
        self.files = files  # ConfigMap key -> content: params.yaml and the small files it names
        self.text = text
        self.in_cluster = in_cluster

    @property
    def name(self) -> str:
        return self.lab.lab

    @property
    def steps(self) -> list[str]:
        return [str(s) for s in self.entry.steps] if self.entry.steps else list(self.lab.steps)


#: A file the params name goes into the lab's ConfigMap when it is at most this big (ConfigMaps hold 1 MiB).
MAX_BUNDLED = 256 * 1024
LAB_DIR = "/etc/spkrunbook/labs"
_PATH_FIELDS = ("install.values_file",)
_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def _refs(data: Any, path: str = "") -> list[tuple[str, str]]:
    """Every ``${VAR}`` a params mapping refers to: (field path, variable)."""
    out: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _refs(v, f"{path}.{k}" if path else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _refs(v, f"{path}[{i}]")
    elif isinstance(data, str) and (m := _REF.match(data)):
        out.append((path, m.group(1)))
    return out


def _substitute(data: Any, names: set[str]) -> Any:
    """A copy with each ``${VAR}`` a Secret provides replaced by a stand-in value, only to validate the shape."""
    if isinstance(data, dict):
        return {k: _substitute(v, names) for k, v in data.items()}
    if isinstance(data, list):
        return [_substitute(v, names) for v in data]
    if isinstance(data, str) and (m := _REF.match(data)) and m.group(1) in names:
        return "from-a-kubernetes-secret"
    return data


def _plan_lab(index: int, entry: LabEntry, base: Path, problems: list[Problem]) -> LabPlan | None:
    where = f"labs[{index}].params"
    path = entry.params if entry.params.is_absolute() else (base / entry.params)
    try:
        raw = params.read_yaml(path.resolve())
    except ParameterError as exc:
        problems += [Problem(where, p.message) for p in exc.problems]
        return None
    if not isinstance(raw, dict):
        problems.append(Problem(where, "the params file must be a YAML mapping"))
        return None
    refs = _refs(raw)
    for field_path, var in refs:
        if var not in entry.secrets:
            problems.append(Problem(f"labs[{index}].secrets", f"the params refer to ${{{var}}} (at {field_path}); "
                                                              f"map {var} to a Kubernetes Secret here"))
    try:
        lab: params.Lab | None = params.parse(_substitute(raw, set(entry.secrets)), source=str(path))
    except ParameterError as exc:
        problems += [Problem(f"{where}: {p.path}" if p.path else where, p.message) for p in exc.problems]
        lab = None  # the paths are still judged below: every problem at once
    name = str(raw.get("lab") or f"lab-{index}")
    files: dict[str, bytes] = {}
    text = path.read_text(encoding="utf-8")
    rewritten = dict(raw)

    def bundle_file(field: str, value: Any) -> Any:
        """A relative file path: put the file into the ConfigMap and point the params at its mounted copy."""
        if value is None:
            return value
        p = Path(str(value)).expanduser()
        if p.is_absolute():
            return value  # a path in the pod (a volume, the image): not checked here
        local = (path.parent / p).resolve()
        if not local.is_file():
            what = "a folder" if local.is_dir() else "missing"
            problems.append(Problem(f"{where}: {field}", f"{value} is {what} next to the params file; a Job's pod "
                                                        "sees only files of at most 256 KiB (bundled) or absolute "
                                                        "paths on a volume (volumes:, volume_mounts:)"))
            return value
        size = local.stat().st_size
        if size > MAX_BUNDLED:
            problems.append(Problem(f"{where}: {field}", f"{value} is {size:,} bytes, too big for a ConfigMap "
                                                        f"(at most {MAX_BUNDLED:,}); put it on a volume and give its "
                                                        "absolute path"))
            return value
        key = re.sub(r"[^A-Za-z0-9._-]", "-", f"{field}-{local.name}")
        files[key] = local.read_bytes()
        return f"{LAB_DIR}/{name}/{key}"

    target = dict(raw.get("target") or {})
    for key in ("snapshot", "kubeconfig"):
        if target.get(key) is not None and not Path(str(target[key])).is_absolute():
            if key == "kubeconfig":
                problems.append(Problem(f"{where}: target.kubeconfig",
                                        "a relative path cannot be found in the pod: mount a Secret with "
                                        f"labs[{index}].kubeconfig and give target.kubeconfig: "
                                        f"{LAB_DIR}/{name}/kubeconfig"))
            else:
                problems.append(Problem(f"{where}: target.snapshot",
                                        f"{target[key]} is relative: give the must-gather folder's absolute path "
                                        "on a volume the pod mounts (volumes:, volume_mounts:)"))
    install = dict(raw.get("install") or {})
    if "values_file" in install:
        install["values_file"] = bundle_file("install.values_file", install["values_file"])
    if install.get("extra_values_files"):
        install["extra_values_files"] = [bundle_file(f"install.extra_values_files[{i}]", v)
                                         for i, v in enumerate(install["extra_values_files"])]
    if install.get("chart") and not re.match(r"^(oci|https?)://", str(install["chart"])) \
            and not Path(str(install["chart"])).is_absolute():
        problems.append(Problem(f"{where}: install.chart", f"{install['chart']} is a local chart next to the params "
                                                           "file: give an oci:// or https:// chart, or an absolute path "
                                                           "on a volume"))
    if install:
        rewritten["install"] = install
    debug = dict(raw.get("debug") or {})
    if debug.get("analyse"):
        debug["analyse"] = [bundle_file(f"debug.analyse[{i}]", v) for i, v in enumerate(debug["analyse"])]
        rewritten["debug"] = debug
    if entry.steps:
        rewritten["steps"] = [str(s) for s in entry.steps]
    if entry.kubeconfig is not None and target.get("kubeconfig") is None:
        problems.append(Problem(f"labs[{index}].kubeconfig", "a kubeconfig Secret is mounted, but the params do not "
                                                             "name target.kubeconfig"))
    from ..cluster.reconcile import to_yaml

    files["params.yaml"] = to_yaml([rewritten])[4:].encode("utf-8")
    if lab is None:
        return None
    return LabPlan(index, entry, lab, files, text, in_cluster=bool(lab.target.kind == "live" and lab.target.in_cluster))


def _problems_from(exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        path = params._loc_to_path(tuple(err["loc"]))
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "required field is missing"
        out.append(Problem(path, msg))
    return out


class FleetPlan:
    """A validated fleet and its labs, in index order."""

    def __init__(self, fleet: Fleet, labs: list[LabPlan], source: Path) -> None:
        self.fleet = fleet
        self.labs = labs
        self.source = source

    @property
    def in_cluster(self) -> bool:
        return any(lab.in_cluster for lab in self.labs)

    @property
    def steps(self) -> list[str]:
        """Every step any lab runs (the union decides the RBAC)."""
        wanted = {s for lab in self.labs if lab.in_cluster for s in lab.steps}
        return [s for s in params.STEPS if s in wanted]


def load(path: str | Path) -> FleetPlan:
    """Read and validate a fleet file and every lab's params; ``ParameterError`` with every problem at once."""
    p = Path(path).expanduser().resolve()
    data = params.read_yaml(p)
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise ParameterError([Problem("", "the fleet file must be a YAML mapping (fleet: ..., labs: ...)")], source=str(p))
    try:
        fleet: Fleet | None = Fleet.model_validate(data)
    except ValidationError as exc:
        # The labs are judged one by one below, so a bad fleet field never hides a bad lab.
        problems += [q for q in _problems_from(exc) if not q.path.startswith("labs[")]
        fleet = None
    entries: list[Any] = data["labs"] if isinstance(data.get("labs"), list) else []
    labs: list[LabPlan] = []
    for i, raw_entry in enumerate(entries):
        try:
            entry = LabEntry.model_validate(raw_entry)
        except ValidationError as exc:
            problems += [Problem(f"labs[{i}].{q.path}" if q.path else f"labs[{i}]", q.message) for q in _problems_from(exc)]
            continue
        plan = _plan_lab(i, entry, p.parent, problems)
        if plan is not None:
            labs.append(plan)
    if fleet is not None:
        seen: dict[str, int] = {}
        for lab in labs:
            if lab.name in seen:
                problems.append(Problem(f"labs[{lab.index}].params", f"lab {lab.name!r} is also labs[{seen[lab.name]}]: "
                                                                     "each lab runs once per night"))
            seen.setdefault(lab.name, lab.index)
            if len(lab.name) > 40:
                problems.append(Problem(f"labs[{lab.index}].params: lab", f"{lab.name!r} is longer than 40 characters "
                                                                         "(it names Kubernetes objects)"))
    if problems:
        raise ParameterError(problems, source=str(p), hint="fix the fields listed above; nothing was rendered")
    assert fleet is not None
    return FleetPlan(fleet, labs, p)
