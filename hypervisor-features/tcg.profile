# SPDX-License-Identifier: GPL-2.0-only OR MIT
# pvpatch hypervisor profile; tools/pvrom build compiles it into a feature ROM.
# Format (README.md, "Hypervisor profiles and the feature ROM"):
#   hypervisor NAME                          the name in the ROM, at most 31 characters
#   template NAME [clobbers REG...]          template instructions, one a line, then `end`
#   op OP|* MODE [TEMPLATE] [params N...] [if kvm:BIT | vmport | vmport:gethz]
#   site FUNC+0xOFF MODE                     one site overridden
# MODE is NATIVE, NOP, INLINE (with a template) or CALL.  For an op the LAST
# entry whose condition holds wins; an op without one stays NATIVE.

# QEMU TCG: no paravirtual interface, every site keeps its native code.
hypervisor tcg
op * NATIVE
