"""OVN, in one room: where a node's northbound database is, what its routes say, and whether they go via TMM.

With ICNI2 (``internal: true`` on the internal F5SPKVlan) OVN makes TMM's internal self
IPs the egress gateway of the watched namespaces: each node's gateway router
``GR_<node>`` gets ``src-ip`` routes for the pods there. This package answers:

- ``nbdb``: the NB databases a must-gather collected, read offline with the real
  ``ovsdb-tool``/``ovsdb-server``/``ovn-nbctl``, each mapped to its node;
- ``listings``: ``ovn-nbctl lr-route-list`` / ``lr-policy-list`` text as tables;
- ``routes``: for a node, the database that holds its routes (the target's files, or
  the OVN pods of a live cluster: per node from OpenShift 4.14, the RAFT leader before),
  the three listings, and the checks (routes via TMM, AdminPolicyBasedExternalRoute
  or the legacy annotations).

The Target says which database files it holds (``Target.ovn_nb_databases``); nothing
here reads a snapshot's folders itself.
"""

from __future__ import annotations

from . import listings, nbdb, routes
from .routes import NbdbLocation, OvnRoutes, nbdb_candidates, ovn_routes

__all__ = ["NbdbLocation", "OvnRoutes", "listings", "nbdb", "nbdb_candidates", "ovn_routes", "routes"]
