"""The CLI is a thin face (docs/design.md "Where things live"): command modules parse, call one
library function and render. They share public helpers, never the CLI's private ones."""

from __future__ import annotations

import ast
import re
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


# SQL as this codebase writes it (keywords in capitals, so help text that says "select … from" is not
# SQL): a statement keyword and the clause that makes it a statement. SQL in lower case still needs a
# `.execute(` to run, which the check also refuses.
SQL = re.compile(r"\b(SELECT\b.*\bFROM|INSERT\s+(OR\s+[A-Z]+\s+)?INTO|UPDATE\b.*\bSET|DELETE\s+FROM)\b", re.DOTALL)
EXECUTE_METHODS = {"execute", "executemany", "executescript"}


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal (adjacent literals joined, as Python joins them; an f-string's literal parts
    joined around its placeholders)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            found.append((node.lineno, " ".join(part.value for part in node.values
                                                if isinstance(part, ast.Constant) and isinstance(part.value, str))))
    return found


def _sql_in(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    hits = [f"{path.name}:{line} SQL in a string: {text[:60]!r}" for line, text in _strings(tree) if SQL.search(text)]
    hits += [f"{path.name}:{node.lineno} .{node.func.attr}(…)" for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and node.func.attr in EXECUTE_METHODS]
    return hits


def test_the_sql_check_sees_raw_sql(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f(store, run):\n"
        "    rows = store.conn.execute(\n"
        "        \"SELECT f.provider, f.key_id FROM revocations r \"\n"
        "        \"WHERE r.state != 'failed_permanent'\")\n"
        "    store.db.execute(f\"update findings set status = ? where id = {run}\")\n"
        "    return 'INSERT OR IGNORE INTO events VALUES (?)', \"DELETE  FROM scanned\"\n"
        "HELP = 'Select credentials from a store; revoke them; update nothing.'\n")
    assert sorted(hit.split(" ", 1)[0] + " " + hit.split(" ")[1][:4] for hit in _sql_in(sample)) == [
        "sample.py:2 .exe", "sample.py:3 SQL", "sample.py:5 .exe", "sample.py:6 SQL", "sample.py:6 SQL"]


def test_no_raw_sql_in_the_command_modules():
    """Commands ask the store (keysweep/store Store methods) or a library function; SQL lives there."""
    assert COMMAND_MODULES, "keysweep/commands/ not found"
    assert [hit for path in COMMAND_MODULES for hit in _sql_in(path)] == []
