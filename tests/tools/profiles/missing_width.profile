hypervisor t
template y
    mov ret, rax
end
