hypervisor t
operation io_delay NOP
