hypervisor t
template y
    push rbx
    movi.32 ret, 1
end
op mem_size INLINE y
