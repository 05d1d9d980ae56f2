"""The four steps of the runbook, one module each, in the order of F5's macvlan guide (``bundle.STEPS``)."""

__all__ = ["debug", "install", "nad", "prereqs"]  # modules, imported when asked for (a kernel needs one)
