hypervisor vmware-backdoor-v2
