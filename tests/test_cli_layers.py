"""The CLI is a thin face (docs/design.md "Where things live"): command modules parse, call one
library function and render. They share public helpers, never the CLI's private ones."""

from __future__ import annotations

import ast
from pathlib import Path

import keysweep

PACKAGE = Path(keysweep.__file__).parent
COMMAND_MODULES = sorted((PACKAGE / "commands").glob("*.py"))


def _private_names_from_cli(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [f"{path.name}:{node.lineno} {alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "keysweep.cli"
            for alias in node.names if alias.name.startswith("_")]


def test_the_check_sees_a_private_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from keysweep.cli import fail, _emit\n")
    assert _private_names_from_cli(sample) == ["sample.py:2 _emit"]


def test_no_command_module_imports_a_private_name_from_the_cli():
    assert COMMAND_MODULES, "keysweep/commands/ not found"
    offenders = [hit for path in COMMAND_MODULES for hit in _private_names_from_cli(path)]
    assert offenders == []
