"""Fake provider and forge servers on 127.0.0.1, written from each provider's documentation.
Test-only: not part of the installed package."""
