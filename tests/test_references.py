"""The reference table: English pages of the documented version, no issue tracker, each pinned and used."""

from __future__ import annotations

import re

import pytest

from spkrunbook import references
from spkrunbook.results import CheckResult, Findings

# A path segment that names a language other than English: /ko/, /pt-br/, /zh-cn/, /ja-jp/, /ko-kr/ ...
_LANGS = ("ar", "cs", "de", "es", "fr", "he", "hi", "id", "it", "ja", "ko", "nl", "pl", "pt", "ru", "sv", "th", "tr", "uk",
          "vi", "zh")
_TRANSLATED = re.compile(r"/(?:" + "|".join(_LANGS) + r")(?:[-_][a-z]{2,4})?/", re.I)
_TRACKER = re.compile(r"//(?:www\.)?(?:github\.com|gitlab\.com)/[^/]+/[^/]+/(?:issues|pull|pulls)(?:/|$)"
                      r"|bugzilla\.|/jira/|issues\.redhat\.com", re.I)
URLS = sorted({r.url for r in references.REFS.values()})


@pytest.mark.parametrize("url", URLS)
def test_no_reference_is_a_translated_page_or_an_issue_tracker(url: str) -> None:
    assert url.startswith("https://"), url
    assert not _TRANSLATED.search(url.split("://", 1)[1]), f"{url} is a translated page: link the English one"
    assert not _TRACKER.search(url), f"{url} is an issue tracker: link the documentation of the rule"


def test_the_checks_of_the_tests_above_fire() -> None:
    """The two patterns catch what the old table held (so the test above can fail)."""
    assert _TRANSLATED.search("docs.redhat.com/ko/documentation/openshift_container_platform/4.16/html/x")
    assert _TRANSLATED.search("docs.redhat.com/pt-br/documentation/x") and _TRANSLATED.search("a.b/ko-kr/x")
    assert not _TRANSLATED.search("docs.redhat.com/en/documentation/openshift_container_platform/4.16/html/x")
    assert _TRACKER.search("https://github.com/docker/docs/issues/15855")
    assert _TRACKER.search("https://github.com/containernetworking/cni.dev/pull/166")
    assert not _TRACKER.search("https://github.com/ovn-org/ovn-kubernetes/blob/master/docs/interconnect/topology.md")


def test_every_reference_names_its_documented_version() -> None:
    for key, ref in references.REFS.items():
        assert ref.version.strip() and ref.title.strip(), key
    versioned = [r for r in references.REFS.values() if "clouddocs.f5.com/service-proxy/" in r.url
                 or "openshift_container_platform/" in r.url]
    for r in versioned:  # F5 SPK and OpenShift pages are the page of a release, never "latest"
        assert re.search(r"/(?:1\.\d+\.\d+|4\.\d+)/", r.url), r.url
        assert re.search(r"\d", r.version), r


def test_openshift_pages_are_4x_and_spk_pages_1x_and_cpu_manager_is_not_4_6() -> None:
    for r in references.REFS.values():
        m = re.search(r"openshift_container_platform/(\d+)\.(\d+)/", r.url)
        if m:
            assert m.group(1) == "4" and int(m.group(2)) >= 10, r.url
        m = re.search(r"clouddocs\.f5\.com/service-proxy/(\d+)\.", r.url)
        if m:
            assert m.group(1) == "1", r.url
    assert "/4.6/" not in references.OCP_CPU_MANAGER


def test_every_check_names_a_reference_from_the_table() -> None:
    table = {r.url for r in references.REFS.values()}
    assert set(references.BY_CHECK.values()) <= table
    assert references.for_check("env TMM_MAPRES_ADDL_VETHS_ON_DP") in table
    assert references.for_check("NAD 1 attached") in table


def test_the_vsphere_rule_links_vmware_documentation() -> None:
    url = references.for_check("promiscuous works")
    assert "github.com" not in url and "broadcom.com" in url


def test_a_record_names_the_version_beside_each_link() -> None:
    f = Findings("t", [CheckResult("MTU agreement", "warn", "x"), CheckResult("hugepages", "pass"),
                       CheckResult("custom", "pass", reference="https://example.org/page")])
    refs = f.to_dict()["references"]
    assert refs[references.CNF_VLAN_CRD] == references.REFS["cnf-vlan-crd"].version
    assert refs[references.K8S_HUGEPAGES].startswith("Kubernetes v1.")
    assert refs["https://example.org/page"] == "not in spkrunbook's reference table"
    assert Findings.from_dict(f.to_dict()).rows == f.rows


def test_nothing_a_user_reads_says_seed() -> None:
    """Notebooks, messages, templates, README and docs name F5's document, never "the seed"."""
    from tests.support.paths import ROOT

    files = [*sorted((ROOT / "spkrunbook").rglob("*")), ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    hits = []
    for f in files:
        if f.is_file() and f.suffix in (".py", ".ipynb", ".yaml", ".md", ".html", ".txt", ".j2") and "captures" not in f.parts:
            for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if re.search(r"\bseed\b", line, re.I):
                    hits.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()[:80]}")
    assert not hits, hits
