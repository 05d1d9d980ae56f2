"""Pieces every step form shares: choices from the target, live validation, confirmation, save-as, progress.

A step form is built from these so the four notebooks behave alike:

* ``show(FormClass, interactive, step)`` builds and displays a form only for a
  person: under papermill (``SPKRUNBOOK_HEADLESS`` set by the runbook) or with
  ``interactive=False`` it builds nothing, so records hold static outputs only,
  no widget state, and nothing waits.
* ``Choices.discover(lab, target)`` lists what the target knows (kube contexts,
  namespaces, TMM nodes, their common NICs, TMM pods, capture interfaces); an
  entry is ``None`` when the target cannot tell, and the field becomes free text.
* ``ValidatedField`` puts a message beside a widget and refreshes it on every
  change; ``lab_field`` checks with ``params.parse`` (the headless validation)
  and ``interface_field`` with ``params.interface_name_problem``.
* ``SecretField`` takes a password or token without keeping it in widget state.
* ``ConfirmGate`` stops a destructive button until its box is ticked, then unticks.
* ``SaveAsNew`` writes the edited lab as a *new* params file (never overwriting;
  secrets as ``${ENV}`` references) and selects it in the params dropdown.
* ``Progress`` shows a bar in Lab and prints plain lines headless.

Logic lives in plain methods so tests drive it without a browser.
"""

from __future__ import annotations

import copy
import html
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

import ipywidgets as w
from pydantic import SecretStr

from .. import notebook, params
from ..cluster.base import Target, label_selector_matches
from ..errors import ParameterError, Problem, SpkRunbookError

RED, AMBER, GREEN = "#cf222e", "#9a6700", "#1a7f37"
NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"
# The env vars params.dump writes in place of secrets.
SECRET_ENV = {"target.token": "SPKRUNBOOK_TOKEN", "install.image_credentials.password": "SPKRUNBOOK_REGISTRY_PASSWORD"}


# -- headless guard ------------------------------------------------------------------------------


def headless() -> bool:
    """True under papermill (``spkrunbook run``): nothing may be displayed for input or wait for a person."""
    return notebook.in_papermill()


def interactive(flag: bool = True) -> bool:
    """True when a person runs the notebook: ``flag`` (the ``interactive`` parameter) and not headless."""
    return bool(flag) and not headless()


def show(form: Any, interactive: bool = True, *args: Any, **kwargs: Any) -> Any:
    """Build and display a form for a person; headless, build nothing and return None.

    ``form`` is a form class or factory (called with ``args``/``kwargs`` only when
    shown, so a headless kernel creates no widget and nbclient saves no widget
    state), or an already built form or widget. Displays ``form.widget`` when it
    has one. Returns the form, e.g. ``nad_form = common.show(NadForm, interactive, step)``.
    """
    if not interactive or headless():
        return None
    from IPython.display import display

    if callable(form) and not isinstance(form, w.Widget):
        form = form(*args, **kwargs)
    display(getattr(form, "widget", form))
    return form


def problems_html(problems: Iterable[Problem]) -> str:
    """Problems as coloured lines (red errors, amber warnings), messages only."""
    parts = []
    for p in problems:
        colour = RED if p.severity == "error" else AMBER
        parts.append(f"<span style='color:{colour}'>{html.escape(p.message)}</span>")
    return "<br>".join(parts)


def error_html(exc: BaseException) -> str:
    return f"<pre style='color:{RED};white-space:pre-wrap'>{html.escape(str(exc))}</pre>"


# -- params files ---------------------------------------------------------------------------------


def params_dir(current: str | Path | None = None, start: Path | None = None) -> Path | None:
    """The folder of the current params file, else the nearest ``params/`` from ``start`` upwards."""
    if current:
        folder = Path(current).expanduser().resolve().parent
        if folder.is_dir():
            return folder
    base = (start or Path.cwd()).resolve()
    for d in (base, *base.parents):
        if (d / "params").is_dir():
            return d / "params"
    return None


def params_files(current: str | Path | None = None, start: Path | None = None) -> list[str]:
    """``params/*.yaml`` (absolute paths, sorted), with the current file included even when elsewhere."""
    folder = params_dir(current, start)
    files = sorted(str(p.resolve()) for p in folder.glob("*.yaml")) if folder else []
    if current:
        cur = str(Path(current).expanduser().resolve())
        if cur not in files:
            files.insert(0, cur)
    return files


def params_dropdown(current: str | Path | None = None, start: Path | None = None, description: str = "params") -> w.Dropdown:
    """A dropdown of params files labelled by file name, the current one selected."""
    files = params_files(current, start)
    value = str(Path(current).expanduser().resolve()) if current else (files[0] if files else None)
    return w.Dropdown(options=[(Path(f).name, f) for f in files], value=value, description=description, layout=w.Layout(width="60%"))


def refresh_params_dropdown(dropdown: w.Dropdown, select: str | Path | None = None) -> None:
    """Re-read the params folder into ``dropdown`` (after a save), selecting ``select``."""
    current = str(Path(select).resolve()) if select else dropdown.value
    files = params_files(current)
    dropdown.options = [(Path(f).name, f) for f in files]
    dropdown.value = current


# -- choices from the kubeconfig and the target ---------------------------------------------------


def kube_contexts(kubeconfig: str | Path | None = None) -> tuple[list[str], str | None]:
    """Context names in a kubeconfig and the active one; ``([], None)`` when there is no usable file."""
    from kubernetes import config as kconfig

    try:
        contexts, active = kconfig.list_kube_config_contexts(config_file=str(kubeconfig) if kubeconfig else None)
    except (kconfig.ConfigException, OSError, TypeError, ValueError):
        return [], None
    names = sorted(c["name"] for c in contexts or [] if c.get("name"))
    return names, (active or {}).get("name")


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except SpkRunbookError:
        return None


def namespaces(target: Target | None) -> list[str] | None:
    """Namespace names, or None when the target cannot tell.

    A snapshot often holds no Namespace objects; then the namespaces its pods live in are offered.
    """
    if target is None:
        return None
    names = _safe(lambda: {o["metadata"]["name"] for o in target.list("namespaces")})
    if not names:
        names = _safe(lambda: {o["metadata"].get("namespace") for o in target.list("pods")} - {None})
    return sorted(names) if names else None


def tmm_nodes(target: Target | None, lab: params.Lab) -> list[str] | None:
    """Nodes matching ``tmm.node_selector``, or None when the target cannot list nodes."""
    if target is None:
        return None
    sel = lab.tmm.selector_string()
    return _safe(
        lambda: sorted(
            n["metadata"]["name"] for n in target.list("nodes") if label_selector_matches(n["metadata"].get("labels"), sel)
        )
    )


def node_interfaces(target: Target | None, lab: params.Lab) -> list[str] | None:
    """NIC names present on every TMM node the target reports (NodeNetworkState); None when unknown."""
    from .. import prereqs

    if target is None:
        return None
    per_node = _safe(lambda: prereqs.node_interfaces(target, lab))
    if not per_node:
        return None
    sets = [set(ifaces) for ifaces in per_node.values()]
    common = set.intersection(*sets)
    return sorted(i for i in common if i and i != "lo")


def _tmm_pod_objects(target: Target, lab: params.Lab) -> list[dict[str, Any]]:
    return target.list("pods", lab.tmm.namespace, label_selector=lab.tmm.pod_selector)


def tmm_pods(target: Target | None, lab: params.Lab) -> list[str] | None:
    """TMM pod names (``tmm.pod_selector`` in ``tmm.namespace``), or None when the target cannot list pods."""
    if target is None:
        return None
    return _safe(lambda: sorted(p["metadata"]["name"] for p in _tmm_pod_objects(target, lab)))


def capture_interfaces(target: Target | None, lab: params.Lab, pod: str | None = None) -> list[str]:
    """``any`` plus the interfaces Multus reports in the TMM pods' network-status (eth0, net1, net2 ...)."""
    out = ["any"]
    pods = _safe(lambda: _tmm_pod_objects(target, lab)) if target is not None else None
    for p in pods or []:
        if pod and p["metadata"]["name"] != pod:
            continue
        raw = ((p["metadata"].get("annotations") or {}).get(NETWORK_STATUS)) or "[]"
        try:
            status = json.loads(raw)
        except ValueError:
            continue
        for entry in status if isinstance(status, list) else []:
            name = entry.get("interface") if isinstance(entry, dict) else None
            if name and name not in out:
                out.append(name)
    return out


@dataclass
class Choices:
    """What a form can offer as dropdowns; ``None`` means "the target cannot tell: free text"."""

    contexts: list[str]
    active_context: str | None
    namespaces: list[str] | None
    nodes: list[str] | None
    interfaces: list[str] | None
    pods: list[str] | None
    capture_interfaces: list[str]

    @classmethod
    def discover(cls, lab: params.Lab, target: Target | None) -> "Choices":
        contexts, active = kube_contexts(lab.target.kubeconfig) if lab.target.kind == "live" and lab.target.kubeconfig else ([], None)
        return cls(
            contexts=contexts,
            active_context=lab.target.context or active,
            namespaces=namespaces(target),
            nodes=tmm_nodes(target, lab),
            interfaces=node_interfaces(target, lab),
            pods=tmm_pods(target, lab),
            capture_interfaces=capture_interfaces(target, lab),
        )


# -- validated fields -----------------------------------------------------------------------------

Check = Callable[[Any], "list[Problem] | str | None"]


def _get_path(data: Any, path: str) -> Any:
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


def field_problems(lab: params.Lab, path: str, value: Any) -> list[Problem]:
    """What a headless run (``params.parse``) says about field ``path`` if it held ``value``.

    Errors come from the model's validation, warnings from ``Lab.warnings()``;
    only problems at ``path`` (or below it) are returned.
    """
    data = lab.model_dump(mode="python")  # SecretStr values stay SecretStr: nothing secret is copied out
    _set_path(data, path, value)
    try:
        checked = params.parse(data)
    except ParameterError as exc:
        return [p for p in exc.problems if _under(p.path, path)]
    return [p for p in checked.warnings() if _under(p.path, path)]


def lab_with(lab: params.Lab, changes: dict[str, Any]) -> params.Lab:
    """A validated copy of ``lab`` with dotted-path ``changes`` (raises ``ParameterError``)."""
    data = lab.model_dump(mode="python")
    for path, value in changes.items():
        _set_path(data, path, value)
    return params.parse(data)


def _as_problems(result: "list[Problem] | str | None") -> list[Problem]:
    if not result:
        return []
    if isinstance(result, str):
        return [Problem("", result)]
    return list(result)


class ValidatedField:
    """A value widget with its validation message beside it, refreshed on every change.

    ``check(value)`` returns problems (or a message, or None). ``on_valid(value)`` runs
    after each change without errors, e.g. to copy the value into a form's Lab.
    """

    def __init__(self, widget: w.ValueWidget, check: Check, *, on_valid: Callable[[Any], None] | None = None,
                 convert: Callable[[Any], Any] | None = None) -> None:
        self.input = widget
        self.check = check
        self.convert = convert or (lambda v: v)
        self.on_valid = on_valid
        self.message = w.HTML(layout=w.Layout(margin="0 0 0 1em"))
        self.message.add_class("spkrunbook-field-message")
        self.widget = w.HBox([widget, self.message])
        self.problems: list[Problem] = []
        widget.observe(lambda _change: self.validate(), names="value")
        self.validate()

    @property
    def value(self) -> Any:
        return self.convert(self.input.value)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def validate(self) -> list[Problem]:
        """Check the current value, show the result beside the field, and return the problems."""
        try:
            value = self.value
        except (TypeError, ValueError) as exc:
            self.problems = [Problem("", str(exc))]
        else:
            self.problems = _as_problems(self.check(value))
        self.message.value = problems_html(self.problems)
        if self.ok and self.on_valid is not None:
            self.on_valid(value)
        return self.problems


def choice_widget(value: Any, choices: list[str] | None, description: str) -> w.ValueWidget:
    """A Combobox offering ``choices`` that still accepts typed values (so they are validated), or a Text."""
    text = "" if value is None else str(value)
    if choices:
        return w.Combobox(value=text, options=list(choices), ensure_option=False, description=description,
                          placeholder="choose or type", continuous_update=True)
    return w.Text(value=text, description=description, continuous_update=True)


def interface_field(value: str, *, choices: list[str] | None = None, description: str = "interface",
                    on_valid: Callable[[Any], None] | None = None) -> ValidatedField:
    """An interface-name field checked with ``params.interface_name_problem`` (what the model uses)."""
    return ValidatedField(choice_widget(value, choices, description), params.interface_name_problem, on_valid=on_valid)


def lab_field(lab: params.Lab, path: str, *, widget: w.ValueWidget | None = None, description: str | None = None,
              choices: list[str] | None = None, convert: Callable[[Any], Any] | None = None,
              on_valid: Callable[[Any], None] | None = None) -> ValidatedField:
    """A field for ``lab``'s dotted ``path``, validated as ``params.parse`` would as the person types."""
    if widget is None:
        widget = choice_widget(_get_path(lab.model_dump(mode="python"), path), choices, description or path.rsplit(".", 1)[-1])
    return ValidatedField(widget, lambda v: field_problems(lab, path, v), convert=convert, on_valid=on_valid)


def optional_int(text: Any) -> int | None:
    """For number fields typed as text: '' is None, otherwise an int (ValueError shows beside the field)."""
    s = str(text).strip()
    if not s:
        return None
    try:
        return int(s)
    except ValueError:
        raise ValueError(f"{s!r} is not a whole number") from None


# -- secrets ----------------------------------------------------------------------------------------


class SecretField:
    """A password/token input whose value never stays in widget state.

    The value reaches the kernel when the person presses Enter or leaves the field
    (``continuous_update=False``); it is moved into a ``SecretStr`` and the widget's
    value is reset to ``""`` at once, so a saved notebook, Lab's widget state and
    nbclient's ``metadata.widgets`` hold only the empty string.
    """

    def __init__(self, description: str = "password", *, on_set: Callable[[SecretStr], None] | None = None) -> None:
        self.input = w.Password(value="", description=description, continuous_update=False,
                                placeholder="type, then Enter (kept in memory only)")
        self.message = w.HTML()
        self.widget = w.HBox([self.input, self.message])
        self.secret: SecretStr | None = None
        self.on_set = on_set
        self.input.observe(self._take, names="value")

    def _take(self, change: dict[str, Any]) -> None:
        new = change["new"]
        if not new:
            return
        self.secret = SecretStr(new)
        self.input.value = ""
        self.message.value = f"<span style='color:{GREEN}'>set ({len(new)} characters, kept in kernel memory only)</span>"
        if self.on_set is not None:
            self.on_set(self.secret)

    @property
    def is_set(self) -> bool:
        return self.secret is not None

    def clear(self) -> None:
        self.secret = None
        self.message.value = ""


# -- confirmation ----------------------------------------------------------------------------------


class ConfirmGate:
    """A checkbox a destructive action needs ticked; each allowed action unticks it again."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.checkbox = w.Checkbox(value=False, indent=False, description=f"I have read the changes: {what}")
        self.message = w.HTML()
        self.widget = w.VBox([self.checkbox, self.message])

    def allow(self) -> bool:
        """True once per tick; False (with a message) when not ticked or headless."""
        if headless():
            self.message.value = f"<b style='color:{AMBER}'>{html.escape(self.what)}: not from a form in a headless run</b>"
            return False
        if not self.checkbox.value:
            self.message.value = f"<b style='color:{AMBER}'>Tick the box first: {html.escape(self.what)}.</b>"
            return False
        self.checkbox.value = False
        self.message.value = ""
        return True

    def guard(self, action: Callable[[], Any]) -> Callable[[], Any]:
        """``action`` wrapped so it runs only when ``allow()``; returns None when refused."""

        def run(*_args: Any) -> Any:
            return action() if self.allow() else None

        return run


# -- save as a new params file --------------------------------------------------------------------

_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def save_new_params(lab: params.Lab, name: str, folder: str | Path) -> Path:
    """Write ``lab`` as ``folder/<name>.yaml``; refuse an existing file. Secrets become ``${ENV}`` refs."""
    stem = name.strip()
    if stem.endswith((".yaml", ".yml")):
        stem = stem.rsplit(".", 1)[0]
    if not _FILE_NAME.match(stem):
        raise SpkRunbookError(f"{name!r} is not a usable file name", hint="letters, digits, '.', '_' and '-' only, e.g. lab-7")
    path = Path(folder).resolve() / f"{stem}.yaml"
    try:
        with open(path, "x", encoding="utf-8"):  # reserve the name; fails if anything is there
            pass
    except FileExistsError:
        raise SpkRunbookError(f"{path} already exists; it was not changed", hint="choose a new name") from None
    try:
        params.dump(lab, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def secret_refs(lab: params.Lab) -> list[str]:
    """The env vars a params file written by ``params.dump`` for this lab needs before a headless run."""
    out = []
    if lab.target.token is not None:
        out.append(SECRET_ENV["target.token"])
    if lab.install.image_credentials is not None:
        out.append(SECRET_ENV["install.image_credentials.password"])
    return out


class SaveAsNew:
    """A name field and a button: the form's current lab becomes a new params file for headless runs."""

    def __init__(self, get_lab: Callable[[], params.Lab], folder: str | Path, *, dropdown: w.Dropdown | None = None) -> None:
        self.get_lab = get_lab
        self.folder = Path(folder)
        self.dropdown = dropdown
        self.name = w.Text(value="", description="save as", placeholder="new params file name, e.g. lab-7")
        self.button = w.Button(description="Save as new params file", icon="save", layout=w.Layout(width="auto"))
        self.message = w.HTML()
        self.button.on_click(lambda _b: self.save())
        self.widget = w.VBox([w.HBox([self.name, self.button]), self.message])
        self.saved: Path | None = None

    def save(self) -> Path | None:
        try:
            lab = self.get_lab()
            path = save_new_params(lab, self.name.value, self.folder)
        except SpkRunbookError as exc:
            self.message.value = error_html(exc)
            return None
        self.saved = path
        refs = secret_refs(lab)
        env = f"; set {', '.join(refs)} before running it" if refs else ""
        self.message.value = (f"<span style='color:{GREEN}'>saved {html.escape(str(path))}</span>{html.escape(env)}<br>"
                              f"<code>spkrunbook run {html.escape(str(path))}</code>")
        if self.dropdown is not None:
            refresh_params_dropdown(self.dropdown, path)
        return path


# -- progress -------------------------------------------------------------------------------------


class Progress:
    """Progress of a step: a bar and a line in Lab, plain ``label n/total: text`` lines headless.

    ``widget=None`` decides by ``headless()``. Usable as the ``progress`` callback of
    library functions: ``progress(text)`` advances by one.
    """

    def __init__(self, total: int, label: str, *, widget: bool | None = None, stream: TextIO | None = None) -> None:
        self.total, self.label, self.n = max(int(total), 0), label, 0
        self.use_widget = (not headless()) if widget is None else widget
        self.stream = stream
        self.lines: list[str] = []
        self.bar = w.IntProgress(value=0, min=0, max=max(self.total, 1), description=label) if self.use_widget else None
        self.text = w.HTML() if self.use_widget else None
        self.widget = w.HBox([self.bar, self.text]) if self.use_widget else None

    def display(self) -> "Progress":
        if self.widget is not None:
            from IPython.display import display

            display(self.widget)
        return self

    def update(self, text: str = "", *, n: int | None = None) -> None:
        self.n = self.n + 1 if n is None else n
        line = f"{self.label} {self.n}/{self.total}: {text}" if text else f"{self.label} {self.n}/{self.total}"
        self.lines.append(line)
        if self.bar is not None and self.text is not None:
            self.bar.value = min(self.n, self.bar.max)
            self.text.value = html.escape(text)
        else:
            print(line, file=self.stream or sys.stdout, flush=True)

    __call__ = update

    def done(self, text: str = "done") -> None:
        self.lines.append(f"{self.label}: {text}")
        if self.bar is not None and self.text is not None:
            self.bar.value = self.bar.max
            self.bar.bar_style = "success"
            self.text.value = html.escape(text)
        else:
            print(f"{self.label}: {text}", file=self.stream or sys.stdout, flush=True)

    def __enter__(self) -> "Progress":
        return self.display()

    def __exit__(self, etype: Any, *_: Any) -> None:
        if etype is None:
            self.done()
        elif self.bar is not None:
            self.bar.bar_style = "danger"


def widget_state_text() -> str:
    """Every live widget's synced state as one string (what Lab or nbclient would save); for checks."""
    state = w.Widget.get_manager_state(drop_defaults=False)
    return json.dumps(copy.deepcopy(state), default=str)


__all__ = [
    "Choices", "ConfirmGate", "Progress", "SaveAsNew", "SecretField", "ValidatedField", "capture_interfaces",
    "choice_widget", "field_problems", "headless", "interactive", "interface_field", "kube_contexts", "lab_field", "lab_with",
    "namespaces", "node_interfaces", "optional_int", "params_dropdown", "params_files", "refresh_params_dropdown",
    "save_new_params", "secret_refs", "show", "tmm_nodes", "tmm_pods",
]
