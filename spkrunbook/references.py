"""Where each check's rule is documented: one table of references, each pinned to the version it was checked against.

Every row of a findings table names a reference (``results.CheckResult``): the
English page of the documented version (SPK 1.x, OpenShift 4.x, Helm 3 or 4 ...),
never a translated page and never an issue tracker, so an engineer can read the
rule instead of trusting the tool. F5's "latest" pages move between releases, so
each entry also says which documented version it was checked against, and a
record names it beside the link (``Findings.to_dict``'s ``references``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Ref:
    """A documented rule: the page, the version of the documentation it was checked against, and its title."""

    url: str
    version: str
    title: str


_RH = "https://docs.redhat.com/en/documentation/openshift_container_platform"

REFS: dict[str, Ref] = {
    "f5-macvlan": Ref("https://clouddocs.f5.com/service-proxy-use-cases/main/macvlan.html",
                      "SPK 1.6 use case, page of 23 Jan 2023", "F5: Macvlan Network Configuration"),
    "spk-requirements": Ref("https://clouddocs.f5.com/service-proxy/1.8.0/spk-openshift-requirements.html", "SPK 1.8.0",
                            "F5 SPK: OpenShift requirements"),
    "spk-install": Ref("https://clouddocs.f5.com/service-proxy/1.6.0/spk-software-install.html", "SPK 1.6.0",
                       "F5 SPK: Software installation"),
    "spk-install-signed": Ref("https://clouddocs.f5.com/service-proxy/1.8.0/spk-software-install.html", "SPK 1.8.0",
                              "F5 SPK: Software installation (signed tarball, signing key and signatures)"),
    "spk-network": Ref("https://clouddocs.f5.com/service-proxy/1.6.0/spk-network-overview.html", "SPK 1.6.0",
                       "F5 SPK: Networking overview"),
    "spk-vlan-crd": Ref("https://clouddocs.f5.com/service-proxy/1.7.3/spk-vlan-crd.html", "SPK 1.7.3",
                        "F5 SPK: F5SPKVlan"),
    "spk-tmm-resources": Ref("https://clouddocs.f5.com/service-proxy/1.7.3/spk-tmm-resources.html", "SPK 1.7.3",
                             "F5 SPK: TMM resources"),
    "spk-tmm-debug": Ref("https://clouddocs.f5.com/service-proxy/1.6.0/spk-tmm-debug.html", "SPK 1.6.0",
                         "F5 SPK: TMM debug sidecar"),
    "spk-licensing": Ref("https://clouddocs.f5.com/service-proxy-use-cases/main/licensing.html",
                         "SPK use cases, page of 13 Apr 2023", "F5: SPK licensing (CRs applied after CWC verifies)"),
    "spk-cluster-license": Ref("https://clouddocs.f5.com/service-proxy/1.7.9/spk-cluster-license.html", "SPK 1.7.9",
                               "F5 SPK: SPK licensing (CWC status)"),
    "cnf-vlan-crd": Ref("https://clouddocs.f5.com/cnfs/robin/latest/cnf-vlan-crd.html",
                        "F5 CNFs VLAN CR page as read for the field notes (F5 shows no release number on it)",
                        "F5 CNFs: VLAN CR (mtu with TMM_DEFAULT_MTU; self IPs not positional)"),
    "ocp-macvlan": Ref(f"{_RH}/4.16/html/networking/nw-multus-macvlan-object_configuring-additional-network",
                       "OpenShift 4.16", "OpenShift: MACVLAN additional network configuration"),
    "ocp-nmstate": Ref(f"{_RH}/4.18/html/networking/kubernetes-nmstate", "OpenShift 4.18",
                       "OpenShift: Kubernetes NMState"),
    "ocp-cpu-manager": Ref(f"{_RH}/4.18/html/scalability_and_performance/using-cpu-manager", "OpenShift 4.18",
                           "OpenShift: Using CPU Manager and Topology Manager"),
    "ocp-topology": Ref(f"{_RH}/4.19/html/scalability_and_performance/"
                        "setting_up_topology_manager_using-cpu-manager-and-topology-manager", "OpenShift 4.19",
                        "OpenShift: Setting up Topology Manager"),
    "ocp-ovn": Ref(f"{_RH}/4.18/html/ovn-kubernetes_network_plugin/ovn-kubernetes-architecture-assembly",
                   "OpenShift 4.18", "OpenShift: OVN-Kubernetes architecture"),
    "ocp-external-gateway": Ref(f"{_RH}/4.22/html/networking/configuring-secondary-external-gateway", "OpenShift 4.22",
                                "OpenShift: Configuring a secondary external gateway"),
    "ocp-infrastructure": Ref(f"{_RH}/4.18/html/config_apis/infrastructure-config-openshift-io-v1", "OpenShift 4.18",
                              "OpenShift: Infrastructure [config.openshift.io/v1]"),
    "k8s-hugepages": Ref("https://kubernetes.io/docs/tasks/manage-hugepages/scheduling-hugepages/",
                         "Kubernetes v1.34 documentation", "Kubernetes: Manage HugePages"),
    "cni-spec-versions": Ref("https://www.cni.dev/docs/spec-upgrades/", "CNI spec 0.3.0 to 1.1",
                             "CNI: spec versions (what each result can describe)"),
    "cni-macvlan": Ref("https://www.cni.dev/plugins/v1.1/main/macvlan/", "CNI plugins v1.1",
                       "CNI: macvlan plugin (modes, mtu at most the master's)"),
    "npwg-network-status": Ref("https://github.com/k8snetworkplumbingwg/multi-net-spec/blob/master/"
                               "%5Bv1%5D%20Kubernetes%20Network%20Custom%20Resource%20Definition%20De-facto%20Standard.md",
                               "NPWG de-facto standard v1", "Network Plumbing WG: network-status annotation"),
    "vsphere-security-policy": Ref("https://developer.broadcom.com/xapis/vsan-management-api/8.0u2/"
                                   "vim.dvs.VmwareDistributedVirtualSwitch.SecurityPolicy.html", "vSphere API 8.0 U2",
                                   "vSphere: port security policy (promiscuous mode, forged transmits)"),
    "vsphere-mac-learning": Ref("https://developer.broadcom.com/xapis/vmware-storage-policy-api/8.0u2/"
                                "vim.dvs.VmwareDistributedVirtualSwitch.MacManagementPolicy.html", "vSphere API 8.0 U2",
                                "vSphere: MAC management policy (MAC learning, since vSphere 6.7)"),
    "openstack-allowed-address-pairs": Ref("https://docs.redhat.com/en/documentation/red_hat_openstack_platform/13/html/"
                                           "networking_guide/config-allowed-address-pairs_rhosp-network",
                                           "Red Hat OpenStack Platform 13", "OpenStack: allowed address pairs"),
    "helm-upgrade": Ref("https://helm.sh/docs/v3/helm/helm_upgrade/", "Helm 3.19", "helm upgrade"),
    "helm-status": Ref("https://helm.sh/docs/v3/helm/helm_status/", "Helm 3.19", "helm status"),
    "helm-rollback": Ref("https://helm.sh/docs/v3/helm/helm_rollback/", "Helm 3.19",
                         "helm rollback (a release left pending)"),
    "helm4-upgrade": Ref("https://helm.sh/docs/helm/helm_upgrade/", "Helm 4.0", "helm upgrade (--wait=watcher)"),
    "helm-provenance": Ref("https://helm.sh/docs/v3/topics/provenance/", "Helm 3.19", "Helm provenance and integrity"),
    "tmm-mapres-crash": Ref("https://github.com/jgruberf5/roksbnkctl", "field notes of 23 May 2026 (BNK 2.3)",
                            "Field report: TMM mapres crash with a PAL_CPU_SET mismatch"),
    "ovn-interconnect": Ref("https://github.com/ovn-org/ovn-kubernetes/blob/master/docs/interconnect/topology.md",
                            "ovn-kubernetes documentation (interconnect topology)",
                            "OVN-Kubernetes: interconnect, one NB database per node"),
    "wireshark-tcp": Ref("https://www.wireshark.org/docs/wsug_html_chunked/ChAdvTCPAnalysis.html",
                         "Wireshark User's Guide 4.x", "Wireshark: TCP analysis"),
}

# The names the code uses (each a URL from REFS).
F5_MACVLAN = REFS["f5-macvlan"].url
SPK_REQUIREMENTS = REFS["spk-requirements"].url
SPK_INSTALL = REFS["spk-install"].url
SPK_INSTALL_SIGNED = REFS["spk-install-signed"].url
SPK_NETWORK = REFS["spk-network"].url
SPK_VLAN_CRD = REFS["spk-vlan-crd"].url
TMM_RESOURCES = REFS["spk-tmm-resources"].url
TMM_DEBUG = REFS["spk-tmm-debug"].url
SPK_LICENSING = REFS["spk-licensing"].url
CNF_VLAN_CRD = REFS["cnf-vlan-crd"].url
OCP_MACVLAN = REFS["ocp-macvlan"].url
OCP_NMSTATE = REFS["ocp-nmstate"].url
OCP_CPU_MANAGER = REFS["ocp-cpu-manager"].url
OCP_TOPOLOGY = REFS["ocp-topology"].url
OCP_OVN = REFS["ocp-ovn"].url
OCP_EXTERNAL_GATEWAY = REFS["ocp-external-gateway"].url
OCP_INFRASTRUCTURE = REFS["ocp-infrastructure"].url
K8S_HUGEPAGES = REFS["k8s-hugepages"].url
CNI_SPEC_VERSIONS = REFS["cni-spec-versions"].url
CNI_MACVLAN = REFS["cni-macvlan"].url
NETWORK_STATUS = REFS["npwg-network-status"].url
VSPHERE_SECURITY_POLICY = REFS["vsphere-security-policy"].url
VSPHERE_MAC_LEARNING = REFS["vsphere-mac-learning"].url
OPENSTACK_PORT_SECURITY = REFS["openstack-allowed-address-pairs"].url
HELM_UPGRADE = REFS["helm-upgrade"].url
HELM_STATUS = REFS["helm-status"].url
HELM_STUCK = REFS["helm-rollback"].url
HELM4_WAIT = REFS["helm4-upgrade"].url
HELM_PROVENANCE = REFS["helm-provenance"].url
TMM_MAPRES_CRASH = REFS["tmm-mapres-crash"].url
OVN_INTERCONNECT = REFS["ovn-interconnect"].url
WIRESHARK_TCP = REFS["wireshark-tcp"].url

# The rule each check applies, by check name: a row that names no reference of its
# own gets this one (results.CheckResult), so every row in a table and a record has one.
BY_CHECK: dict[str, str] = {
    "api-reachable": SPK_REQUIREMENTS,
    "openshift-version": SPK_REQUIREMENTS,
    "network-type": OCP_OVN,
    "multus-nad-crd": OCP_MACVLAN,
    "tmm-nodes": TMM_RESOURCES,
    "hugepages": K8S_HUGEPAGES,
    "cpu-manager": OCP_CPU_MANAGER,
    "topology-manager": OCP_TOPOLOGY,
    "master-interfaces": OCP_NMSTATE,
    "master-bridge-port": OCP_MACVLAN,
    "node-capacity": TMM_RESOURCES,
    "platform": OCP_INFRASTRUCTURE,
    "NAD name": OCP_MACVLAN,
    "namespace": OCP_MACVLAN,
    "master interface name": OCP_MACVLAN,
    "macvlan mode": CNI_MACVLAN,
    "passthru": CNI_MACVLAN,
    "MTU": CNI_MACVLAN,
    "distinct NAD names": F5_MACVLAN,
    "separate masters": F5_MACVLAN,
    "master on TMM nodes": OCP_MACVLAN,
    "cniVersion": CNI_SPEC_VERSIONS,
    "apply": OCP_MACVLAN,
    "present": OCP_MACVLAN,
    "matches params": OCP_MACVLAN,
    "teardown": OCP_MACVLAN,
    "macvlan value changes": F5_MACVLAN,
    "TMM env var": F5_MACVLAN,
    "topology manager": OCP_TOPOLOGY,
    "NADs in order": F5_MACVLAN,
    "whole CPUs": TMM_RESOURCES,
    "Mi/Gi units": TMM_RESOURCES,
    "requests == limits": TMM_RESOURCES,
    "user value overridden": SPK_INSTALL,
    "PAL_CPU_SET": TMM_MAPRES_CRASH,
    "TMM placement": TMM_RESOURCES,
    "helm install": HELM_UPGRADE,
    "helm release": HELM_STUCK,
    "TMM pods": SPK_INSTALL,
    "pod Ready": SPK_INSTALL,
    "QoS Guaranteed": TMM_RESOURCES,
    "container f5-tmm": TMM_DEBUG,
    "container debug": TMM_DEBUG,
    "TMM crash log": TMM_MAPRES_CRASH,
    "interfaces in pod": TMM_DEBUG,
    "F5SPKVlan exists": SPK_VLAN_CRD,
    "F5SPKVlan CRD installed": SPK_VLAN_CRD,
    "self IPs": SPK_VLAN_CRD,
    "internal self IPs in node subnet": SPK_VLAN_CRD,
    "attachment present": NETWORK_STATUS,
    "TMM took the interface": TMM_DEBUG,
    "interface up": TMM_DEBUG,
    "OVN routes via TMM": OCP_EXTERNAL_GATEWAY,
    "OVN mode": OCP_OVN,
    "OVN database of the node": OVN_INTERCONNECT,
    "external routes": OCP_EXTERNAL_GATEWAY,
    "packets seen": TMM_DEBUG,
    "promiscuous works": VSPHERE_SECURITY_POLICY,
    "TCP resets": WIRESHARK_TCP,
    "TCP retransmissions": WIRESHARK_TCP,
    "MTU agreement": CNF_VLAN_CRD,
    "self IPs held": CNF_VLAN_CRD,
    "VLAN in TMM": SPK_LICENSING,
    "licence": SPK_LICENSING,
    "signed artifacts": SPK_INSTALL_SIGNED,
}

_BY_URL: dict[str, Ref] = {r.url: r for r in REFS.values()}


def for_check(check: str) -> str:
    """The documented rule behind ``check`` ('' when none is known): env-var checks share one."""
    if check in BY_CHECK:
        return BY_CHECK[check]
    if check.startswith("env "):
        return F5_MACVLAN
    if check.startswith("NAD ") and check.endswith(" attached"):
        return NETWORK_STATUS
    return ""


def ref(url: str) -> Ref | None:
    """The table's entry for ``url`` (None for a URL the table does not hold)."""
    return _BY_URL.get(url)


def versions(urls: Iterable[str]) -> dict[str, str]:
    """``url -> the documented version it was checked against`` for each URL of the table, in first-seen order;
    a URL the table does not hold says so, so a record never shows an unpinned link as if it were pinned."""
    out: dict[str, str] = {}
    for url in urls:
        if url and url not in out:
            r = _BY_URL.get(url)
            out[url] = r.version if r is not None else "not in spkrunbook's reference table"
    return out
