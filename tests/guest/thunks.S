/* The executable area the patcher writes CALL thunks into, in .text so
 * that every rel32 from a site reaches it. */
	.section .text.thunks, "ax"
	.balign 16
	.globl pv_thunk_area, pv_thunk_area_end
pv_thunk_area:
	.skip 16384, 0xcc
pv_thunk_area_end:

	.section .note.GNU-stack, "", @progbits
