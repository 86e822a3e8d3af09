hypervisor t
op sched_yield INLINE if kvm:PV_SCHED_YIELD
