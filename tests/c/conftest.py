"""The C library built once per test session with CMake, and the bundles the C tests share.

The build goes into the session's temporary folder; without cmake, a C compiler or the openvino
package the C tests skip, saying which is missing.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import reference_checkpoint

SOURCE = Path(__file__).resolve().parents[2] / "runtime-c"
DEMO_WEIGHTS = Path(__file__).resolve().parents[2] / "asymtrack_deploy" / "data" / "weights" / "asymtrack_tiny_demo.pth"


@dataclass(frozen=True)
class CBuild:
    folder: Path

    @property
    def library(self) -> Path:
        return self.folder / "libasymtrack.so"

    @property
    def testkit(self) -> Path:
        return self.folder / "libasymtrack_testkit.so"

    @property
    def track(self) -> Path:
        return self.folder / "asymtrack-track"

    @property
    def example(self) -> Path:
        return self.folder / "asymtrack_example_cpp"

    @property
    def core_tests(self) -> Path:
        return self.folder / "asymtrack_core_tests"


def require_toolchain() -> None:
    missing = [tool for tool in ("cmake",) if shutil.which(tool) is None]
    if not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")):
        missing.append("a C compiler (cc, gcc or clang)")
    if missing:
        pytest.skip(f"the C tests need {' and '.join(missing)}; install them to build runtime-c/")


def cmake_build(folder: Path, *options: str) -> CBuild:
    """Configure and build runtime-c/ into ``folder``; a failure shows CMake's output."""
    require_toolchain()
    for command in (["cmake", "-S", str(SOURCE), "-B", str(folder), *options],
                    ["cmake", "--build", str(folder), "-j2"]):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return CBuild(folder)


def openvino_cmake_dir() -> str:
    openvino = pytest.importorskip("openvino", reason="the C library builds against the openvino wheel")
    return str(Path(openvino.__file__).parent / "cmake")


@pytest.fixture(scope="session")
def c_build(tmp_path_factory) -> CBuild:
    """runtime-c/ built in Release with OpenVINO: the library, asymtrack-track, the C++ example."""
    return cmake_build(tmp_path_factory.mktemp("runtime-c-build"), f"-DOpenVINO_DIR={openvino_cmake_dir()}")


def _export(tmp_path_factory, name: str, **weights) -> Path:
    path = tmp_path_factory.getbasetemp() / name
    if not (path / "manifest.json").is_file():
        from asymtrack_deploy.export import export_bundle

        export_bundle("openvino", variant="tiny", out_dir=path, precision="fp32", force=True, **weights)
    return path


@pytest.fixture(scope="session")
def demo_bundle(tmp_path_factory) -> Path:
    """The shipped demo weights (trained: small errors would grow) as an OpenVINO fp32 bundle."""
    return _export(tmp_path_factory, "c_demo_openvino_fp32", checkpoint=DEMO_WEIGHTS)


@pytest.fixture(scope="session")
def random_bundle(tmp_path_factory) -> Path:
    return _export(tmp_path_factory, "c_random_openvino_fp32", checkpoint=None, random_weights=True, seed=3)


@pytest.fixture(scope="session")
def reference_bundle(tmp_path_factory) -> Path:
    """The official-format reference checkpoint at fp32 (shared with the OpenVINO export tests)."""
    from tests.export.derived_bundles import shared_derived_bundle

    reference_checkpoint("tiny")
    return shared_derived_bundle(tmp_path_factory, "openvino", "fp32")
