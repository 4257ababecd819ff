"""The hyperscan requirement is asked for exactly where hyperscan publishes a wheel (checked with
`pip download --only-binary=:all: --platform …`, see docs/usage.md "Engines and platforms"):
elsewhere pip would try to compile its sdist and the install would fail, and where a wheel exists
users must not be left with the slower engine."""

from __future__ import annotations

import tomllib

import pytest
from packaging.requirements import Requirement

from tests.conftest import PROJECT


def hyperscan_requirement() -> Requirement:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    [requirement] = [Requirement(d) for d in project["dependencies"] if Requirement(d).name == "hyperscan"]
    return requirement


def environment(sys_platform: str, machine: str, implementation: str = "CPython") -> dict[str, str]:
    return {"sys_platform": sys_platform, "platform_machine": machine, "platform_python_implementation": implementation}


# (sys_platform, platform_machine as Python reports it there): a hyperscan wheel exists for CPython 3.11-3.14.
WITH_WHEEL = [
    ("linux", "x86_64"),     # manylinux2014 and musllinux_1_2
    ("linux", "aarch64"),    # manylinux_2_28 and musllinux_1_2 (Graviton, Ampere, Raspberry Pi 64-bit)
    ("darwin", "x86_64"),    # macosx_10_9 and later
    ("darwin", "arm64"),     # macosx_11_0 (Apple Silicon)
    ("win32", "AMD64"),      # win_amd64
]
WITHOUT_WHEEL = [
    ("linux", "armv7l"), ("linux", "i686"), ("linux", "ppc64le"), ("linux", "s390x"), ("linux", "riscv64"),
    ("win32", "ARM64"), ("win32", "x86"), ("freebsd14", "amd64"), ("freebsd14", "arm64"),
]


@pytest.mark.parametrize(("sys_platform", "machine"), WITH_WHEEL)
def test_hyperscan_is_required_where_it_has_a_wheel(sys_platform, machine):
    assert hyperscan_requirement().marker.evaluate(environment(sys_platform, machine))


@pytest.mark.parametrize(("sys_platform", "machine"), WITHOUT_WHEEL)
def test_hyperscan_is_not_required_where_it_has_none(sys_platform, machine):
    assert not hyperscan_requirement().marker.evaluate(environment(sys_platform, machine))


def test_hyperscan_is_not_required_on_pypy():
    """Its wheels are CPython-only (cp311-cp311 …): PyPy would compile the sdist."""
    assert not hyperscan_requirement().marker.evaluate(environment("linux", "x86_64", "PyPy"))
