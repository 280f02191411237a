#!/usr/bin/env python3
"""The Python side of benchmarks/gpu.sh.

    python benchmarks/gpu_run.py prepare          here: the reference vectors the GPU tests need -> .gpu-carry/
    python benchmarks/gpu_run.py versions --json F there: GPU, driver, CUDA and library versions
    python benchmarks/gpu_run.py summary ...       there: gpu-run.json and the closing table

``../shared/reference`` does not travel to the GPU machine (only the checkout does, 64 MiB in
all), so ``prepare`` copies what tests/gpu reads into the ignored folder ``.gpu-carry/``, which
the device call names in ``carry``: the tracker steps, their frames, and the three checkpoints
in deploy form (fused here in fp32 exactly as ``load_checkpoint`` fuses them: 1.5 MB smaller
each, bit-identical weights, checked).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CARRY = REPO / ".gpu-carry"
TRAVEL_LIMIT_MIB = 64  # what the device call sends: tracked + untracked-not-ignored + carried
OUT_LIMIT_FILES, OUT_LIMIT_MIB = 8, 16
OUT_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
VARIANTS = ("tiny", "small", "base")


# -- prepare (here) ---------------------------------------------------------------------------
def _reference_dir() -> Path:
    sys.path.insert(0, str(REPO))
    from tests.conftest import REFERENCE_DIR

    if not (REFERENCE_DIR / "track_tiny.json").is_file():
        sys.exit(f"no reference vectors in {REFERENCE_DIR} (set ASYMTRACK_REFERENCE_DIR)")
    return REFERENCE_DIR


def _deploy_checkpoint(source: Path, target: Path, variant: str) -> None:
    """Fuse on CPU in fp32, save {'net': ...}, and check that it loads back bit-identical."""
    import torch

    from asymtrack_deploy import build_model, load_checkpoint

    fused = load_checkpoint(build_model(variant), source).state_dict()
    torch.save({"net": fused}, target)
    again = load_checkpoint(build_model(variant), target).state_dict()
    if fused.keys() != again.keys() or any(not torch.equal(fused[k], again[k]) for k in fused):
        sys.exit(f"{target}: the deploy-form checkpoint does not load back bit-identical")


def _copy_reference(source: Path, stage: Path) -> None:
    (stage / "frames").mkdir(parents=True)
    frames = set()
    for variant in VARIANTS:
        track = source / f"track_{variant}.json"
        shutil.copyfile(track, stage / track.name)
        frames |= set(json.loads(track.read_text())["frames"])
        name = f"asymtrack_{variant}_random_seed0.pth.tar"
        _deploy_checkpoint(source / name, stage / name, variant)
    trained = source.parent / "reference-compact" / "trained" / "track_tiny.json"
    if trained.is_file():
        (stage / "trained").mkdir()
        shutil.copyfile(trained, stage / "trained" / "track_tiny.json")
        frames |= set(json.loads(trained.read_text())["frames"])
    for name in sorted(frames):
        shutil.copyfile(source / "frames" / name, stage / "frames" / name)


def _travel_mib() -> float:
    """Size of what the device call sends from this checkout (.gpu-carry included)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    files = {REPO / name.decode() for name in listed if name} | set(CARRY.rglob("*"))
    return sum(f.stat().st_size for f in files if f.is_file()) / 2**20


def prepare() -> None:
    source = _reference_dir()
    stage = REPO / ".gpu-carry.tmp"
    shutil.rmtree(stage, ignore_errors=True)
    _copy_reference(source, stage / "reference")
    (stage / "README.txt").write_text(
        "Made by `bash benchmarks/gpu.sh --prepare` from " + str(source) + ": what tests/gpu reads on the GPU\n"
        "machine (checkpoints in deploy form, bit-identical after load). Name `.gpu-carry` in the device call's carry.\n")
    shutil.rmtree(CARRY, ignore_errors=True)
    stage.rename(CARRY)
    size = _travel_mib()
    print(f"wrote {CARRY} ({sum(f.stat().st_size for f in CARRY.rglob('*') if f.is_file()) / 2**20:.1f} MiB); "
          f"the device call would send {size:.1f} MiB of {TRAVEL_LIMIT_MIB}")
    if size > TRAVEL_LIMIT_MIB - 2:
        sys.exit(f"too close to the {TRAVEL_LIMIT_MIB} MiB limit: remove or ignore untracked files first")


# -- versions (there) -------------------------------------------------------------------------
def _torch_facts() -> dict:
    import torch

    facts = {"version": torch.__version__, "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available()}
    if facts["cuda_available"]:
        props = torch.cuda.get_device_properties(0)
        facts.update(device=props.name, capability=f"{props.major}.{props.minor}", multiprocessors=props.multi_processor_count,
                     memory_mib=props.total_memory // 2**20, cudnn=torch.backends.cudnn.version())
    return facts


def _onnxruntime_facts() -> dict | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    return {"version": onnxruntime.__version__, "providers": onnxruntime.get_available_providers()}


def _package_versions() -> dict:
    from importlib import metadata

    found = {}
    for name in ("typer", "rich", "matplotlib", "pytest", "scikit-image", "onnx", "setuptools"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def versions(json_path: Path) -> None:
    import asymtrack_deploy
    from asymtrack_deploy.bench.timing import machine_info

    smi = shutil.which("nvidia-smi")
    if smi:
        print(subprocess.run([smi], capture_output=True, text=True, timeout=30).stdout)
    torch_facts = _torch_facts()
    facts = {
        "machine": machine_info(None, "cuda" if torch_facts["cuda_available"] else "cpu"),
        "torch": torch_facts, "onnxruntime": _onnxruntime_facts(), "packages": _package_versions(),
        "asymtrack_deploy": {"version": asymtrack_deploy.__version__, "path": str(Path(asymtrack_deploy.__file__).parent)},
    }
    json_path.write_text(json.dumps(facts, indent=1))
    print(json.dumps(facts, indent=1))


# -- summary (there) --------------------------------------------------------------------------
def _steps(tsv: Path) -> list[dict]:
    rows = [line.split("\t") for line in tsv.read_text().splitlines() if line]
    return [{"name": n, "rc": int(rc) if rc else "", "seconds": int(s), "note": note} for n, rc, s, note in rows]


def _tests(junit: Path) -> dict | None:
    """Counts, failures and skip reasons from pytest's JUnit XML."""
    if not junit.is_file():
        return None
    cases = ET.parse(junit).getroot().iter("testcase")
    result = {"passed": 0, "failed": 0, "skipped": 0, "failures": [], "skip_reasons": []}
    for case in cases:
        name = f"{case.get('classname')}::{case.get('name')}"
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skip = case.find("skipped")
        if bad is not None:
            result["failed"] += 1
            result["failures"].append({"name": name, "message": (bad.get("message") or "")[:300]})
        elif skip is not None:
            result["skipped"] += 1
            result["skip_reasons"] = sorted(set(result["skip_reasons"]) | {skip.get("message") or ""})
        else:
            result["passed"] += 1
    return result


def _out_problems(out: Path) -> list[str]:
    """What the device tool would not bring back from $OUT."""
    entries = list(out.iterdir())
    problems = [f"{e.name}: a folder (nothing below $OUT is expected)" for e in entries if e.is_dir()]
    files = [e for e in entries if e.is_file()]
    if len(files) > OUT_LIMIT_FILES:
        problems.append(f"{len(files)} files in $OUT, at most {OUT_LIMIT_FILES} come back")
    problems += [f"{f.name}: a name the tool does not return" for f in files if not OUT_NAME.match(f.name)]
    problems += [f"{f.name}: over {OUT_LIMIT_MIB} MiB" for f in files if f.stat().st_size > OUT_LIMIT_MIB * 2**20]
    return problems


def summary(args) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from gpu_report import RUN_KIND, closing_table

    files = {key: f.name for key, f in _bench_files(args.out).items()}
    versions_file = args.work / "versions.json"
    run = {
        "kind": RUN_KIND, "mode": args.mode, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": args.seconds, "budget": args.budget, "steps": _steps(args.work / "steps.tsv"),
        "tests": _tests(args.work / "pytest-gpu.xml"),
        "versions": json.loads(versions_file.read_text()) if versions_file.is_file() else None, "files": files,
    }
    (args.out / "gpu-run.json").write_text(json.dumps(run, indent=1))
    run["out_problems"] = _out_problems(args.out)
    print(closing_table(run, args.out))
    failed = any(s["rc"] not in (0, "") for s in run["steps"]) or not run["tests"] or run["tests"]["failed"]
    return 1 if failed or run["out_problems"] else 0


def _bench_files(out: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(out.glob("*.json")):
        if path.name == "profile.json":
            found["profile"] = path
        elif path.name.startswith("bench-"):
            found["bench_streams" if "-streams" in path.stem else "bench"] = path
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare")
    v = sub.add_parser("versions")
    v.add_argument("--json", type=Path, required=True)
    s = sub.add_parser("summary")
    s.add_argument("--mode", choices=("gpu", "dry"), required=True)
    s.add_argument("--work", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--budget", type=int, required=True)
    s.add_argument("--seconds", type=int, required=True)
    args = parser.parse_args()
    if args.command == "prepare":
        prepare()
    elif args.command == "versions":
        versions(args.json)
    else:
        return summary(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
