"""Where each check's rule is documented: the URLs shown beside findings and kept in the record.

Sources are the ones collected in the project's reference notes (F5 clouddocs,
OpenShift docs, upstream issues); a check names one so an engineer can read the
rule instead of trusting the tool.
"""

from __future__ import annotations

SEED = "https://clouddocs.f5.com/service-proxy-use-cases/main/macvlan.html"
SPK_REQUIREMENTS = "https://clouddocs.f5.com/service-proxy/1.8.0/spk-openshift-requirements.html"
SPK_INSTALL = "https://clouddocs.f5.com/service-proxy/latest/spk-software-install.html"
SPK_NETWORK = "https://clouddocs.f5.com/service-proxy/latest/spk-network-overview.html"
SPK_VLAN_CRD = "https://clouddocs.f5.com/service-proxy/1.7.3/spk-vlan-crd.html"
TMM_RESOURCES = "https://clouddocs.f5.com/service-proxy/latest/spk-tmm-resources.html"
TMM_DEBUG = "https://clouddocs.f5.com/bigip-next-for-kubernetes/latest/troubleshooting/spk-tmm-debug.html"
OCP_MACVLAN = ("https://docs.redhat.com/ko/documentation/openshift_container_platform/4.16/html/networking/"
               "nw-multus-macvlan-object_configuring-additional-network")
OCP_NMSTATE = "https://docs.redhat.com/documentation/en-us/openshift_container_platform/4.18/html/networking/kubernetes-nmstate"
OCP_CPU_MANAGER = "https://docs.openshift.com/container-platform/4.6/scalability_and_performance/using-cpu-manager.html"
OCP_TOPOLOGY = ("https://docs.redhat.com/ko/documentation/openshift_container_platform/4.19/html/scalability_and_performance/"
                "setting_up_topology_manager_using-cpu-manager-and-topology-manager")
OCP_OVN = ("https://docs.redhat.com/pt-br/documentation/openshift_container_platform/4.18/html/ovn-kubernetes_network_plugin/"
           "ovn-kubernetes-architecture-assembly")
OCP_EXTERNAL_GATEWAY = ("https://docs.redhat.com/en/documentation/openshift_container_platform/4.22/html/networking/"
                        "configuring-secondary-external-gateway")
K8S_HUGEPAGES = "https://kubernetes.io/docs/tasks/manage-hugepages/scheduling-hugepages"
CNI_NO_ADDRESS = "https://github.com/containernetworking/cni.dev/pull/166"
MACVLAN_BRIDGE_PORT = "https://github.com/ovn-kubernetes/ovn-kubernetes/issues/1364"
MACVLAN_SAME_NIC_NAME = "https://github.com/k8snetworkplumbingwg/multus-cni/issues/871"
MACVLAN_PASSTHRU = "https://github.com/srl-labs/containerlab/issues/1814"
VSPHERE_FORGED = "https://github.com/docker/docs/issues/15855"
VSPHERE_MAC_LEARNING = "https://github.com/ansible-collections/community.vmware/issues/644"
OPENSTACK_PORT_SECURITY = "https://github.com/openshift/openshift-docs/pull/53860"
NETWORK_STATUS_PLUGINS = "https://github.com/k8snetworkplumbingwg/network-attachment-definition-client/issues/75"
HELM_STUCK = "https://github.com/helm/helm/issues/11421"
HELM4_WAIT = "https://github.com/helm/community/pull/374"
TMM_MAPRES_CRASH = "https://github.com/jgruberf5/roksbnkctl"
OCP_INFRASTRUCTURE = ("https://docs.redhat.com/en/documentation/openshift_container_platform/4.18/html/"
                      "config_apis/infrastructure-config-openshift-io-v1")
HELM_UPGRADE = "https://helm.sh/docs/helm/helm_upgrade/"
HELM_STATUS = "https://helm.sh/docs/helm/helm_status/"
WIRESHARK_TCP = "https://www.wireshark.org/docs/wsug_html_chunked/ChAdvTCPAnalysis.html"

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
    "master-bridge-port": MACVLAN_BRIDGE_PORT,
    "node-capacity": TMM_RESOURCES,
    "platform": OCP_INFRASTRUCTURE,
    "NAD name": OCP_MACVLAN,
    "namespace": OCP_MACVLAN,
    "master interface name": OCP_MACVLAN,
    "macvlan mode": OCP_MACVLAN,
    "passthru": MACVLAN_PASSTHRU,
    "MTU": OCP_MACVLAN,
    "distinct NAD names": SEED,
    "separate masters": SEED,
    "master on TMM nodes": MACVLAN_SAME_NIC_NAME,
    "cniVersion": CNI_NO_ADDRESS,
    "apply": OCP_MACVLAN,
    "present": OCP_MACVLAN,
    "matches params": OCP_MACVLAN,
    "teardown": OCP_MACVLAN,
    "macvlan value changes": SEED,
    "TMM env var": SEED,
    "topology manager": OCP_TOPOLOGY,
    "NADs in order": SEED,
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
    "attachment present": NETWORK_STATUS_PLUGINS,
    "TMM took the interface": TMM_DEBUG,
    "interface up": TMM_DEBUG,
    "OVN routes via TMM": OCP_EXTERNAL_GATEWAY,
    "OVN mode": OCP_OVN,
    "external routes": OCP_EXTERNAL_GATEWAY,
    "packets seen": TMM_DEBUG,
    "promiscuous works": VSPHERE_FORGED,
    "TCP resets": WIRESHARK_TCP,
    "TCP retransmissions": WIRESHARK_TCP,
}


def for_check(check: str) -> str:
    """The documented rule behind ``check`` ('' when none is known): env-var checks share one."""
    if check in BY_CHECK:
        return BY_CHECK[check]
    if check.startswith("env "):
        return SEED
    if check.startswith("NAD ") and check.endswith(" attached"):
        return NETWORK_STATUS_PLUGINS
    return ""
