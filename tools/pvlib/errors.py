# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Errors the tools report in one line (exit status 2), never as a traceback."""


class UsageError(Exception):
    """Unusable input or environment: the tool prints one line and exits 2."""


def read_input(path: str) -> bytes:
    """The bytes of an input file, or a UsageError naming it."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror}") from None
