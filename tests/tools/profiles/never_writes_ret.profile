hypervisor t
template y clobbers rax rbx rcx rdx rsi rdi
    push rbx
    movi.32 rax, 0x564d5868
    in
    pop rbx
end
op mem_size INLINE y params 20
