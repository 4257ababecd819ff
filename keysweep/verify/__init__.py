"""Verification: the liveness runner (`runner`), the model (`model`) and the declarative HTTP verifier."""
