hypervisor t
op io_delay NOP
op send_ipi NOP
