# SPDX-License-Identifier: GPL-2.0-only OR MIT
# pvpatch hypervisor profile; tools/pvrom build compiles it into a feature ROM.
# Format (README.md, "Hypervisor profiles and the feature ROM"):
#   hypervisor NAME                          the name in the ROM, at most 31 characters
#   template NAME [clobbers REG...]          template instructions, one a line, then `end`
#   op OP|* MODE [TEMPLATE] [params N...] [if kvm:BIT | vmport | vmport:gethz]
#   site FUNC+0xOFF MODE                     one site overridden
# MODE is NATIVE, NOP, INLINE (with a template) or CALL.  For an op the LAST
# entry whose condition holds wins; an op without one stays NATIVE.

# KVM, as paravirtual as it gets: kvm-vt's inline hypercalls, and a call to
# the guest's backend for every op a paravirtual backend can do better than
# trapping (interrupt flag, control registers, TLB and page tables, MSRs,
# time and memory probes).  rdtsc stays native: it does not exit.
hypervisor kvm-pv

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

# irq
op irq_disable CALL
op irq_enable CALL
op save_fl CALL
op restore_fl CALL
op safe_halt CALL
op halt CALL
# cpu
op cpuid CALL
op read_cr0 CALL
op write_cr0 CALL
op read_cr2 CALL
op read_cr3 CALL
op write_cr3 CALL
op read_cr4 CALL
op write_cr4 CALL
op read_cr8 CALL
op write_cr8 CALL
op clts CALL
op wbinvd CALL
op load_idt CALL
op load_gdt CALL
# msr
op rdmsr CALL
op wrmsr CALL
op read_tsc NATIVE
# mmu
op flush_tlb_one CALL
op flush_tlb_local CALL
op set_pte CALL
# time, memory
op calibrate_tsc CALL
op get_wallclock CALL
op mem_size CALL
# descriptor tables, segments, debug registers (they exit on VT)
op load_tr CALL
op store_tr CALL
op load_ldt CALL
op load_gs_index CALL
op write_gs_base CALL
op write_kernel_gs_base CALL
op read_dr6 CALL
op write_dr6 CALL
op read_dr7 CALL
op write_dr7 CALL
op write_cr2 CALL
op flush_tlb_global CALL
# swapgs does not exit; port I/O is the exit itself: a backend cannot do
# it better, only the device model can (no entry: NATIVE)
# hypervisor services: preemption and steal time from KVM's steal-time area
op vcpu_is_preempted CALL
op steal_clock CALL
# io, apic, sched: a call without the feature, better with it
op io_delay CALL
op apic_eoi CALL
op send_ipi CALL
op sched_yield CALL
op kick_cpu CALL
op io_delay NOP if kvm:NOP_IO_DELAY
op send_ipi INLINE kvm-send-ipi if kvm:PV_SEND_IPI
op sched_yield INLINE kvm-sched-yield if kvm:PV_SCHED_YIELD
op kick_cpu INLINE kvm-kick-cpu if kvm:PV_UNHALT
