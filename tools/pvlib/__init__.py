# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Shared code of the pvpatch host tools (pvsites, and later pvrom, pvboot)."""
