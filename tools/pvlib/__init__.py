"""Shared code of the pvpatch host tools (pvsites, and later pvrom, pvboot)."""
