"""Remediation: revocation jobs, the orchestrator behind `keysweep revoke`, policy, the hash-chained
audit log, owner notifications and the time-to-remediation report.

Nothing in this package ever holds a secret value longer than one revoke or confirm call: values
are re-read from where the scanner saw them (see `secrets.py`), checked against the finding's
SHA-256 and dropped.
"""
