# nothing but an entry
op io_delay NOP
