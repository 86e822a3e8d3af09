hypervisor t
template y clobbers rax
    vmcall
op sched_yield INLINE y
