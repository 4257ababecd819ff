"""keysweep: find long-lived credentials, attribute them to owners, revoke them, and time it."""

__version__ = "0.1.0"
