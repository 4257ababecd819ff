"""Revokers sit below the remediation layer: they never import `keysweep.remediation` (the secret
re-reader, owner notifications and job notes reach them through the context), and the interface
lives in `keysweep/revokers/base.py`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import keysweep.revokers

REVOKERS = Path(keysweep.revokers.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at top level or inside functions, absolute or relative."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the revokers package
                base = ".".join(["keysweep", "revokers"][: max(0, 2 - (node.level - 1))])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_no_revoker_module_imports_remediation():
    offenders = {path.name: sorted(name for name in imported_modules(path) if name.startswith("keysweep.remediation"))
                 for path in sorted(REVOKERS.glob("*.py"))}
    offenders = {name: modules for name, modules in offenders.items() if modules}
    assert offenders == {}, f"revokers import the remediation layer: {offenders}"


def test_the_grep_the_issue_names_prints_nothing():
    """`grep -rn "keysweep.remediation" keysweep/revokers` (docstrings included) prints nothing."""
    hits = [f"{path.name}:{number}" for path in sorted(REVOKERS.rglob("*.py"))
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if "keysweep.remediation" in line]
    assert hits == []


def test_the_checker_sees_an_upward_import(tmp_path):
    """The AST check finds an import hidden inside a function, and a relative one."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from keysweep.remediation.secrets import secret_for\n"
                      "from ..remediation import notify\n", encoding="utf-8")
    found = imported_modules(sample)
    assert "keysweep.remediation.secrets" in found and "keysweep.remediation" in found


def test_importing_every_revoker_loads_no_remediation_module():
    """Importing the built-in revokers does not pull the remediation package in."""
    code = ("import sys, pkgutil, importlib, keysweep.revokers as r\n"
            "for m in pkgutil.iter_modules(r.__path__):\n"
            "    importlib.import_module('keysweep.revokers.' + m.name)\n"
            "print(sorted(n for n in sys.modules if n.startswith('keysweep.remediation')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_the_interface_lives_in_base():
    from keysweep.revokers import Plan, PlannedCall, Revoker, RevokeResult, base

    assert (Plan, PlannedCall, RevokeResult, Revoker) == (base.Plan, base.PlannedCall, base.RevokeResult,
                                                          base.Revoker)
    for path in sorted(REVOKERS.glob("*.py")):
        if path.name in ("__init__.py", "base.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "keysweep.revokers":
                raise AssertionError(f"{path.name} imports the interface from the registry, not keysweep.revokers.base")
