"""sizing: TMM's resources, and Kubernetes quantities read exactly as the official client reads them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kubernetes.utils import parse_quantity as official

from spkrunbook import params, sizing
from tests.support.paths import DEMO_PARAMS

QUANTITIES = ["0", "1", "2", "500m", "1572Mi", "2Gi", "1.5Gi", "3Gi", "1e3", "1E3", "1k", "1M", "250u", "100n",
              "0.5", ".5", "+1", "-1", "1Ki", "7Ti", "1Pi", "2Ei", "12345678901234567890"]


@pytest.mark.parametrize("text", QUANTITIES)
def test_a_quantity_reads_as_the_kubernetes_client_reads_it(text: str) -> None:
    assert sizing.parse_quantity(text) == Decimal(official(text))


@pytest.mark.parametrize("text", ["", "Mi", "1.5.5Gi", "1Gb", "ten", "1e", "0x10"])
def test_what_is_not_a_quantity_is_refused_by_both(text: str) -> None:
    with pytest.raises(ValueError):
        sizing.parse_quantity(text)
    with pytest.raises(ValueError):
        official(text)


def test_the_demo_lab_gets_the_guide_s_one_cpu_sizing() -> None:
    res = sizing.tmm_resources(params.load(DEMO_PARAMS))
    assert (res.cpu, res.hugepages, res.memory, res.assumption) == (1, "1572Mi", "2Gi", None)


def test_a_space_inside_is_refused_as_the_api_server_refuses_it() -> None:
    # The Python client reads "1 Gi" leniently; the API server's resource.ParseQuantity does not.
    with pytest.raises(ValueError):
        sizing.parse_quantity("1 Gi")
