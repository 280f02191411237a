"""The CPU's name and ISA features as bench and info print them, from fake /proc/cpuinfo texts."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from asymtrack_deploy.bench import host
from asymtrack_deploy.bench.display import machine_line

# A Raspberry Pi 5 (Cortex-A76) and a Graviton3 (Neoverse-V1) as their kernels print them.
RASPBERRY_PI_5 = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x4
CPU part\t: 0xd0b
CPU revision\t: 1

processor\t: 1
CPU implementer\t: 0x41
CPU part\t: 0xd0b
"""
GRAVITON_3 = """processor\t: 0
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop \
sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs paca pacg dcpodp svei8mm svebf16 i8mm bf16 dgh rng
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x1
CPU part\t: 0xd40
CPU revision\t: 1
"""


def test_arm_cores_are_named_by_implementer_and_part():
    assert host.cpu_model(RASPBERRY_PI_5) == "Arm Cortex-A76 (ARMv8)"
    assert host.cpu_model(GRAVITON_3) == "Arm Neoverse-V1 (ARMv8)"
    unknown = RASPBERRY_PI_5.replace("0xd0b", "0xfff").replace("0x41", "0x99")
    assert host.cpu_model(unknown) == "implementer 0x99 part 0xfff (ARMv8)"


def test_arm_isa_features_name_neon_fp16_dotprod_i8mm_sve():
    assert host.isa_features(RASPBERRY_PI_5) == ["NEON", "NEON-FP16", "NEON-DOTPROD"]
    assert host.isa_features(GRAVITON_3) == ["NEON", "NEON-FP16", "NEON-DOTPROD", "I8MM", "BF16", "SVE"]


def test_x86_keeps_its_model_name():
    text = "processor : 0\nmodel name : Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz\nflags : fpu sse2 avx2\n"
    assert host.cpu_model(text) == "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz"


def test_bench_and_info_print_the_arm_core_and_features(monkeypatch):
    monkeypatch.setattr(host, "_cpuinfo", lambda text: RASPBERRY_PI_5 if text is None else text)
    from asymtrack_deploy.bench.timing import machine_info

    line = machine_line(machine_info())
    assert "Arm Cortex-A76 (ARMv8)" in line and "ISA: NEON, NEON-FP16, NEON-DOTPROD" in line
    from asymtrack_deploy.cli.main import app

    result = CliRunner().invoke(app, ["info", "--variant", "tiny", "--json"])
    assert result.exit_code == 0, result.output
    machine = json.loads(result.output)["machine"]
    assert machine == {"cpu": "Arm Cortex-A76 (ARMv8)", "isa": ["NEON", "NEON-FP16", "NEON-DOTPROD"]}
