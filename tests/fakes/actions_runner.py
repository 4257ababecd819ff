"""How a GitHub Actions runner reads a step's output for workflow commands, as GitHub documents them
("Workflow commands for GitHub Actions": `::command prop=value,…::data`, `::stop-commands::TOKEN`
until `::TOKEN::`) and as actions/runner parses them (src/Runner.Common/ActionCommand.cs,
src/Runner.Worker/ActionCommandManager.cs):

- `::name props::data` is a command when the line starts with it once leading white space is
  trimmed (TryParseV2);
- else the legacy `##[name props]data` is a command wherever `##[` appears in the line (TryParse);
- only registered names are commands; `stop-commands` makes every later line plain output until a
  line whose command name is the token it gave (the token is registered while stopped).

`commands(lines)` is what the runner would obey, in order: (name, properties, data)."""

from __future__ import annotations

from typing import Iterable

REGISTERED = frozenset({"add-mask", "add-matcher", "remove-matcher", "debug", "notice", "warning", "error",
                        "group", "endgroup", "echo", "save-state", "set-output", "set-env", "add-path",
                        "stop-commands"})


def _unescape(text: str, mappings: tuple[tuple[str, str], ...]) -> str:
    for escaped, raw in mappings:
        text = text.replace(escaped, raw)
    return text


_DATA = (("%0D", "\r"), ("%0A", "\n"), ("%25", "%"))
_PROPERTY = (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%"))
_LEGACY = (("%3B", ";"), ("%0D", "\r"), ("%0A", "\n"), ("%5D", "]"), ("%25", "%"))


def parse(line: str, registered: Iterable[str]) -> tuple[str, dict[str, str], str] | None:
    names = {name.lower() for name in registered}
    message = line.lstrip()
    if message.startswith("::"):
        end = message.find("::", 2)
        if end >= 0:
            info = message[2:end]
            name, _, props = info.partition(" ")
            if name.lower() in names:
                properties = {}
                for pair in props.strip().split(","):
                    key, sep, value = pair.partition("=")
                    if sep and key and value:
                        properties[key] = _unescape(value, _PROPERTY)
                return name, properties, _unescape(message[end + 2:], _DATA)
    start = line.find("##[")
    if start < 0:
        return None
    close = line.find("]", start)
    if close < 0:
        return None
    name, _, props = line[start + 3:close].partition(" ")
    if name.lower() not in names:
        return None
    properties = {}
    for pair in props.split(";"):
        key, sep, value = pair.partition("=")
        if sep and key and value:
            properties[key] = _unescape(value, _LEGACY)
    return name, properties, _unescape(line[close + 1:], _LEGACY)


def commands(lines: Iterable[str]) -> list[tuple[str, dict[str, str], str]]:
    obeyed: list[tuple[str, dict[str, str], str]] = []
    token: str | None = None
    for line in lines:
        command = parse(line, REGISTERED | ({token} if token else set()))
        if command is None:
            continue
        name = command[0]
        if token is not None:
            if name.lower() == token.lower():
                obeyed.append(command)
                token = None
            continue
        if name.lower() == "stop-commands":
            token = command[2]
        obeyed.append(command)
    return obeyed
