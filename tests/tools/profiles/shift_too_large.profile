hypervisor t
template y
    shli.32 ret, 32
end
