#!/usr/bin/env python3
"""Regenerate the provider table of docs/rules.md from the shipped rule files.

    python scripts/gen_rules_doc.py          # rewrite the table in place
    python scripts/gen_rules_doc.py --check  # exit 1 if the table is stale (the test suite runs this)

Only the text between the BEGIN/END GENERATED markers is written; the rest of the page is prose.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from keysweep.providers import CHECKS, ENRICHERS  # noqa: E402
from keysweep.scanner.rules import Rule, load_rules  # noqa: E402

DOC = ROOT / "docs" / "rules.md"
BEGIN = "<!-- BEGIN GENERATED: rule table (scripts/gen_rules_doc.py) -->"
END = "<!-- END GENERATED: rule table -->"

# How each offline step reads in the table; a new check without an entry shows its docstring's
# first line, so the table never silently omits one.
CHECK_TEXT = {
    "anthropic_suffix": "constant `AA` suffix",
    "aws_access_key_id": "an access key id's shape (AKIA/ABIA/ACCA/ASIA + 16 base32)",
    "aws_bedrock_key": "base64 decodes to `BedrockAPIKey-…`",
    "github_crc32": "CRC32 of the body, base62, last 6 characters",
    "gitlab_routable_crc32": "CRC32, base36, last 7 characters",
    "mixed_case": "both letter cases present",
    "azure_cask": "Marvin32 checksum (seed `Default0`) in the last 4 characters",
    "openai_marker": "`T3BlbkFJ` marker between two halves",
    "private_key_structure": "body decodes to a complete unencrypted key",
}
ENRICH_TEXT = {
    "aws_account": "account id decoded from the key id",
    "aws_bedrock": "account id from the decoded service user, when present",
    "gcp_service_account": "canonical PEM; `private_key_id`, `client_email`, `project_id`",
    "pem": "canonical PEM",
}


def _describe(name: str, table: dict[str, str], registry: dict) -> str:
    if name in table:
        return table[name]
    doc = (registry[name].__doc__ or name).strip().splitlines()[0]
    return doc.rstrip(".")


def offline_steps(rule: Rule) -> str:
    steps = []
    if rule.checksum:
        steps.append(_describe(rule.checksum, CHECK_TEXT, CHECKS))
    if rule.enrich:
        steps.append(_describe(rule.enrich, ENRICH_TEXT, ENRICHERS))
    if rule.key_id_rule:
        steps.append(f"paired with `{rule.key_id_rule}` within {rule.key_id_window} bytes")
    if rule.entropy is not None:
        steps.append(f"entropy ≥ {rule.entropy:g}")
    if rule.fallback:
        steps.append("yields to a provider's own rule")
    if not rule.allow_placeholders:
        steps.append("placeholder filter")
    return "; ".join(steps)


def table(rules: list[Rule]) -> str:
    lines = [
        f"{len(rules)} rules for {len({r.provider for r in rules})} providers.",
        "",
        "| provider | rule | finds | long-lived | confidence | offline checks |",
        "|---|---|---|---|---|---|",
    ]
    for rule in sorted(rules, key=lambda r: (r.provider, r.id)):
        lines.append(f"| {rule.provider} | `{rule.id}` | {rule.name} | {'yes' if rule.long_lived else 'no'} "
                     f"| {rule.confidence} | {offline_steps(rule)} |")
    return "\n".join(lines)


def render(text: str, rules: list[Rule]) -> str:
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise SystemExit(f"{DOC}: markers {BEGIN!r} … {END!r} not found")
    return f"{head}{BEGIN}\n{table(rules)}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/rules.md is stale")
    args = parser.parse_args()
    current = DOC.read_text(encoding="utf-8")
    wanted = render(current, load_rules())
    if args.check:
        if wanted != current:
            print(f"{DOC.relative_to(ROOT)} is stale: run python scripts/gen_rules_doc.py", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        DOC.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
