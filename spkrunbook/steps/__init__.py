"""The four steps of the runbook, one module each, in the order of F5's macvlan guide."""

__all__ = ["debug", "install", "nad", "prereqs"]

from . import debug, install, nad, prereqs
