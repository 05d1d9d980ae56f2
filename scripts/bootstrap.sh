#!/usr/bin/env bash
# Install what spkrunbook needs, idempotently: Debian packages (as root, only when
# missing), a virtual env in .venv with the package and its test extras, and the
# python3 Jupyter kernel inside that env.
#   scripts/bootstrap.sh          runtime only (the demo)
#   scripts/bootstrap.sh test     plus what the tests use (tcpdump, tshark, chromium, tesseract OCR, OVN tools,
#                                 and the data plane tier's containerd, runc, CNI plugins and image sources)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

apt_pkgs=()
want() { command -v "$1" >/dev/null 2>&1 || apt_pkgs+=("$2"); }
if [ "$mode" = "test" ]; then
    want tcpdump tcpdump
    want tshark tshark
    want ip iproute2
    want openssl openssl          # the data plane's kubelet certificates; the signed-chart tests
    want ping iputils-ping
    want chromium chromium
    want ovsdb-tool openvswitch-common
    want ovn-nbctl ovn-central
    # the dataplane tier: a real node (containerd + runc + the CNI plugins), images built from busybox-static
    want containerd containerd
    want runc runc
    [ -x /usr/lib/cni/macvlan ] || apt_pkgs+=(containernetworking-plugins)
    dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q "ok installed" || apt_pkgs+=(busybox-static)
    want gcc gcc
    [ -f /usr/include/stdio.h ] || apt_pkgs+=(libc6-dev)
    want mmdebstrap mmdebstrap   # the fleet's runtime image, built offline (scripts/build_image.sh)
    want umoci umoci
    want tesseract tesseract-ocr
fi
if [ "${#apt_pkgs[@]}" -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "bootstrap: installing Debian packages: ${apt_pkgs[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null \
            || echo "bootstrap: could not install ${apt_pkgs[*]}; tests that need them will skip with a reason"
    else
        echo "bootstrap: missing ${apt_pkgs[*]} (not root: install them with apt); tests that need them will skip"
    fi
fi

py="${PYTHON:-python3}"
stamp=".venv/.installed-$mode"
if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv"
    "$py" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "bootstrap: installing Python packages into .venv"
    extras=""
    [ "$mode" = "test" ] && extras="[test]"
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras" 2>&1 | grep -v "^WARNING: Location" || true
    .venv/bin/python -c "import spkrunbook, papermill, kubernetes" >/dev/null
    .venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
    touch "$stamp"
fi
# The real Kubernetes parts of the apiserver and dataplane test tiers, the data plane's images, the
# S3 server of the object-store tests and the fleet's runtime image that the data plane runs as pods
# (cached outside the checkout; seconds when warm: the image's dependency layer is rebuilt only when the
# dependencies change, its package layer when the package does).
# The image is mostly downloads (Debian's and PyPI's packages): it is built beside the CPU-bound Go builds, its
# output shown when they are done.
if [ "$mode" = "test" ]; then
    image_log="$(mktemp)"
    scripts/build_image.sh >"$image_log" 2>&1 &
    image_pid=$!
    built=0
    scripts/build_k8s.sh && .venv/bin/python scripts/build_dataplane_images.py && scripts/build_seaweedfs.sh || built=$?
    image=0
    wait "$image_pid" || image=$?
    cat "$image_log"
    rm -f "$image_log"
    [ "$built" -eq 0 ] || exit "$built"
    [ "$image" -eq 0 ] || { echo "bootstrap: scripts/build_image.sh failed (exit $image)"; exit "$image"; }
fi
