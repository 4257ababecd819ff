"""Tables that fit the terminal: an id is never wrapped or cut, columns that do not fit are dropped
by priority (least useful first), and the free-text columns fold; a place (a path, a store and a
name) folds after its separators, so each directory and the file name stay whole and readable
(keysweep.wording.fold_place). Cells are rich Texts built with
`keysweep.sanitize.rich_text`; rich is imported only when a table is built.

A piped table is drawn as wide as its widest row needs (at least `PIPED_WIDTH`), so nothing is
folded or cut in a log, a file or a grep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from keysweep.sanitize import safe_console
from keysweep.wording import fold_place

PIPED_WIDTH = 200
# rich's default box: one edge on the left, then per column its padding (2) and a rule (1).
EDGE, PER_COLUMN = 1, 3


@dataclass(frozen=True)
class Column:
    header: str
    whole: bool = False   # an id, a rule id, a hash, a time: never wrapped or cut
    drop: int = 0         # 0: always shown; else dropped when the table does not fit, lowest first
    min_width: int = 12   # the narrowest a free-text (folding) column is squeezed to
    place: bool = False   # a path or a store's name: folded after `/`, a space or a `repo:` colon


def is_terminal(out: Any) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty is not None and isatty())


def console_width(out: Any) -> int | None:
    """The width to draw text for `out`: the terminal's own (None: rich asks it), else PIPED_WIDTH."""
    return None if is_terminal(out) else PIPED_WIDTH


def natural_width(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> int:
    """The width at which no cell of the table folds."""
    return EDGE + sum(max([len(column.header), *(row[i].cell_len for row in rows)]) + PER_COLUMN
                      for i, column in enumerate(columns))


def draw_width(out: Any, columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> int | None:
    """The terminal's width (None: rich asks it), or for a pipe as wide as the table needs."""
    return None if is_terminal(out) else max(PIPED_WIDTH, natural_width(columns, rows))


def _needed(column: Column, cells: Sequence[Any]) -> int:
    longest = max([len(column.header), *(cell.cell_len for cell in cells)])
    return longest if column.whole else min(longest, max(column.min_width, len(column.header)))


def shown_columns(columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int) -> list[int]:
    """Indexes of the columns kept at `width`: the droppable ones go, lowest `drop` first, until
    the whole columns at full width and the folding ones at their narrowest fit."""
    needed = [_needed(column, [row[i] for row in rows]) for i, column in enumerate(columns)]
    kept = list(range(len(columns)))
    droppable = sorted((i for i, column in enumerate(columns) if column.drop), key=lambda i: columns[i].drop)
    while droppable and EDGE + sum(needed[i] + PER_COLUMN for i in kept) > width:
        kept.remove(droppable.pop(0))
    return kept


def folding_widths(columns: Sequence[Column], rows: Sequence[Sequence[Any]], kept: Sequence[int],
                   width: int) -> dict[int, int]:
    """The width of each kept folding column when the table must fold to fit `width` (empty when
    it fits as it is, or cannot fit even with them at their narrowest): each starts at its narrowest,
    and the room left goes to the places first (what a responder reads), then to the others, in
    proportion to what each still lacks."""
    folding = [i for i in kept if not columns[i].whole]
    longest = {i: max([len(columns[i].header), *(row[i].cell_len for row in rows)]) for i in kept}
    room = width - EDGE - PER_COLUMN * len(kept) - sum(longest[i] for i in kept if columns[i].whole)
    if not folding or sum(longest[i] for i in folding) <= room:
        return {}
    widths = {i: _needed(columns[i], [row[i] for row in rows]) for i in folding}
    spare = room - sum(widths.values())
    if spare < 0:
        return {}
    for group in ([i for i in folding if columns[i].place], [i for i in folding if not columns[i].place]):
        lacking = {i: longest[i] - widths[i] for i in group}
        total = sum(lacking.values())
        share = min(spare, total)
        for i in group:
            widths[i] += share * lacking[i] // total if total else 0
        spare -= sum(share * lacking[i] // total for i in group) if total else 0
    return widths


def fold_place_cell(cell: Any, width: int) -> Any:
    """A place's Text folded into lines of at most `width` columns (its styles kept)."""
    from rich.cells import cell_len
    from rich.text import Text

    plain = cell.plain
    lines, at = [], 0
    for line in fold_place(plain, width, cell_len):
        start = plain.index(line, at)
        lines.append(cell[start:start + len(line)])
        at = start + len(line)
    return Text("\n").join(lines) if len(lines) > 1 else cell


def fitted_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int):
    """A rich Table of `rows` (rich Texts) that fits `width` columns (see the module doc)."""
    from rich.table import Table

    kept = shown_columns(columns, rows, width)
    widths = folding_widths(columns, rows, kept, width)
    table = Table(title=title)
    for i in kept:
        column = columns[i]
        if column.whole:
            longest = max([len(column.header), *(row[i].cell_len for row in rows)])
            table.add_column(column.header, no_wrap=True, overflow="fold", min_width=longest)
        else:
            table.add_column(column.header, overflow="fold", width=widths.get(i))
    for row in rows:
        table.add_row(*(fold_place_cell(row[i], widths[i]) if columns[i].place and i in widths else row[i]
                        for i in kept))
    return table


def print_table(out: Any, title: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]],
                width: int | None = None) -> None:
    """Print the fitted table on `out`: at `width`, else the terminal's, else as wide as it needs."""
    console = safe_console(out, width=width or draw_width(out, columns, rows))
    console.print(fitted_table(title, columns, rows, console.width))
