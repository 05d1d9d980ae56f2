#!/usr/bin/env bash
# Build the fleet's runtime image (what Containerfile describes) offline, without a daemon or a registry, in two
# layers so that a change to the package costs seconds and only a change to its dependencies costs minutes:
#   1. the package's wheel (python -m build; a fixed SOURCE_DATE_EPOCH makes it the same bytes for the same tree);
#   2. the base layer, cached by what goes into it (the wheel's Requires-Dist and Requires-Python, the `s3` extra,
#      the Debian suite, this script): a Debian root from Debian's packages with mmdebstrap (python3, python3-venv,
#      ca-certificates), a venv in /opt/spkrunbook with the wheel's dependencies and its `s3` extra installed by
#      pip from the package index (the wheel itself uninstalled again), the python3 kernel spec; an OCI image
#      assembled with umoci (user 1001:0, PATH, HOME=/tmp); the root is kept beside it;
#   3. the package layer, cached by the base and the wheel: the wheel installed with pip --no-deps --no-index into
#      an overlay on the kept root, and what that added (under /opt only) inserted as a second layer with umoci;
#      tagged <version> and named localhost/spkrunbook:<version> for containerd (io.containerd.image.name), so
#      `tar -C oci -c . | ctr -n k8s.io images import -` needs no --base-name.
# Output:
#   $CACHE/spkrunbook-image-base-<key>/{oci/,rootfs/,base.json}   the base (about 1.4 GB with its root)
#   $CACHE/spkrunbook-image-<key>/{oci/,image.json}                the image (its blobs hard links into the base's)
# and a last line `image: <dir>`. CACHE is $SPKRUNBOOK_K8S_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/spkrunbook-k8s.
# A warm run takes seconds (the wheel is rebuilt to compute the key). Needs root (mmdebstrap's chroot, the overlay
# mount). Without root, mmdebstrap, umoci or overlayfs, or without the package indexes (offline), it says so and
# exits 0 without an `image:` line: the tests that need the image skip (and fail under CI=true).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${SPKRUNBOOK_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spkrunbook-k8s}"
suite="${SPKRUNBOOK_IMAGE_SUITE:-bookworm}"
say() { echo "build_image: $*"; }
offline() { say "cannot reach the package indexes ($1): not building the image; the tests that run it will skip"; exit 0; }
# What a failed download looks like in pip's, apt's and build's logs (a laptop offline, a proxy that refuses).
net_errors='Temporary failure in name resolution|Name or service not known|Failed to establish a new connection|NewConnectionError|Network is unreachable|Could not resolve|Connection timed out|Could not connect to|No matching distribution found|ProxyError|Failed to fetch'

missing=()
[ "$(id -u)" = "0" ] || missing+=("root")
command -v mmdebstrap >/dev/null || missing+=("mmdebstrap")
command -v umoci >/dev/null || missing+=("umoci")
grep -qw overlay /proc/filesystems 2>/dev/null || modprobe overlay 2>/dev/null || missing+=("overlayfs")
if [ "${#missing[@]}" -gt 0 ]; then
    say "missing ${missing[*]}: not building the image; the tests that run it will skip"
    exit 0
fi
py="$root/.venv/bin/python"
[ -x "$py" ] || py=python3

t0=$SECONDS
work="$(mktemp -d /tmp/spkrunbook-image.XXXXXX)"
cleanup() {
    mountpoint -q "$work/merged" 2>/dev/null && umount "$work/merged"
    rm -rf "$work"
}
trap cleanup EXIT

say "[1/3] the wheel"
SOURCE_DATE_EPOCH=315532800 "$py" -m build --wheel --outdir "$work/dist" "$root" >"$work/build.log" 2>&1 || {
    grep -qE "$net_errors" "$work/build.log" && offline "the build backend could not be downloaded"
    tail -20 "$work/build.log"; exit 1; }
wheel="$(ls "$work"/dist/spkrunbook-*.whl)"
wheelname="$(basename "$wheel")"
version="$(echo "$wheelname" | cut -d- -f2)"
# The dependency set, as the wheel declares it: what the base layer is made of.
deps="$("$py" - "$wheel" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    lines = z.read(meta).decode().split("\n\n", 1)[0].splitlines()
print("\n".join(sorted(l for l in lines if l.startswith(("Requires-Dist:", "Requires-Python:")))))
EOF
)"
script_sha="$(sha256sum "$0" | cut -c1-64)"
base_key="$( (printf '%s\n' "$deps" "extras: s3" "suite: $suite" "$script_sha") | sha256sum | cut -c1-16)"
key="$( (echo "$base_key"; sha256sum "$wheel" | cut -c1-64) | sha256sum | cut -c1-16)"
base="$cache/spkrunbook-image-base-$base_key"
out="$cache/spkrunbook-image-$key"
mkdir -p "$cache"
if [ -f "$out/image.json" ]; then
    say "up to date ($(( SECONDS - t0 ))s)"
    echo "image: $out"
    exit 0
fi

if [ -f "$base/base.json" ]; then
    say "[2/3] the base layer is cached: $base"
else
    say "[2/3] the base layer: a Debian $suite root (mmdebstrap), the dependencies by pip   $(( SECONDS - t0 ))s so far"
    rootfs="$work/rootfs"
    # pip inside the root trusts what this machine trusts while it downloads (a TLS-inspecting proxy's CA is in
    # the host's bundle, not in Debian's); the bundle is removed afterwards: the image keeps Debian's own.
    hostca="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
    cabase="/tmp/wheel/$(basename "$hostca")"
    # A clean environment inside (nothing of this machine's pip configuration), the bundle named every way pip reads it.
    ca_env="PIP_CERT=$cabase SSL_CERT_FILE=$cabase REQUESTS_CA_BUNDLE=$cabase"
    pip_env="env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root $ca_env"
    mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
        --customize-hook="mkdir -p \"\$1/tmp/wheel\"" \
        --customize-hook="copy-in $wheel /tmp/wheel" \
        --customize-hook="copy-in $hostca /tmp/wheel" \
        --customize-hook="chroot \"\$1\" python3 -m venv /opt/spkrunbook" \
        --customize-hook="chroot \"\$1\" $pip_env /opt/spkrunbook/bin/pip install --quiet --no-cache-dir --disable-pip-version-check \"/tmp/wheel/$wheelname[s3]\"" \
        --customize-hook="chroot \"\$1\" $pip_env /opt/spkrunbook/bin/pip uninstall --quiet --yes spkrunbook" \
        --customize-hook="chroot \"\$1\" /opt/spkrunbook/bin/python -m ipykernel install --sys-prefix --name python3" \
        --customize-hook="rm -rf \"\$1/tmp/wheel\" \"\$1\"/var/cache/apt/archives/*.deb \"\$1\"/var/lib/apt/lists/*" \
        "$suite" "$rootfs" >"$work/mmdebstrap.log" 2>&1 || {
            grep -qE "$net_errors" "$work/mmdebstrap.log" && offline "mmdebstrap or pip could not download"
            tail -30 "$work/mmdebstrap.log"; exit 1; }
    say "      the root is ready; assembling the base image (umoci)   $(( SECONDS - t0 ))s so far"
    oci="$work/base-oci"
    umoci init --layout "$oci"
    umoci new --image "$oci:base"
    umoci unpack --image "$oci:base" "$work/bundle" >/dev/null
    rmdir "$work/bundle/rootfs"
    mv "$rootfs" "$work/bundle/rootfs"
    umoci repack --image "$oci:base" "$work/bundle"
    umoci config --image "$oci:base" --config.user=1001:0 --config.workingdir=/tmp \
        --config.env="PATH=/opt/spkrunbook/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        --config.env=HOME=/tmp --config.env=MPLBACKEND=Agg --config.env=PYTHONDONTWRITEBYTECODE=1 \
        --config.cmd=spkrunbook --config.cmd=--help \
        --author="spkrunbook scripts/build_image.sh" --history.comment="Debian $suite root, spkrunbook's dependencies"
    umoci gc --layout "$oci"
    rm -rf "$base.tmp"
    mkdir -p "$base.tmp"
    mv "$oci" "$base.tmp/oci"
    mv "$work/bundle/rootfs" "$base.tmp/rootfs"   # the package layer's overlay lower: never written to
    printf '{"key": "%s", "suite": "%s", "seconds": %s}\n' "$base_key" "$suite" "$(( SECONDS - t0 ))" > "$base.tmp/base.json"
    printf '%s\n' "$deps" > "$base.tmp/requirements.txt"
    rm -rf "$base"
    mv "$base.tmp" "$base"
fi

say "[3/3] the package layer: spkrunbook $version (pip --no-deps into an overlay on the base root)   $(( SECONDS - t0 ))s so far"
oci="$work/oci"
mkdir -p "$oci" "$work/upper" "$work/ovl" "$work/merged"
cp "$base/oci/oci-layout" "$base/oci/index.json" "$oci/"
cp -al "$base/oci/blobs" "$oci/blobs"   # content-addressed and never rewritten: links, not copies
mount -t overlay overlay -o "lowerdir=$base/rootfs,upperdir=$work/upper,workdir=$work/ovl" "$work/merged"
cp "$wheel" "$work/merged/tmp/"
chroot "$work/merged" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root /opt/spkrunbook/bin/pip install --quiet \
    --no-deps --no-index --no-cache-dir --disable-pip-version-check "/tmp/$wheelname" >"$work/pip.log" 2>&1 || {
    cat "$work/pip.log"; exit 1; }
rm -f "$work/merged/tmp/$wheelname"
umount "$work/merged"
# pip installs new files only: anything outside /opt, or a removal (an overlay whiteout), would be lost or wrong.
stray="$(cd "$work/upper" && find . -mindepth 1 \( -path ./opt -o -path './opt/*' -o -path ./tmp \) -prune -o -print | head -5)"
whiteouts="$(find "$work/upper" -type c | head -5)"
if [ -n "$stray" ] || [ -n "$whiteouts" ]; then
    say "the package layer changed more than /opt: ${stray} ${whiteouts}"
    exit 1
fi
umoci insert --image "$oci:base" --tag "$version" --history.author="spkrunbook scripts/build_image.sh" \
    --history.comment="spkrunbook $version ($wheelname)" "$work/upper/opt" /opt
umoci rm --image "$oci:base"
umoci gc --layout "$oci"
"$py" - "$oci/index.json" "$version" <<'EOF'
import json, sys
path, tag = sys.argv[1], sys.argv[2]
index = json.load(open(path))
for m in index["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
        m["annotations"]["io.containerd.image.name"] = f"localhost/spkrunbook:{tag}"
json.dump(index, open(path, "w"))
EOF
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
mv "$oci" "$out.tmp/oci"
layers="$(du -b "$out.tmp"/oci/blobs/sha256/* | awk '{s+=$1} END {print s}')"
printf '{"name": "localhost/spkrunbook:%s", "tag": "%s", "version": "%s", "suite": "%s", "base": "%s", "bytes": %s, "seconds": %s}\n' \
    "$version" "$version" "$version" "$suite" "$base_key" "$layers" "$(( SECONDS - t0 ))" > "$out.tmp/image.json"
rm -rf "$out"
mv "$out.tmp" "$out"
say "done in $(( SECONDS - t0 ))s: $out (compressed $(( layers / 1048576 )) MB; base root $(du -sh "$base/rootfs" | cut -f1))"
echo "image: $out"
