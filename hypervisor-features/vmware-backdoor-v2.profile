# SPDX-License-Identifier: GPL-2.0-only OR MIT
# pvpatch hypervisor profile; tools/pvrom build compiles it into a feature ROM.
# Format (README.md, "Hypervisor profiles and the feature ROM"):
#   hypervisor NAME                          the name in the ROM, at most 31 characters
#   template NAME [clobbers REG...]          template instructions, one a line, then `end`
#   op OP|* MODE [TEMPLATE] [params N...] [if kvm:BIT | vmport | vmport:gethz]
#   site FUNC+0xOFF MODE                     one site overridden
# MODE is NATIVE, NOP, INLINE (with a template) or CALL.  For an op the LAST
# entry whose condition holds wins; an op without one stays NATIVE.

# A newer VMware backdoor hypervisor, shipped only as a ROM (fw_cfg), never
# built into the guest: version 1's entries, plus the memory size from
# GETRAMSIZE (which the backdoor answers under TCG and KVM).  Its name needs
# ROM format 2 (format 1 holds 15 characters).
hypervisor vmware-backdoor-v2

# VMware backdoor (QEMU vmport): eax = magic, ecx = command (param0), dx =
# port, `in`; results in eax and ebx (some commands also ecx edx esi edi).

# calibrate_tsc(): GETHZ, TSC frequency in Hz in ebx:eax
template vmport-gethz clobbers rax rbx rcx rdx rsi rdi
    push rbx
    movi.32 rax, 0x564d5868
    movi.32 rcx, param0
    movi.32 rdx, 0x5658
    in
    shli.64 rbx, 32
    or.64 ret, rbx
    pop rbx
end

# mem_size(): GETRAMSIZE, bytes of memory in eax
template vmport-getramsize clobbers rax rbx rcx rdx rsi rdi
    push rbx
    movi.32 rax, 0x564d5868
    movi.32 rcx, param0
    movi.32 rdx, 0x5658
    in
    mov.32 ret, rax
    pop rbx
end

op calibrate_tsc INLINE vmport-gethz params 45 if vmport:gethz
op mem_size INLINE vmport-getramsize params 20 if vmport
