# One site line past the ROM's limit (PVPATCH_ROM_MAX_OVERRIDES): refused at line 19.
hypervisor many-sites
site do_io+0 NOP
site do_io+16 NOP
site do_io+32 NOP
site do_io+48 NOP
site do_io+64 NOP
site do_io+80 NOP
site do_io+96 NOP
site do_io+112 NOP
site do_io+128 NOP
site do_io+144 NOP
site do_io+160 NOP
site do_io+176 NOP
site do_io+192 NOP
site do_io+208 NOP
site do_io+224 NOP
site do_io+240 NOP
site do_io+256 NOP
