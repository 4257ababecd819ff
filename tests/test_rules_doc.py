"""docs/rules.md's provider table is generated from the rule files; a stale table fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_rule_table_is_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_rules_doc.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + "\nrun: python scripts/gen_rules_doc.py"


def test_every_rule_is_in_the_table():
    from keysweep.scanner.rules import load_rules

    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    missing = [rule.id for rule in load_rules() if f"`{rule.id}`" not in text]
    assert not missing
