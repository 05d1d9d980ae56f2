"""The four steps of the runbook, one module each, in the seed's order."""
