hypervisor t
op io_delay NOP params 1
