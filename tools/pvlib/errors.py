"""Errors the tools report in one line (exit status 2), never as a traceback."""


class UsageError(Exception):
    """Unusable input or environment: the tool prints one line and exits 2."""
