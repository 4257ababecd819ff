"""Layers point down (docs/design.md): the face -> remediation/owners/verify -> scanner/providers/
revokers -> store -> the base (http, settings, context, records, files). An import that points up, or
a cycle among module-level imports, fails here with the module names."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "keysweep"

FACE, SERVICES, DOMAIN, STORE, BASE = 4, 3, 2, 1, 0
LAYER = {
    "cli": FACE, "commands": FACE, "launcher": FACE, "__main__": FACE, "demo": FACE, "output": FACE,
    # `--format gitlab`: a renderer of findings, like output.
    "gitlab_report": FACE,
    # `scan staged`'s table format as plain text (the pre-commit hook's report without rich): a renderer too.
    "plain": FACE,
    # The schemas of the outputs and of every configuration file: built from each loader's tables.
    "schemas": FACE,
    "remediation": SERVICES, "owners": SERVICES, "verify": SERVICES, "distributed": SERVICES,
    "scanner": DOMAIN, "providers": DOMAIN, "revokers": DOMAIN, "testing": DOMAIN,
    "store": STORE,
}
# The verification model, the declarative HTTP verifier and the reach model are what provider modules
# declare their checks and reach readers with; the runner above them is what owners and commands call.
MODULE_LAYER = {"keysweep.verify.model": DOMAIN, "keysweep.verify.http_verifier": DOMAIN,
                "keysweep.verify.reach": DOMAIN}

# Upward imports kept on purpose, each with its reason.
ALLOWED_UPWARD = {
    # Default endpoints and environment names are facts on each provider's record.
    ("keysweep.settings", "keysweep.providers"),
    # A [policy] table in keysweep.toml is checked at load by the policy's own parser.
    ("keysweep.settings", "keysweep.remediation.policy"),
    # A private key's redacted form keeps a tail only the PEM parser knows.
    ("keysweep.fingerprint", "keysweep.providers.private_key"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    if module in MODULE_LAYER:
        return MODULE_LAYER[module]
    parts = module.split(".")
    return LAYER.get(parts[1], BASE) if len(parts) > 1 else BASE


@functools.lru_cache(maxsize=None)
def _parsed(path: Path, text: str) -> tuple[ast.Module, set[int], tuple[ast.stmt, ...]]:
    """The module's tree, its TYPE_CHECKING lines and its import statements anywhere: parsed and
    walked once for both checks."""
    tree = ast.parse(text)
    skipped: set[int] = set()
    statements: list[ast.stmt] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(inner.lineno for inner in ast.walk(node) if hasattr(inner, "lineno"))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            statements.append(node)
    return tree, skipped, tuple(statements)


def imports(path: Path, *, top_level_only: bool) -> set[str]:
    """First-party modules `path` imports at run time (TYPE_CHECKING blocks are not run)."""
    tree, skipped, statements = _parsed(path, path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else statements
    found: set[str] = set()
    for node in nodes:
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("keysweep") and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if (PACKAGE.parent / node.module.replace(".", "/") / f"{alias.name}.py").exists())
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("keysweep"))
    return found


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def upward_imports() -> list[tuple[str, str]]:
    found = []
    for name, path in modules().items():
        for target in imports(path, top_level_only=False):
            if layer_of(target) > layer_of(name) and not any(
                    name == source and (target == allowed or target.startswith(allowed + "."))
                    for source, allowed in ALLOWED_UPWARD):
                found.append((name, target))
    return sorted(found)


def import_cycles() -> list[list[str]]:
    known = modules()
    graph = {name: {t for t in imports(path, top_level_only=True) if t in known and t != name}
             for name, path in known.items()}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def test_no_module_imports_a_layer_above_its_own():
    assert upward_imports() == []


def test_module_level_first_party_imports_have_no_cycle():
    # A package importing its own submodules (its registry) is not a cycle of layers.
    real = [c for c in import_cycles() if not all(m.startswith(c[0].rsplit(".", 1)[0]) for m in c)]
    assert real == []


def test_the_checks_catch_what_they_are_for(tmp_path):
    package = tmp_path / "keysweep"
    (package / "store").mkdir(parents=True)
    (package / "cli.py").write_text("import keysweep.store\n")
    (package / "store" / "__init__.py").write_text("from keysweep.cli import main\n")
    (package / "a.py").write_text("from keysweep import b\n")
    (package / "b.py").write_text("import keysweep.a\n")
    globals()["PACKAGE"], saved = package, PACKAGE
    try:
        assert ("keysweep.store", "keysweep.cli") in upward_imports()
        assert any({"keysweep.a", "keysweep.b"} <= set(cycle) for cycle in import_cycles())
    finally:
        globals()["PACKAGE"] = saved
