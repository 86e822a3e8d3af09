hypervisor t
template y clobbers rax
    mov.32 rxx, arg0
end
