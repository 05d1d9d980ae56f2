#!/bin/sh
# The nbdb container of the data plane tier's ovnkube-node STAND-IN: no OVN-Kubernetes runs here. It
# serves a real OVN northbound database with the real ovsdb-server, at the socket ovn-nbctl uses by
# default, so the debugging step reads routes the way it does on OpenShift (exec ovn-nbctl in the nbdb
# container). What OVN-Kubernetes would write there for ICNI2 is written by this script with the real
# ovn-nbctl, from the environment the test sets:
#   NODE_NAME      the node (gateway router GR_<node>)
#   ICNI2_ROUTES   "src=nexthop ..." src-ip routes via TMM's internal self IPs (ecmp-symmetric-reply)
#   CLUSTER_ROUTES "prefix=nexthop ..." static routes of ovn_cluster_router
set -eu
mkdir -p /var/run/ovn /var/lib/ovn
db=/var/lib/ovn/ovnnb_db.db
ovsdb-tool create "$db" /usr/share/ovn/ovn-nb.ovsschema
ovsdb-server --remote=punix:/var/run/ovn/ovnnb_db.sock --unixctl=/var/run/ovn/ovnnb_db.ctl \
    --pidfile=/var/run/ovn/ovnnb_db.pid "$db" &
i=0
until ovn-nbctl --timeout=1 show >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -lt 50 ] || { echo "nbdb-standin: ovsdb-server did not answer" >&2; exit 3; }
    sleep 0.1
done
ovn-nbctl lr-add ovn_cluster_router
ovn-nbctl lr-add "GR_${NODE_NAME}"
for r in ${CLUSTER_ROUTES:-}; do
    ovn-nbctl lr-route-add ovn_cluster_router "${r%%=*}" "${r#*=}"
done
for r in ${ICNI2_ROUTES:-}; do
    ovn-nbctl --policy=src-ip --ecmp-symmetric-reply lr-route-add "GR_${NODE_NAME}" "${r%%=*}" "${r#*=}"
done
echo "nbdb-standin: NB database for GR_${NODE_NAME} ready"
exec /usr/local/bin/pause
