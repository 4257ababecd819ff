"""CLI commands beyond scanning; each module is imported only when its command runs (see cli.LAZY_COMMANDS)."""
