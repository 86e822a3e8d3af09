hypervisor t
op io_delay NOP if kvm:NOP_IO_DELAYS
