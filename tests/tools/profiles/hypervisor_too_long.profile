hypervisor a-hypervisor-name-of-thirty-three-chars
