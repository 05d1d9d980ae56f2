#!/usr/bin/env python3
"""nad-delegate: a CNI meta-plugin for the data plane test tier, following the Network Plumbing Working
Group's "Kubernetes Network Custom Resource Definition De-facto Standard" (v1.2). It is NOT Multus (no
registry serves Multus here); it does the part of that standard the runbook relies on, and no more:

- ADD: the cluster network (its own ``clusterNetwork`` CNI config, a bridge) on ``CNI_IFNAME``
  (``eth0``); then the pod's ``k8s.v1.cni.cncf.io/networks`` annotation is read (comma list
  ``[ns/]name[@ifname]`` or the JSON list form), each NetworkAttachmentDefinition is fetched from the
  API server, and its ``spec.config`` (a CNI config or config list) is called as a delegate with
  ``net1``, ``net2`` ... (or the ``interface`` asked for). Then ``k8s.v1.cni.cncf.io/network-status``
  is written on the pod: the default network first (``"default": true``), then one entry per
  attachment with its interface, MAC and IPs, from the delegates' own results. A delegate that fails
  undoes the ones before it and the whole ADD fails, naming the NAD, the plugin and its error (the
  kubelet shows that message in the pod's ``FailedCreatePodSandBox`` event).
- DEL: the delegates of the ADD are called again, in reverse order, from a cache written at ADD (a NAD
  deleted while the pod ran is still torn down, as the standard asks), then the cluster network.
- CHECK succeeds, VERSION lists what it speaks.

The interfaces themselves are made by the real plugins (macvlan, bridge, host-local) from
``CNI_PATH``. Configuration (the one plugin of the node's CNI config list)::

    {"type": "nad-delegate", "apiServer": {"url": ..., "caFile": ..., "tokenFile": ...},
     "cacheDir": ..., "logFile": ..., "clusterNetwork": {<a CNI config list>}}

Standard library only; containerd runs it with the interpreter named on its first line.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NETWORKS = "k8s.v1.cni.cncf.io/networks"
NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"
SUPPORTED = ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class CniError(Exception):
    """A CNI error result: ``code`` (spec section "Error"), ``msg`` and ``details``."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code, self.msg, self.details = code, msg, details


# -- the standard's pod annotation ---------------------------------------------------------------------
@dataclass
class Selection:
    """One network a pod asks for (the standard's "network selection element")."""

    name: str
    namespace: str
    interface: str | None = None
    mac: str | None = None
    ips: list[str] | None = None

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def parse_networks(annotation: str, pod_namespace: str) -> list[Selection]:
    """The ``k8s.v1.cni.cncf.io/networks`` annotation as selections (standard section 4.1.2)."""
    text = annotation.strip()
    if not text:
        return []
    out: list[Selection] = []
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise CniError(7, f"the pod's {NETWORKS} annotation is not valid JSON: {exc}") from None
        if not isinstance(items, list):
            raise CniError(7, f"the pod's {NETWORKS} annotation must be a JSON list")
        for it in items:
            if not isinstance(it, dict) or not isinstance(it.get("name"), str):
                raise CniError(7, f"each element of {NETWORKS} needs a string \"name\": {it!r}")
            out.append(Selection(it["name"], it.get("namespace") or pod_namespace, it.get("interface"),
                                 it.get("mac"), it.get("ips")))
    else:
        for word in (w.strip() for w in text.split(",")):
            if not word:
                continue
            ns, _, rest = word.rpartition("/")
            name, _, ifname = rest.partition("@")
            out.append(Selection(name, ns or pod_namespace, ifname or None))
    for sel in out:
        for unit in (sel.namespace, sel.name):
            if not _DNS_LABEL.match(unit):
                raise CniError(7, f"{sel.ref!r} in {NETWORKS} is not a valid reference: {unit!r} is not a DNS-1123 label")
    return out


# -- the API server ------------------------------------------------------------------------------------------
class Api:
    """GET and merge-PATCH on the API server with a bearer token (the plugin's own credential)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.url = str(cfg["url"]).rstrip("/")
        self.ctx = ssl.create_default_context(cafile=cfg["caFile"])
        self.token = Path(cfg["tokenFile"]).read_text().strip()

    def _call(self, method: str, path: str, body: bytes | None = None, ctype: str | None = None) -> Any:
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                                              **({"Content-Type": ctype} if ctype else {})})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=20) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message", "")
            except ValueError:
                message = ""
            raise ApiError(exc.code, message or str(exc.reason)) from None
        except OSError as exc:
            raise CniError(11, f"cannot reach the API server at {self.url}: {exc}") from None

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def merge_patch(self, path: str, patch: dict[str, Any]) -> Any:
        return self._call("PATCH", path, json.dumps(patch).encode(), "application/merge-patch+json")


class ApiError(CniError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(11 if status >= 500 else 100, f"the API server answered {status}: {message}")
        self.status = status


# -- delegates ---------------------------------------------------------------------------------------------
def _plugin(ptype: str, cni_path: str) -> str:
    for d in cni_path.split(os.pathsep):
        p = Path(d) / ptype
        if d and p.is_file() and os.access(p, os.X_OK):
            return str(p)
    raise CniError(7, f"CNI plugin {ptype!r} not found in CNI_PATH {cni_path}")


def _plugins(conf: dict[str, Any]) -> list[dict[str, Any]]:
    """A config list's plugins (name and cniVersion injected), or a single config as a list of one."""
    if "plugins" in conf:
        return [{**p, "name": conf.get("name", ""), "cniVersion": conf.get("cniVersion", "0.3.1")}
                for p in conf["plugins"]]
    return [conf]


def invoke(conf: dict[str, Any], command: str, ifname: str, env: dict[str, str]) -> dict[str, Any]:
    """Run one delegate (config or config list) for ``command``; the last plugin's result on ADD."""
    plugins = _plugins(conf)
    if command == "DEL":
        plugins = list(reversed(plugins))
    result: dict[str, Any] = {}
    for p in plugins:
        stdin = dict(p)
        if command == "ADD" and result:
            stdin["prevResult"] = result
        if not p.get("type"):
            raise CniError(7, f"a delegate config has no \"type\": {json.dumps(p)[:200]}")
        run = subprocess.run([_plugin(p["type"], env["CNI_PATH"])], input=json.dumps(stdin).encode(),
                             env={**env, "CNI_COMMAND": command, "CNI_IFNAME": ifname}, capture_output=True,
                             timeout=60)
        out = run.stdout.decode("utf-8", "replace").strip()
        if run.returncode != 0:
            try:
                err = json.loads(out)
                msg = err.get("msg", out) + (f" ({err['details']})" if err.get("details") else "")
            except (ValueError, AttributeError):
                msg = out or run.stderr.decode("utf-8", "replace").strip() or f"exit status {run.returncode}"
            raise CniError(100, f"plugin type={p['type']!r} failed ({command.lower()}): {msg}")
        if command == "ADD" and out:
            result = json.loads(out)
    return result


def _interface_entry(result: dict[str, Any], ifname: str, netns: str) -> dict[str, Any]:
    """interface, mac and ips of ``ifname`` in a delegate's result, for network-status."""
    ifaces = result.get("interfaces") or []
    idx = next((i for i, it in enumerate(ifaces) if it.get("name") == ifname and it.get("sandbox")), None)
    entry: dict[str, Any] = {"interface": ifname}
    if idx is not None and ifaces[idx].get("mac"):
        entry["mac"] = ifaces[idx]["mac"]
    ips = [str(ip["address"]).split("/")[0] for ip in result.get("ips") or []
           if ip.get("address") and (ip.get("interface") is None or ip.get("interface") == idx)]
    if ips:
        entry["ips"] = ips
    entry["dns"] = result.get("dns") or {}
    return entry


# -- commands ------------------------------------------------------------------------------------------------
def cni_args(raw: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in raw.split(";") if "=" in kv)


def log(cfg: dict[str, Any], text: str) -> None:
    if cfg.get("logFile"):
        with open(cfg["logFile"], "a") as fh:
            fh.write(f"{time.strftime('%H:%M:%S')} {text}\n")


def add(cfg: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    args = cni_args(env.get("CNI_ARGS", ""))
    ns, pod_name = args.get("K8S_POD_NAMESPACE"), args.get("K8S_POD_NAME")
    cluster = cfg["clusterNetwork"]
    done: list[tuple[dict[str, Any], str]] = []
    try:
        default = invoke(cluster, "ADD", env["CNI_IFNAME"], env)
        done.append((cluster, env["CNI_IFNAME"]))
        status = [{"name": cluster.get("name", "cluster"), **_interface_entry(default, env["CNI_IFNAME"], env["CNI_NETNS"]),
                   "default": True}]
        delegates: list[dict[str, Any]] = []
        if ns and pod_name:
            api = Api(cfg["apiServer"])
            pod = api.get(f"/api/v1/namespaces/{ns}/pods/{pod_name}")
            selections = parse_networks(((pod.get("metadata") or {}).get("annotations") or {}).get(NETWORKS, ""), ns)
            for n, sel in enumerate(selections, start=1):
                try:
                    nad = api.get(f"/apis/k8s.cni.cncf.io/v1/namespaces/{sel.namespace}/network-attachment-definitions/{sel.name}")
                except ApiError as exc:
                    if exc.status == 404:
                        raise CniError(100, f"NetworkAttachmentDefinition {sel.ref} asked for in {NETWORKS} does not exist") from None
                    raise
                raw = (nad.get("spec") or {}).get("config")
                if not raw:
                    raise CniError(7, f"NetworkAttachmentDefinition {sel.ref} has no spec.config (files on disk are not read here)")
                try:
                    conf = json.loads(raw)
                except ValueError as exc:
                    raise CniError(7, f"spec.config of NetworkAttachmentDefinition {sel.ref} is not JSON: {exc}") from None
                conf.setdefault("name", sel.name)
                ifname = sel.interface or f"net{n}"
                denv = dict(env)
                if sel.mac:
                    denv["CNI_ARGS"] = f"{env.get('CNI_ARGS', '')};MAC={sel.mac}".lstrip(";")
                try:
                    res = invoke(conf, "ADD", ifname, denv)
                except CniError as exc:
                    raise CniError(exc.code, f"attaching NetworkAttachmentDefinition {sel.ref} as {ifname}: {exc.msg}") from None
                done.append((conf, ifname))
                delegates.append({"nad": sel.ref, "ifname": ifname, "conf": conf})
                status.append({"name": sel.ref, **_interface_entry(res, ifname, env["CNI_NETNS"])})
            cache = Path(cfg["cacheDir"]) / f"{env['CNI_CONTAINERID']}.json"
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"pod": f"{ns}/{pod_name}", "delegates": delegates}))
            api.merge_patch(f"/api/v1/namespaces/{ns}/pods/{pod_name}",
                            {"metadata": {"annotations": {NETWORK_STATUS: json.dumps(status, indent=1)}}})
        log(cfg, f"ADD {ns}/{pod_name} {env['CNI_CONTAINERID'][:12]}: " + ", ".join(f"{s['name']}={s['interface']}" for s in status))
        return default
    except CniError:
        for conf, ifname in reversed(done):
            try:
                invoke(conf, "DEL", ifname, env)
            except CniError as exc:
                log(cfg, f"undo after a failed ADD: {exc.msg}")
        raise


def delete(cfg: dict[str, Any], env: dict[str, str]) -> None:
    cache = Path(cfg["cacheDir"]) / f"{env.get('CNI_CONTAINERID', '')}.json"
    errors = []
    if cache.is_file():
        for d in reversed(json.loads(cache.read_text()).get("delegates") or []):
            try:
                invoke(d["conf"], "DEL", d["ifname"], env)
            except CniError as exc:
                errors.append(f"{d['nad']} ({d['ifname']}): {exc.msg}")
    invoke(cfg["clusterNetwork"], "DEL", env.get("CNI_IFNAME", "eth0"), env)
    cache.unlink(missing_ok=True)
    log(cfg, f"DEL {env.get('CNI_CONTAINERID', '')[:12]}" + (f" with errors: {'; '.join(errors)}" if errors else ""))


def main() -> int:
    env = dict(os.environ)
    command = env.get("CNI_COMMAND", "")
    raw = sys.stdin.read() if command != "VERSION" else ""
    cfg: dict[str, Any] = json.loads(raw) if raw.strip() else {}
    version = cfg.get("cniVersion", "1.0.0")
    try:
        if command == "VERSION":
            print(json.dumps({"cniVersion": "1.0.0", "supportedVersions": SUPPORTED}))
        elif command == "ADD":
            result = add(cfg, env)
            print(json.dumps({**result, "cniVersion": version}))
        elif command == "DEL":
            delete(cfg, env)
        elif command == "CHECK":
            pass
        else:
            raise CniError(4, f"unknown CNI_COMMAND {command!r}")
    except CniError as exc:
        log(cfg, f"{command} failed: {exc.msg}")
        print(json.dumps({"cniVersion": version, "code": exc.code, "msg": exc.msg, "details": exc.details}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
