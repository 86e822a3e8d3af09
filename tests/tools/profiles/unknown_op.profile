# an op the spec does not have
hypervisor t
op no_such_op CALL
