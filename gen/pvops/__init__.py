"""pvgen, the pvpatch op-spec generator (see main.py)."""
