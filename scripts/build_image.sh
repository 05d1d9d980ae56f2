#!/usr/bin/env bash
# Build the fleet's runtime image (what Containerfile describes) offline, without a daemon or a registry:
#   1. the package's wheel (python -m build);
#   2. a Debian root from Debian's packages with mmdebstrap (python3, python3-venv, ca-certificates);
#   3. inside it, a venv with the wheel and its `s3` extra installed by pip from the package index;
#   4. an OCI image assembled with umoci (user 1001:0, PATH, HOME=/tmp), tagged spkrunbook:<version>,
#      and the OCI layout tarred for `ctr -n k8s.io images import` (the dataplane tier's containerd).
# Output, keyed by a hash of the wheel, this script and the Debian suite:
#   $CACHE/spkrunbook-image-<key>/{oci/,image.tar,image.json}
# CACHE is $SPKRUNBOOK_K8S_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/spkrunbook-k8s. A warm run takes seconds
# (the wheel is rebuilt to compute the key). Needs root (mmdebstrap's chroot); without root, mmdebstrap or
# umoci it says what is missing and exits 0: the tests that need the image skip (and fail under CI=true).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${SPKRUNBOOK_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spkrunbook-k8s}"
suite="${SPKRUNBOOK_IMAGE_SUITE:-bookworm}"
say() { echo "build_image: $*"; }

missing=()
[ "$(id -u)" = "0" ] || missing+=("root")
command -v mmdebstrap >/dev/null || missing+=("mmdebstrap")
command -v umoci >/dev/null || missing+=("umoci")
if [ "${#missing[@]}" -gt 0 ]; then
    say "missing ${missing[*]}: not building the image; the tests that run it will skip"
    exit 0
fi
py="$root/.venv/bin/python"
[ -x "$py" ] || py=python3

t0=$SECONDS
work="$(mktemp -d /tmp/spkrunbook-image.XXXXXX)"
trap 'rm -rf "$work"' EXIT
say "[1/4] the wheel"
# A fixed SOURCE_DATE_EPOCH makes the wheel the same bytes for the same tree, so the cache key holds.
SOURCE_DATE_EPOCH=315532800 "$py" -m build --wheel --outdir "$work/dist" "$root" >"$work/build.log" 2>&1 || { tail -20 "$work/build.log"; exit 1; }
wheel="$(ls "$work"/dist/spkrunbook-*.whl)"
version="$(basename "$wheel" | cut -d- -f2)"
key="$( (sha256sum "$wheel" | cut -c1-64; sha256sum "$0" | cut -c1-64; echo "$suite") | sha256sum | cut -c1-16)"
out="$cache/spkrunbook-image-$key"
if [ -f "$out/image.tar" ]; then
    say "up to date: $out/image.tar"
    exit 0
fi

say "[2/4] a Debian $suite root (mmdebstrap)   $(( SECONDS - t0 ))s so far"
rootfs="$work/rootfs"
# pip inside the root trusts what this machine trusts while it downloads (a TLS-inspecting proxy's CA is in
# the host's bundle, not in Debian's); the bundle is removed afterwards: the image keeps Debian's own.
hostca="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
cabase="/tmp/wheel/$(basename "$hostca")"
# A clean environment inside (nothing of this machine's pip configuration), the bundle named every way pip reads it.
ca_env="PIP_CERT=$cabase SSL_CERT_FILE=$cabase REQUESTS_CA_BUNDLE=$cabase"
mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
    --customize-hook="mkdir -p \"\$1/tmp/wheel\"" \
    --customize-hook="copy-in $wheel /tmp/wheel" \
    --customize-hook="copy-in $hostca /tmp/wheel" \
    --customize-hook="chroot \"\$1\" python3 -m venv /opt/spkrunbook" \
    --customize-hook="chroot \"\$1\" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root $ca_env /opt/spkrunbook/bin/pip install --quiet --no-cache-dir --disable-pip-version-check \"/tmp/wheel/$(basename "$wheel")[s3]\"" \
    --customize-hook="chroot \"\$1\" /opt/spkrunbook/bin/python -m ipykernel install --sys-prefix --name python3" \
    --customize-hook="rm -rf \"\$1/tmp/wheel\" \"\$1\"/var/cache/apt/archives/*.deb \"\$1\"/var/lib/apt/lists/*" \
    "$suite" "$rootfs" >"$work/mmdebstrap.log" 2>&1 || { tail -30 "$work/mmdebstrap.log"; exit 1; }
say "[3/4] pip installed spkrunbook $version into /opt/spkrunbook   $(( SECONDS - t0 ))s so far"

say "[4/4] the OCI image (umoci)   $(( SECONDS - t0 ))s so far"
oci="$work/oci"
tag="$version"
umoci init --layout "$oci"
umoci new --image "$oci:$tag"
umoci unpack --image "$oci:$tag" "$work/bundle" >/dev/null
cp -a "$rootfs/." "$work/bundle/rootfs/"
umoci repack --image "$oci:$tag" "$work/bundle"
umoci config --image "$oci:$tag" --config.user=1001:0 --config.workingdir=/tmp \
    --config.env="PATH=/opt/spkrunbook/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --config.env=HOME=/tmp --config.env=MPLBACKEND=Agg --config.env=PYTHONDONTWRITEBYTECODE=1 \
    --config.cmd=spkrunbook --config.cmd=--help \
    --author="spkrunbook scripts/build_image.sh" --history.comment="Debian $suite root, spkrunbook $version"
umoci gc --layout "$oci"
mkdir -p "$out.tmp"
cp -a "$oci" "$out.tmp/oci"
tar -C "$oci" -cf "$out.tmp/image.tar" .
printf '{"name": "localhost/spkrunbook:%s", "tag": "%s", "version": "%s", "suite": "%s", "seconds": %s}\n' \
    "$version" "$tag" "$version" "$suite" "$(( SECONDS - t0 ))" > "$out.tmp/image.json"
rm -rf "$out"
mv "$out.tmp" "$out"
say "done in $(( SECONDS - t0 ))s: $out/image.tar ($(du -h "$out/image.tar" | cut -f1); rootfs $(du -sh "$rootfs" | cut -f1))"
