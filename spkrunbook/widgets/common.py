"""Pieces every step form shares: choices from the target, live validation, confirmation, save-as, progress.

A step form is built from these so the four notebooks behave alike:

* ``show(FormClass, interactive, step)`` builds and displays a form only for a
  person: under papermill (``SPKRUNBOOK_HEADLESS`` set by the runbook) or with
  ``interactive=False`` it builds nothing, so records hold static outputs only,
  no widget state, and nothing waits.
* ``Choices.discover(lab, target)`` offers what ``cluster.facts`` knows (kube
  contexts, namespaces, TMM nodes, their common NICs, TMM pods, capture
  interfaces); an entry is ``None`` when the target cannot tell, and the field
  becomes free text.
* ``ValidatedField`` puts a message beside a widget and refreshes it on every
  change; ``lab_field`` asks ``params.field_problems`` (the one validator) and
  ``interface_field`` ``params.interface_name_problem``.
* ``SecretField`` takes a password or token without keeping it in widget state.
* ``ConfirmGate`` stops a destructive button until its box is ticked, then unticks.
* ``SaveAsNew`` writes the edited lab as a *new* params file (never overwriting;
  secrets as ``${ENV}`` references) and selects it in the params dropdown.
* ``ProgressBar`` is ``progress.Progress`` with a bar widget on top.

Logic lives in plain methods so tests drive it without a browser.
"""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as w
from pydantic import SecretStr

from .. import display, notebook, params
from ..cluster import facts
from ..cluster.base import Target
from ..errors import Problem, SpkRunbookError
from ..progress import Progress

RED, AMBER, GREEN = display.PALETTE["fail"], display.PALETTE["warn"], display.PALETTE["pass"]


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


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except SpkRunbookError:
        return None


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
    def discover(cls, lab: params.Lab, target: Target | None) -> Choices:
        """Everything from ``cluster.facts``: the forms never ask the cluster a question of their own."""
        live = lab.target.kind == "live" and lab.target.kubeconfig
        contexts, active = facts.kube_contexts(lab.target.kubeconfig) if live else ([], None)
        f = facts.ClusterFacts.of(lab, target) if target is not None else None
        return cls(
            contexts=contexts,
            active_context=lab.target.context or active,
            namespaces=_safe(f.namespaces) if f else None,
            nodes=_safe(lambda: f.tmm_node_names) if f else None,
            interfaces=_safe(lambda: f.node_interfaces().choices()) if f else None,
            pods=_safe(f.tmm_pod_names) if f else None,
            capture_interfaces=(_safe(f.pod_interfaces) if f else None) or ["any"],
        )


# -- validated fields -----------------------------------------------------------------------------

Check = Callable[[Any], "list[Problem] | str | None"]


def _as_problems(result: list[Problem] | str | None) -> list[Problem]:
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
        widget = choice_widget(params.get_path(lab.model_dump(mode="python"), path), choices,
                               description or path.rsplit(".", 1)[-1])
    return ValidatedField(widget, lambda v: params.field_problems(lab, path, v), convert=convert, on_valid=on_valid)


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


secret_refs = params.secret_refs


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


class ProgressBar(Progress):
    """``progress.Progress`` with an ``IntProgress`` bar and a line beside it, for forms in JupyterLab.

    Headless it is the plain Progress (throttled lines), so a form's callbacks run
    the same in tests and pipelines.
    """

    def __init__(self, label: str, *, total: float | None = None, widget: bool | None = None, **kw: Any) -> None:
        self.use_widget = (not headless()) if widget is None else widget
        super().__init__(label, total=total, notebook=False if self.use_widget else kw.pop("notebook", None), **kw)
        self.bar = w.IntProgress(value=0, min=0, max=max(int(total or 1), 1), description=label) if self.use_widget else None
        self.text = w.HTML() if self.use_widget else None
        self.widget = w.HBox([self.bar, self.text]) if self.bar is not None and self.text is not None else None

    def display(self) -> ProgressBar:
        if self.widget is not None:
            from IPython.display import display

            display(self.widget)
        return self

    def _emit(self, force: bool = False) -> None:
        if self.bar is None or self.text is None:
            super()._emit(force)
            return
        self.history.append(self.text_line())
        if self.total:
            self.bar.max = max(int(self.total), 1)
        self.bar.value = min(int(self.done_value), self.bar.max)
        self.bar.bar_style = {"done": "success", "failed": "danger"}.get(self.state, "")
        self.text.value = html.escape(self.message)

    def text_line(self) -> str:
        return super().line()


def widget_state_text() -> str:
    """Every live widget's synced state as one string (what Lab or nbclient would save); for checks."""
    state = w.Widget.get_manager_state(drop_defaults=False)
    return json.dumps(copy.deepcopy(state), default=str)


__all__ = [
    "Choices", "ConfirmGate", "ProgressBar", "SaveAsNew", "SecretField", "ValidatedField", "choice_widget", "headless",
    "interactive", "interface_field", "lab_field", "optional_int", "params_dropdown", "params_files",
    "refresh_params_dropdown", "save_new_params", "secret_refs", "show",
]
