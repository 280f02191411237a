#!/usr/bin/env bash
# aarch64 parity by emulation: the bundles exported here (x86) give x86's graph outputs, crops and
# boxes on an aarch64 CPU, from Python (ONNX Runtime, OpenVINO) and from the C tracker.
#
# 1. An arm64 Debian root (debootstrap bookworm minbase + python3) with a venv holding the
#    aarch64 wheels of numpy, opencv-python-headless, onnxruntime and openvino (the same releases
#    as this machine's; no torch). Built once (~15 min), cached as a .tar.zst under
#    ~/.cache/asymtrack-deploy/arm64/ and restored in seconds on later runs.
# 2. On x86: export the bundles (tiny, demo weights), record crops, graph outputs and boxes.
# 3. Under qemu-aarch64 (QEMU_CPU=cortex-a76; an aarch64 /proc/cpuinfo bind-mounted in a private
#    mount namespace, because onnxruntime crashes reading the host's): the Python check, and the C
#    tracker cross-built with gcc-aarch64-linux-gnu against the aarch64 openvino wheel.
# One line per bundle, a summary; exit 1 on any miss, 2 when the set-up fails.
#
# Usage: bash ci/arm64-parity.sh [--frames N] [--bundles NAME,...] [--setup-only]
# Needs root (debootstrap, chroot, mounts) and network on the first run (Debian, PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
frames=12
bundles=""
setup_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames="$2"; shift 2 ;;
    --bundles) bundles="$2"; shift 2 ;;
    --setup-only) setup_only=1; shift ;;
    *) echo "arm64-parity: unknown argument $1 (expected --frames N, --bundles NAME,... or --setup-only)" >&2; exit 2 ;;
  esac
done

cache="${ASYMTRACK_CACHE:-$HOME/.cache/asymtrack-deploy}/arm64"
mkdir -p "$cache"
log() { echo "[arm64-parity $(date -u +%H:%M:%S)] $*" >&2; }
die() { echo "arm64-parity: $*" >&2; exit 2; }

# ---- host tools -------------------------------------------------------------------------------
need_pkgs=()
command -v qemu-aarch64-static >/dev/null || need_pkgs+=(qemu-user-static)
command -v update-binfmts >/dev/null || need_pkgs+=(binfmt-support)
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
command -v aarch64-linux-gnu-gcc >/dev/null || need_pkgs+=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu)
command -v zstd >/dev/null || need_pkgs+=(zstd)
command -v cmake >/dev/null || need_pkgs+=(cmake)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null) \
    || die "could not install ${need_pkgs[*]} (needs root and Debian's apt)"
fi
# aarch64 binaries run through binfmt_misc; flag F (fix binary) lets them run inside a chroot
# that has no qemu of its own.
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
    || die "cannot mount binfmt_misc (needs root)"
  update-binfmts --enable qemu-aarch64 || die "cannot register qemu-aarch64 with binfmt_misc"
fi
grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || die "qemu-aarch64 binfmt entry is disabled"
# The Raspberry Pi 5's core: qemu's default model ("max") emulates about 17 times slower.
export QEMU_CPU=cortex-a76

# ---- the emulated root, cached ----------------------------------------------------------------
# The venv holds the same releases as this machine so that a difference is an architecture's,
# not a version's. The project itself is not installed: its source is bind-mounted at run time.
py="${PYTHON:-python3}"
pyver() { "$py" -c "import importlib.metadata as m; print(m.version('$1'))"; }
wheels=(
  "numpy==$(pyver numpy)"
  "opencv-python-headless==$(pyver opencv-python-headless)"
  "onnxruntime==$(pyver onnxruntime)"
  "openvino==$(pyver openvino)"
  "typer==$(pyver typer)"
  "rich==$(pyver rich)"
)
setup_version=2   # bump when the set-up below changes
key="$(printf '%s\n' "$setup_version" "${wheels[@]}" | sha256sum | cut -c1-12)"
archive="$cache/root-bookworm-$key.tar.zst"

build_root() {
  local stage="$cache/build-$key" logfile="$cache/build-$key.log"
  rm -rf "$stage" && mkdir -p "$stage"
  log "debootstrap arm64 bookworm minbase + python3 (10-30 minutes under emulation; log $logfile)"
  debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv \
    bookworm "$stage/root" http://deb.debian.org/debian >"$logfile" 2>&1 \
    || { tail -20 "$logfile" >&2; die "debootstrap failed (log $logfile)"; }
  log "creating the venv under emulation"
  chroot "$stage/root" /usr/bin/python3 -m venv --without-pip /opt/venv >>"$logfile" 2>&1 \
    || { tail -20 "$logfile" >&2; die "python3 -m venv failed inside the arm64 root"; }
  # Installing a wheel is unpacking it: the host's pip does it for the aarch64 platform at native
  # speed (pip under emulation takes minutes).
  log "installing the aarch64 wheels: ${wheels[*]}"
  local platforms=() glibc
  for glibc in $(seq 17 36); do platforms+=(--platform "manylinux_2_${glibc}_aarch64"); done  # bookworm: glibc 2.36
  "$py" -m pip install --quiet --only-binary=:all: --platform manylinux2014_aarch64 "${platforms[@]}" \
    --python-version 3.11 --implementation cp --abi cp311 --no-compile \
    --target "$stage/root/opt/venv/lib/python3.11/site-packages" "${wheels[@]}" >>"$logfile" 2>&1 \
    || { tail -20 "$logfile" >&2; die "installing the aarch64 wheels failed (log $logfile)"; }
  chroot "$stage/root" /opt/venv/bin/python -c "import numpy, cv2" >>"$logfile" 2>&1 \
    || { tail -20 "$logfile" >&2; die "the aarch64 venv does not import its packages (log $logfile)"; }
  rm -rf "$stage/root/var/cache/apt/archives/"*.deb
  log "packing $archive"
  tar -C "$stage/root" -cf - . | zstd -q -T2 -6 -o "$archive.tmp" && mv "$archive.tmp" "$archive"
  rm -rf "$stage"
  # Older set-ups of this script are of no further use.
  find "$cache" -maxdepth 1 -name 'root-bookworm-*.tar.zst' ! -name "$(basename "$archive")" -delete
}

t0=$SECONDS
if [ -f "$archive" ]; then
  log "using the cached arm64 root $archive"
else
  build_root
fi
log "arm64 root ready in $((SECONDS - t0)) s"
[ "$setup_only" = 1 ] && exit 0

# ---- a fresh copy of the root for this run ------------------------------------------------------
run="$(mktemp -d "$cache/run.XXXXXX")"
root="$run/root"
cleanup() {
  # The mounts live in a private mount namespace (unshare -m) and are gone once it exits, so
  # nothing of the host is reachable through $root when it is removed.
  rm -rf "$run"
}
trap cleanup EXIT
mkdir -p "$root"
zstd -q -d -c "$archive" | tar -C "$root" -xf -
log "arm64 root restored in $((SECONDS - t0)) s"
work="$root/work"
mkdir -p "$work"
site="$root/opt/venv/lib/python3.11/site-packages"

# ---- the C library, for x86 and cross-built for aarch64 --------------------------------------------
t1=$SECONDS
x86_openvino="$("$py" -c "import openvino, pathlib; print(pathlib.Path(openvino.__file__).parent / 'cmake')")"
cmake -S runtime-c -B "$run/c-x86" -DOpenVINO_DIR="$x86_openvino" >"$run/c-x86.log" 2>&1 \
  && cmake --build "$run/c-x86" -j2 --target asymtrack >>"$run/c-x86.log" 2>&1 \
  || { tail -20 "$run/c-x86.log" >&2; die "the x86 C library did not build"; }
cmake -S runtime-c -B "$work/c-arm64" -DCMAKE_TOOLCHAIN_FILE="$repo/runtime-c/cmake/aarch64-linux-gnu.cmake" \
  -DOpenVINO_DIR="$site/openvino/cmake" >"$run/c-arm64.log" 2>&1 \
  && cmake --build "$work/c-arm64" -j2 --target asymtrack >>"$run/c-arm64.log" 2>&1 \
  || { tail -20 "$run/c-arm64.log" >&2; die "the aarch64 C library did not cross-build"; }
if command -v file >/dev/null && ! file -L "$work/c-arm64/libasymtrack.so" | grep -q aarch64; then
  die "the cross-built library is not an aarch64 binary"
fi
c_args_x86=(--c-library "$run/c-x86/libasymtrack.so")
c_args_arm=(--c-library /work/c-arm64/libasymtrack.so)
log "C library built for x86 and aarch64 in $((SECONDS - t1)) s"

# ---- x86: bundles and what x86 computes with them ------------------------------------------------
t1=$SECONDS
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$py" ci/arm64_parity.py record "$work" --frames "$frames" \
  ${bundles:+--bundles "$bundles"} "${c_args_x86[@]}" >&2 \
  || die "recording the x86 side failed"
log "x86 side recorded in $((SECONDS - t1)) s"

# ---- aarch64, emulated ------------------------------------------------------------------------------
t1=$SECONDS
mkdir -p "$root/repo"
set +e
unshare -m --propagation private bash -euc '
  root="$1"; repo="$2"; cpuinfo="$3"; shift 3
  mount -t proc proc "$root/proc"
  mount --bind "$cpuinfo" "$root/proc/cpuinfo"        # onnxruntime crashes on the host'"'"'s x86 cpuinfo
  mount --bind /dev "$root/dev"
  mount --bind /sys "$root/sys"                       # the CPU lists onnxruntime reads
  mount --bind "$repo" "$root/repo" && mount -o remount,bind,ro "$root/repo"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin QEMU_CPU=cortex-a76 \
    PYTHONPATH=/repo PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS=1 \
    LD_LIBRARY_PATH=/opt/venv/lib/python3.11/site-packages/openvino/libs \
    /opt/venv/bin/python /repo/ci/arm64_parity.py check /work "$@"
' arm64-parity "$root" "$repo" "$repo/ci/aarch64-cpuinfo.txt" "${c_args_arm[@]}"
status=$?
set -e
log "aarch64 side checked in $((SECONDS - t1)) s; whole run $((SECONDS - t0)) s"
exit "$status"
