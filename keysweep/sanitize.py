"""What keysweep prints about data it does not trust: one sanitiser for the terminal, one for CSV.

Every string that comes from a scanned source (file paths, author names and emails, repository and
branch names, variable names, error messages quoting them, provider answers) is attacker-controlled.
On a terminal it must be shown as the characters it is, never obeyed:

- `terminal_safe(value)` escapes every character a terminal or a reader could be fooled by: C0
  controls (ESC, BEL, CR, LF, TAB, …), DEL, C1 controls (0x80–0x9f, including the 8-bit CSI),
  Unicode format characters (bidi overrides and isolates, zero-width characters, tag characters),
  line/paragraph separators and lone surrogates. The result is one line of visible text: `\\x1b`,
  `\\n`, `\\u202e`. A backslash already in the value is kept as it is, so Windows-style paths stay
  readable; the escaped forms only ever *add* visibility. Terminal output is also a CI job's log,
  which its runner reads for commands: `##[`, `##vso[` and `##teamcity[` (GitHub Actions' legacy,
  Azure Pipelines' and TeamCity's commands, obeyed anywhere in a line; any `##name[`) are shown as
  `##\\x5b`, `##vso\\x5b`, `##teamcity\\x5b`, and a value that begins with `::` (a GitHub workflow
  command when it starts a line, spaces aside) as `\\x3a:`, so a file named
  `##[add-mask]keysweep` or `::error::forged` masks, sets and annotates nothing.
- `rich_text(value)` is the same string as a rich `Text`, which rich never parses as markup
  (`[/]`, `[link=…]`) nor as `:emoji:` codes. Tables and plans build their cells with it.
- `stored_text(value)` is a value from argv or the environment as text the store can hold (a byte
  that is not UTF-8 as `\\xNN`, as file names are stored).
- `csv_safe(cell)` neutralises spreadsheet formulas (OWASP CSV injection): a cell that begins with
  `=`, `+`, `-`, `@`, TAB, CR, LF or NUL, or with white space and then `=`, `+`, `-` or `@` (an
  import that trims spaces would see a formula), gets a leading `'`; every other cell is kept exactly.
- `slack_escape(text)` is Slack's own escaping of `&`, `<` and `>` (no `<!here>`, `<@U…>` mention,
  no `<url|text>` link); `slack_code(value)` is a scanned string as a Slack mrkdwn code span, the
  one place its `*bold*`, `_italic_`, `~strike~`, `> quote` and `:emoji:` are not applied.

- `sarif_text(value)` is a SARIF message string that shows `value` as written: `terminal_safe` (a
  message is read by people: no control or bidi character of its own), `{`/`}` doubled (a
  single brace opens a placeholder, SARIF 2.1.0 §3.11.5) and `](` written `] (` (no embedded link,
  `[text](uri)`, §3.11.6); `sarif_markdown(value)` is the same in a formatted (Markdown) message,
  with `&`, `<` and `>` as entities (a producer emits no HTML, §3.11.4.2).

JSON and JSONL need none of this: their encoders escape every string, and tools reading them must
see the exact value (SARIF's locations and properties too). `json_text(value)` is `json.dumps`
with one difference in the text, none in the value: a `[` after `##` or `##name` is written
`\\u005b`, so JSON printed to a CI job's log carries no runner command either.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from rich.text import Text

# Named escapes people recognise; every other unsafe character gets a numeric one.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# Categories shown escaped: Cc (C0, DEL, C1), Cf (format: bidi controls U+202A–202E and U+2066–2069,
# LRM/RLM U+200E/F, ALM U+061C, zero-width U+200B–200D, word joiner, BOM, tag characters U+E0000…),
# Zl/Zp (U+2028/U+2029 break lines in some terminals), Cs (lone surrogates cannot even be written).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

# Fast path: a string made only of printable ASCII needs no work (most paths and emails).
_PLAIN_ASCII = re.compile(r"[\x20-\x7e]*")

CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What a cell may not begin with either: LF and NUL (ASVS 1.2.10 names NUL), and a formula
# character after white space.
_CSV_CONTROL_STARTS = ("\n", "\0")
_CSV_FORMULA_CHARS = ("=", "+", "-", "@")

# A scanned string in a chat message is cut to this many characters (a Slack section holds 3000).
SLACK_FIELD_LIMIT = 300
# What stands for a backtick inside a Slack code span (a backtick would close it): U+02CB.
SLACK_BACKTICK = "\u02cb"


@lru_cache(maxsize=4096)
def _escape_char(char: str) -> str:
    """`char` as visible text if it is unsafe on a terminal, else `char` itself."""
    if char in _NAMED:
        return _NAMED[char]
    if unicodedata.category(char) not in _UNSAFE_CATEGORIES:
        return char
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # a byte that `surrogateescape` smuggled in from a file name
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def terminal_safe(value: Any) -> str:
    """`value` as one line of text that a terminal displays and never obeys, nor a CI runner reading
    it from a job's log (see module doc). None becomes the empty string; anything else goes through
    str()."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if _PLAIN_ASCII.fullmatch(text):
        if "##" not in text and not text.startswith((":", " ")):  # the usual path or email: as it is
            return text
    else:
        text = "".join(_escape_char(char) for char in text)
    return log_command_safe(text)


# GitHub Actions' legacy `##[command]`, Azure Pipelines' `##vso[command]`, TeamCity's
# `##teamcity[message]`: read anywhere in a line.
_LOG_COMMAND = re.compile(r"##\w*\[")


def log_command_safe(text: str) -> str:
    """`text` (one line) with nothing a CI runner obeys: `##[`, `##vso[`, any `##name[` with the
    bracket as `\\x5b`; a leading `::` (spaces before it aside) with its first colon as `\\x3a`."""
    if "##" in text:
        text = _LOG_COMMAND.sub(lambda match: match.group(0)[:-1] + "\\x5b", text)
    if text[:1] == ":" or text[:1].isspace():
        stripped = text.lstrip()
        if stripped.startswith("::"):
            text = text[:len(text) - len(stripped)] + "\\x3a" + stripped[1:]
    return text


def stored_text(value: str) -> str:
    """`value` as text UTF-8 (and so SQLite, JSON and the audit chain) can hold: a byte that
    `surrogateescape` smuggled in from argv or the environment (a directory named in Latin-1) as
    `\\xNN`, the way file names are stored, so `--repo` names such a repository as findings do;
    any other lone surrogate as U+FFFD."""
    if _PLAIN_ASCII.fullmatch(value):
        return value
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF
                   else "\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)


def with_strings(value: Any, change: Callable[[str], str]) -> Any:
    """`value`, nested dicts, lists and tuples as JSON holds them, with `change` made to every
    string in it, dict keys included (tuples come back as lists)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {with_strings(key, change): with_strings(item, change) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [with_strings(item, change) for item in value]
    return value


def rich_text(value: Any, style: str = "") -> "Text":
    """`terminal_safe(value)` as a rich Text: literal characters, no markup, no emoji codes."""
    from rich.text import Text

    return Text(terminal_safe(value), style=style)


def safe_console(file=None, *, stderr: bool = False, **options: Any):
    """A rich Console that never interprets markup, emoji codes or highlighting in what it prints.
    Callers still pass untrusted values through `terminal_safe`/`rich_text`: this is the second lock."""
    from rich.console import Console

    options.setdefault("soft_wrap", False)
    return Console(file=file, stderr=stderr, markup=False, emoji=False, highlight=False, **options)


def csv_safe(cell: Any) -> str:
    """A CSV cell that no spreadsheet evaluates as a formula (OWASP: prefix `'`); else unchanged."""
    text = "" if cell is None else (cell if isinstance(cell, str) else str(cell))
    if text.startswith(CSV_FORMULA_STARTS) or text.startswith(_CSV_CONTROL_STARTS) \
            or text.lstrip().startswith(_CSV_FORMULA_CHARS):
        return "'" + text
    return text


def slack_escape(text: str) -> str:
    """Slack's own rule for text it should not parse as links or mentions: `&`, `<`, `>` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_code(value: Any, limit: int = SLACK_FIELD_LIMIT) -> str:
    """A string from scanned data as a Slack mrkdwn inline code span: shown as the characters it is.

    Inside a code span Slack applies no formatting (`*bold*`, `_italic_`, `~strike~`, a `>` quote,
    `:emoji:`); `&<>` are escaped as Slack asks, so `<!here>`, `<!channel>`,
    `<@U…>` and `<https://…|text>` are text; a backtick, which would end the span early, is shown as
    ˋ (U+02CB); controls and bidi characters are escaped (`terminal_safe`). Longer than `limit`
    characters as sent (an escaped `&<>` counts as its entity: `&lt;` is four), the text is cut
    between characters, never inside an entity, and ends with `…`. Empty (or None) gives the empty
    string, not an empty span."""
    text = terminal_safe(value)
    if not text:
        return ""
    escaped = slack_escape(text.replace("`", SLACK_BACKTICK))
    if len(escaped) > limit:
        kept, used = [], 0
        for char in text.replace("`", SLACK_BACKTICK):
            shown = slack_escape(char)
            if used + len(shown) > limit - 1:
                break
            kept.append(shown)
            used += len(shown)
        escaped = "".join(kept) + "\u2026"
    return "`" + escaped + "`"


def sarif_text(value: Any) -> str:
    """A SARIF plain-text message string showing `value` as written (see module doc)."""
    return terminal_safe(value).replace("{", "{{").replace("}", "}}").replace("](", "] (")


def sarif_markdown(value: Any) -> str:
    """A SARIF formatted (Markdown) message string showing `value` as written (see module doc)."""
    return sarif_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_WEB_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)


def web_url(value: Any) -> str | None:
    """`value` if it is an http(s) address to link to, else None: a rule's reference may be written
    `javascript:…` or `file:…`, which no report links."""
    return value if isinstance(value, str) and _WEB_URL.fullmatch(value) else None


def json_text(value: Any, **options: Any) -> str:
    """`json.dumps(value, **options)`, the same JSON value, with `##[`, `##vso[` (any `##name[`)
    written `##\\u005b`: `#` only ever stands inside a JSON string, so the escape is one too."""
    text = json.dumps(value, **options)
    return _LOG_COMMAND.sub(lambda match: match.group(0)[:-1] + "\\u005b", text) if "##" in text else text
