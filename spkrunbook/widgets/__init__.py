"""ipywidgets forms bound to the Lab parameter model (interactive runs only)."""

__all__ = ["common", "debug", "install", "nad", "prereqs"]  # modules, imported when asked for
