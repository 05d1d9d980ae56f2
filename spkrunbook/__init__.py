"""spkrunbook: Jupyter runbooks for F5 SPK on OpenShift with macvlan networking.

The library behind four notebooks (prerequisites, NetworkAttachmentDefinitions,
SPK install, debugging). Notebooks call it; the CLI runs them headless.
"""

__version__ = "0.1.0"
