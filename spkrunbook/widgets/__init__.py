"""ipywidgets forms bound to the Lab parameter model (interactive runs only)."""
