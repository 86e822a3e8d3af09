# SPDX-License-Identifier: GPL-2.0-only OR MIT
# pvpatch hypervisor profile; tools/pvrom build compiles it into a feature ROM.
# Format (README.md, "Hypervisor profiles and the feature ROM"):
#   hypervisor NAME                          the name in the ROM, at most 31 characters
#   template NAME [clobbers REG...]          template instructions, one a line, then `end`
#   op OP|* MODE [TEMPLATE] [params N...] [if kvm:BIT | vmport | vmport:gethz]
#   site FUNC+0xOFF MODE                     one site overridden
# MODE is NATIVE, NOP, INLINE (with a template) or CALL.  For an op the LAST
# entry whose condition holds wins; an op without one stays NATIVE.

# KVM on VT-x/SVM hardware: what the hardware virtualizes stays native; the
# ops KVM's feature bits (CPUID 0x40000001 EAX) offer something better for
# become NOPs, inline hypercalls or calls.
hypervisor kvm-vt

# KVM hypercalls (vmcall; rax = number, rbx rcx rdx rsi = arguments, result
# in rax, nothing else changed).  Registers the site still needs are saved.

# sched_yield(cpu): KVM_HC_SCHED_YIELD(apic id)
template kvm-sched-yield clobbers rax
    push rax
    push rbx
    mov.32 rbx, arg0
    movi.32 rax, 11
    vmcall
    pop rbx
    pop rax
end

# kick_cpu(apic, dest): KVM_HC_KICK_CPU(flags 0, apic id = dest >> 24)
template kvm-kick-cpu clobbers rax
    push rax
    push rbx
    push rcx
    mov.32 rcx, arg1
    shri.32 rcx, 24
    xor.32 rbx, rbx
    movi.32 rax, 5
    vmcall
    pop rcx
    pop rbx
    pop rax
end

# send_ipi(apic, dest, icr): KVM_HC_SEND_IPI(bitmap 1, 0, min id = dest >> 24, icr)
template kvm-send-ipi clobbers rax
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    mov.32 rsi, arg2
    mov.32 rdx, arg1
    shri.32 rdx, 24
    movi.32 rbx, 1
    xor.32 rcx, rcx
    movi.32 rax, 10
    vmcall
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
end

# No entry, so NATIVE: everything VT virtualizes (interrupt flag, control
# registers, MSRs, TLB flushes, page tables, descriptor tables, ...).
# A port 0x80 write only delays; KVM says when it need not.
op io_delay NOP if kvm:NOP_IO_DELAY
op send_ipi INLINE kvm-send-ipi if kvm:PV_SEND_IPI
op sched_yield INLINE kvm-sched-yield if kvm:PV_SCHED_YIELD
op kick_cpu INLINE kvm-kick-cpu if kvm:PV_UNHALT
# PV EOI: the guest registers a word with MSR_KVM_PV_EOI_EN; the backend
# clears the flag KVM sets there on injecting an interrupt instead of writing
# the APIC (an exit), and writes the APIC when KVM did not set it.
op apic_eoi CALL if kvm:PV_EOI
