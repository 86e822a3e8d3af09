hypervisor t
op * NOP
