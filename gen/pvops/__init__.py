# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""pvgen, the pvpatch op-spec generator (see main.py)."""
