hypervisor t
template y
    movi.32 ret, 0x100000000
end
op mem_size INLINE y
