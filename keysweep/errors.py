"""Errors that reach the user as one line on stderr and exit status 2.

KeysweepError
 ├── RuleError      a rule file that cannot be loaded or does not pass its own examples
 ├── SourceError    a path, repository or index that cannot be read
 ├── StoreError     a store file that cannot be opened or migrated
 └── SecretUnavailable  a finding's value cannot be re-read from where it was seen

TransportError (not a KeysweepError) is the HTTP client's "no usable answer", handled by its callers.
"""


class KeysweepError(Exception):
    """An input or environment problem that the user can fix; printed without a traceback."""


class RuleError(KeysweepError):
    pass


class SourceError(KeysweepError):
    pass


class StoreError(KeysweepError):
    pass


class SecretUnavailable(KeysweepError):
    """The value cannot be re-read (the file or blob is gone); the job needs a person.

    Raised by the context's secret re-reader (`ctx.secrets`); defined here, below every layer that
    raises or catches it."""


class TransportError(Exception):
    """No usable HTTP answer: timeout, refused connection, TLS or DNS failure, after retries.

    Raised by keysweep/http.py (which re-exports it); defined here so that a provider's verifier can
    name it without loading the HTTP client and asyncio (a pre-commit run loads a provider module
    when a rule of its matches)."""
