hypervisor t
op sched_yield INLINE kvm-sched-yield
