hypervisor t
template y
    mov.64 rsp, rax
end
