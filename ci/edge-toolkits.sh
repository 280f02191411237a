#!/usr/bin/env bash
# The edge converters' own virtual environments, made once under the toolkits home
# (ASYMTRACK_TOOLKITS_HOME, default ~/.cache/asymtrack-deploy/toolkits), where the exporters
# look for them: litert-torch (pins a torch and pulls JAX and TensorFlow's converter) and
# RKNN-Toolkit2 (pins torch <= 2.4, numpy 1.26, onnx 1.18: installed without its pins, beside
# the CPU torch 2.13). Neither can live in the project's environment. An environment that
# already imports its toolkit is left as it is; one that fails to install is reported and the
# tests that need it skip, saying so (this script never fails CI by itself).
#
# Usage: bash ci/edge-toolkits.sh [litert-torch] [rknn]     (both when none is named)
set -uo pipefail
home="${ASYMTRACK_TOOLKITS_HOME:-$HOME/.cache/asymtrack-deploy/toolkits}"
py="${PYTHON:-python3}"
mkdir -p "$home"
log() { echo "[edge-toolkits $(date -u +%H:%M:%S)] $*" >&2; }

install_toolkit() {  # NAME MODULE PIP-ARGS... (then, after "--", the --no-deps ones)
  local name="$1" module="$2"; shift 2
  local venv="$home/$name" logfile="$home/$name.install.log" deps=() nodeps=() seen=0
  for arg in "$@"; do
    if [ "$arg" = "--" ]; then seen=1; elif [ "$seen" = 0 ]; then deps+=("$arg"); else nodeps+=("$arg"); fi
  done
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import $module" >/dev/null 2>&1; then
    log "$name: ready in $venv"
    return 0
  fi
  log "$name: installing into $venv (log $logfile)"
  local started=$SECONDS
  rm -rf "$venv"
  if "$py" -m venv "$venv" >"$logfile" 2>&1 \
     && "$venv/bin/pip" install --quiet "${deps[@]}" >>"$logfile" 2>&1 \
     && { [ ${#nodeps[@]} = 0 ] || "$venv/bin/pip" install --quiet --no-deps "${nodeps[@]}" >>"$logfile" 2>&1; } \
     && "$venv/bin/python" -c "import $module" >>"$logfile" 2>&1; then
    log "$name: installed in $((SECONDS - started)) s"
  else
    tail -5 "$logfile" >&2
    rm -rf "$venv"  # never a half-installed environment where the exporters look
    log "$name: not installed (the tests that need it will skip)"
  fi
}

wanted=("$@")
[ ${#wanted[@]} = 0 ] && wanted=(litert-torch rknn)
for toolkit in "${wanted[@]}"; do
  case "$toolkit" in
    litert-torch) install_toolkit litert-torch litert_torch torch==2.13.0 litert-torch==0.10.0 ;;
    rknn) install_toolkit rknn rknn.api numpy==1.26.4 protobuf==4.25.4 onnx==1.18.0 'onnxruntime<1.23' scipy \
            ruamel.yaml psutil tqdm opencv-python-headless fast-histogram torch==2.13.0 \
            -- 'setuptools<70' rknn-toolkit2==2.5.0 ;;  # setuptools as in the verified environment (69.5.1); pip's resolver refuses it beside torch 2.13's own requirement, hence --no-deps
    *) echo "edge-toolkits: unknown toolkit $toolkit (expected litert-torch or rknn)" >&2; exit 2 ;;
  esac
done
exit 0
