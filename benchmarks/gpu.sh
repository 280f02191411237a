#!/usr/bin/env bash
# All the GPU work of issue 16 in one call on the lent GPU machine: install over the machine's
# torch, print the GPU and library versions, run the tests marked `gpu`, `bench --device cuda`
# (1 stream, then 32), a short profile, and write what comes back to $OUT (7 files: the device
# tool returns at most 8, none in sub-folders). Nothing is fetched: the machine has no network.
#
#   bash benchmarks/gpu.sh --prepare   here, once before the call: reference vectors -> .gpu-carry/
#   bash benchmarks/gpu.sh             on the GPU machine (carry .gpu-carry), writes to $OUT
#   bash benchmarks/gpu.sh --dry-run   here, on CPU: the same steps, small counts (or DRY_RUN=1)
#
# Every step has its own time limit and the whole run a budget (GPU_BUDGET_S, default 300 s),
# so a hung step costs its limit, not the call; a failed step is recorded and the next runs.
# The dry run gives each step 4 times as long and a 1200 s budget: a shared 2-core CPU is slow.
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 2
REPO=$(pwd)
MODE=gpu
case "${1:-}" in
  --prepare) exec "${PYTHON:-python3}" benchmarks/gpu_run.py prepare ;;
  --dry-run) MODE=dry ;;
  "") [ "${DRY_RUN:-0}" = 1 ] && MODE=dry ;;
  *) echo "usage: bash benchmarks/gpu.sh [--prepare | --dry-run]" >&2; exit 2 ;;
esac

PY=${PYTHON:-python3}
START=$(date +%s)
if [ "$MODE" = dry ]; then
  DEVICE=cpu FRAMES=5 WARMUP=1 STREAMS=4 STREAM_FRAMES=3 SCALE=4 BUDGET=${GPU_BUDGET_S:-1200}
  [ -z "${OUT:-}" ] && OUT=$REPO/out/gpu-dry-run && rm -rf "$OUT"  # our own folder: start it empty
else
  DEVICE=cuda FRAMES=300 WARMUP=30 STREAMS=32 STREAM_FRAMES=100 SCALE=1 BUDGET=${GPU_BUDGET_S:-300}
  OUT=${OUT:?OUT must name the folder that comes back}
fi
mkdir -p "$OUT"
if [ -n "$(ls -A "$OUT")" ]; then echo "$OUT is not empty: the run writes up to 7 files there" >&2; exit 2; fi
WORK=$(mktemp -d)  # logs of each step, junit XML, bench cache: not returned as separate files
LOG=$OUT/gpu-run.log
export PYTHONUNBUFFERED=1 COLUMNS=160 PIP_DISABLE_PIP_VERSION_CHECK=1 XDG_CACHE_HOME=$WORK/cache MPLBACKEND=Agg
[ -d "$REPO/.gpu-carry/reference" ] && export ASYMTRACK_REFERENCE_DIR=$REPO/.gpu-carry/reference
: >"$WORK/steps.tsv"

say() { echo "== $*" | tee -a "$LOG"; }

# step NAME LIMIT_S COMMAND...: run with the smaller of LIMIT_S and what the budget has left
step() {
  local name=$1 limit=$(($2 * SCALE)) left rc t0
  shift 2
  left=$((BUDGET - ($(date +%s) - START) - 15))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 10 ]; then
    say "$name: not run, the ${BUDGET} s budget is spent"
    printf '%s\t%s\t%s\t%s\n' "$name" "" 0 "not run: budget spent" >>"$WORK/steps.tsv"
    return
  fi
  say "$name (limit ${limit} s): $*"
  t0=$(date +%s)
  timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  local note=""
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && note="timed out after ${limit} s"
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(($(date +%s) - t0))" "$note" >>"$WORK/steps.tsv"
  say "$name: exit $rc after $(($(date +%s) - t0)) s $note"
}

# On the GPU, ONNX Runtime too where it imports: bench runs its rows on the CUDA provider, or
# records why not (the image's onnxruntime is a CPU build). The dry run keeps to torch.
BACKENDS=torch
[ "$MODE" = gpu ] && "$PY" -c "import onnxruntime" 2>/dev/null && BACKENDS=torch,onnxruntime
BENCH=("$PY" -m asymtrack_deploy.cli.main bench --device "$DEVICE" --backends "$BACKENDS" --precisions fp32,fp16)
ONE=bench-$DEVICE MANY=bench-$DEVICE-streams$STREAMS

say "asymtrack-deploy GPU run ($MODE) from $REPO, $(date -u +%FT%TZ), budget ${BUDGET} s, out $OUT"
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}  # the tree runs even if the editable install fails
if [ "$MODE" = gpu ]; then  # over the image's torch and packages; the tree on PYTHONPATH if it fails
  step install 60 "$PY" -m pip install --no-deps --no-build-isolation --no-index -q -e .
else  # the same offline build, into a scratch folder: this environment stays as it is
  step install 60 "$PY" -m pip install --no-deps --no-build-isolation --no-index -q --target "$WORK/site" .
fi
step versions 40 "$PY" benchmarks/gpu_run.py versions --json "$WORK/versions.json"
step tests 150 "$PY" -m pytest -q -m gpu tests/gpu -rs -p no:cacheprovider --junitxml "$WORK/pytest-gpu.xml"
step bench 120 "${BENCH[@]}" --frames "$FRAMES" --warmup "$WARMUP" --json "$OUT/$ONE.json" --plot "$OUT/$ONE.png"
step bench_streams 120 "${BENCH[@]}" --streams "$STREAMS" --frames "$STREAM_FRAMES" --warmup 2 \
  --json "$OUT/$MANY.json" --plot "$OUT/$MANY.png"
step profile 45 "$PY" benchmarks/gpu_profile.py --device "$DEVICE" --streams "$STREAMS" --json "$OUT/profile.json"
"$PY" benchmarks/gpu_run.py summary --mode "$MODE" --work "$WORK" --out "$OUT" --budget "$BUDGET" \
  --seconds "$(($(date +%s) - START))" 2>&1 | tee -a "$LOG"
status=${PIPESTATUS[0]}
rm -rf "$WORK"
exit "$status"
