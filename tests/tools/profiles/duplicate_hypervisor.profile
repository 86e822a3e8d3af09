hypervisor t
hypervisor u
