hypervisor t
template y clobbers rax
    push rbx
    mov.32 rbx, arg1
    pop rbx
end
op sched_yield INLINE y
