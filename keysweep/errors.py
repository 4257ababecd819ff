"""Errors that reach the user as one line on stderr and exit status 2.

KeysweepError
 ├── RuleError      a rule file that cannot be loaded or does not pass its own examples
 ├── SourceError    a path, repository or index that cannot be read
 └── StoreError     a store file that cannot be opened or migrated
"""


class KeysweepError(Exception):
    """An input or environment problem that the user can fix; printed without a traceback."""


class RuleError(KeysweepError):
    pass


class SourceError(KeysweepError):
    pass


class StoreError(KeysweepError):
    pass
