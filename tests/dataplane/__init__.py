"""The data plane tier (marker ``dataplane``): a real node, see tests/support/dataplane.py."""
