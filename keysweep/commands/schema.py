"""`keysweep schema findings|config|owners|policy`: the JSON Schema (draft 2020-12) of the findings
output or of a configuration file (keysweep/schemas.py)."""

from __future__ import annotations

import json

import click

from keysweep.cli import output_file_option
from keysweep.commands._common import open_report
from keysweep.schemas import NAMES, schema


@click.command("schema")
@click.argument("name", type=click.Choice(NAMES))
@output_file_option
def schema_cmd(name, output):
    """Print the JSON Schema (draft 2020-12) of NAME: findings (the --format json output; each
    --format jsonl line is its #/$defs/finding), config (keysweep.toml), owners
    (keysweep-owners.toml) or policy (keysweep-policy.toml). TOML files validate as the JSON they
    parse to, e.g. with check-jsonschema."""
    text = json.dumps(schema(name), indent=2) + "\n"
    if output:
        with open_report(output) as handle:
            handle.write(text)
    else:
        click.echo(text, nl=False)
