"""Distributed sweeps on Celery (docs/scale-out.md).

`keysweep sweep --broker URL` lists what to read as a local sweep does, then sends one task per
unit of work — a repository, a CI scope (Actions or GitLab CI variables), an AWS account × region
× service — to the broker; `keysweep worker` processes take them and read against the shared
store, and the sweep waits and reports from that store as a local one does.

Only the modules that need Celery import it (`app`, `orchestrate`): this package's `config` and
`units` are plain Python, and neither is imported by `keysweep demo` or `scan staged`.

What travels through the broker is plain JSON: which source (its configuration, with the *name*
of its token variable, never a token), which unit, and the sweep's options; and back, counts,
scopes, finding ids and one-line errors. A worker takes tokens from its own environment.
"""
