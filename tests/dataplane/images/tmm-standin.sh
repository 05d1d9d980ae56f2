#!/bin/sh
# The f5-tmm container of the data plane tier's test chart: a STAND-IN, not F5's TMM (which cannot be
# had here). It does the one thing the runbook needs from TMM on the network: it brings the interfaces
# the CNI attached (net1, net2 ...) up with the self IPs of the F5SPKVlan CRs and answers on them
# (the kernel answers ARP and ping, busybox httpd answers HTTP on port 80). The self IPs come in
# STANDIN_SELF_IPS ("net1=10.1.10.100/24 net2=10.1.20.100/24"), which the test's Helm values derive
# from the same lab params the runbook made the F5SPKVlans from; F5's controller would program them.
set -eu
echo "tmm-standin: a stand-in for f5-tmm (not F5's TMM); TMM_MAPRES_ADDL_VETHS_ON_DP=${TMM_MAPRES_ADDL_VETHS_ON_DP:-unset}"
for pair in ${STANDIN_SELF_IPS:-}; do
    ifname="${pair%%=*}"
    addr="${pair#*=}"
    if ! ip link show "$ifname" >/dev/null 2>&1; then
        # TMM keeps running without a VLAN whose interface never came; so does the stand-in, and says so
        echo "tmm-standin: no interface $ifname in the pod (was its NetworkAttachmentDefinition attached?): $addr not held" >&2
        continue
    fi
    ip link set "$ifname" up
    ip addr add "$addr" dev "$ifname"
    echo "tmm-standin: $ifname up with self IP $addr"
done
mkdir -p /srv/www
echo "spkrunbook f5-tmm stand-in on $(hostname)" > /srv/www/index.html
httpd -p 80 -h /srv/www
echo "tmm-standin: answering HTTP on port 80"
# pause holds the container until the kubelet stops it (SIGTERM ends it at once) and reaps children.
exec /usr/local/bin/pause
