hypervisor t
site main 0x10 NATIVE
