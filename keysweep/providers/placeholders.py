"""Values shaped like a credential that are documentation, templates or redactions, not secrets."""

import functools


@functools.cache
def _pattern():
    import regex

    return regex.compile(
    r"""
      (.)\1{5,}                         # a run of one character: xxxxxx, 000000, ******
    | EXAMPLE                           # AWS documentation keys and their imitators
    | (?i:your[_-]?[a-z_-]*?(?:key|token|secret)|[_-]here\b|placeholder|redacted|changeme|dummy)
    | (?i:abcdef(?:gh|12)|0123456|123456789)  # keyboard sequences
    | \.\.\.|…                          # a value someone already shortened
    | [<>{}$%]                          # template syntax: <KEY>, ${KEY}, {{ key }}, %(key)s
    """,
        regex.VERBOSE,
    )


def is_placeholder(value: str) -> bool:
    return _pattern().search(value) is not None
