/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * pvpatch: the kernel's interface to the runtime patcher.
 *
 * A kernel fills a struct pvpatch with where its site records and text are,
 * gives it a few buffers (no allocation happens inside), and calls
 * pvpatch_apply() once at boot with the policy negotiated with the
 * hypervisor.  Calling it again with another policy re-patches; with an
 * all-NATIVE policy (pvpatch_revert()) every site is native again.  While
 * other CPUs run, pvpatch_repatch() re-patches instead (below).
 *
 * Early patching runs single-threaded: the default text poke (pv->poke
 * NULL) turns interrupts off around each write and serialises the CPU after
 * it, as Linux's text_poke_early() does, but it does not stop other CPUs or
 * NMIs and needs writable text.  A kernel that patches later passes its own.
 */
#ifndef PVPATCH_H
#define PVPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <asm/pvpatch-abi.h>
#include <asm/pvpatch-template.h>

/* What every site of one op should become. */
struct pvpatch_op_policy {
	uint8_t mode;				/* PVPATCH_MODE_* */
	const struct pvpatch_template *tmpl;	/* INLINE */
	uint64_t params[PVT_MAX_PARAMS];	/* PVT_IMM(n) of the template */
	const void *backend;			/* CALL: has pv_<op>()'s C signature */
	uint8_t preserves;			/* CALL: backend is PVPATCH_BACKEND */
	uint16_t backend_id;			/* CALL: the ROM named this backend (0: default) */
	/*
	 * CALL, plain backend: PVPATCH_WRITES_KNOWN | the caller-saved
	 * registers it may write (bit n: register n), what the liveness pass
	 * found in the linked kernel (pvpatch_backend_writes() of its record);
	 * 0: not known, so every caller-saved register.  A site calls such a
	 * backend directly when no register it keeps is among these (as
	 * GCC's -fipa-ra calls a function whose clobbers it knows).
	 */
	uint32_t writes;
};

#define PVPATCH_WRITES_KNOWN 0x10000u	/* struct pvpatch_op_policy.writes */

/* A backend record's policy .writes. */
static inline uint32_t pvpatch_backend_writes(const struct pvpatch_backend_rec *rec)
{
	return rec->flags & PVPATCH_BACKEND_F_ANALYSED ? PVPATCH_WRITES_KNOWN | rec->writes : 0;
}

/*
 * A register-preserving backend: it keeps every register but its result
 * (needs code without SSE: -mgeneral-regs-only or the kernel's -mno-sse),
 * so a CALL site saves nothing around it and often calls it directly.
 */
#define PVPATCH_BACKEND __attribute__((no_caller_saved_registers))

/* A different mode for one site: at an address, or at func+offset. */
struct pvpatch_override {
	const char *func;	/* NULL: addr is the site's address */
	uintptr_t addr;		/* address, or offset into func */
	uint8_t mode;
};

struct pvpatch_policy {
	struct pvpatch_op_policy op[PVPATCH_MAX_OP + 1];
	const struct pvpatch_override *overrides;
	unsigned int n_overrides;
};

/* Why a site did not get what the policy asked for. */
enum pvpatch_reason {
	PVPATCH_OK = 0,
	/* the record (the site is never written) */
	PVPATCH_E_VERSION,	/* record format version unknown */
	PVPATCH_E_OP,		/* unknown op number */
	PVPATCH_E_RANGE,	/* site outside the text range */
	PVPATCH_E_LENGTH,	/* lengths inconsistent with the op */
	PVPATCH_E_FLAGS,	/* flags or registers inconsistent with the op */
	PVPATCH_E_OVERLAP,	/* site overlaps another site */
	PVPATCH_E_DECODE,	/* native bytes do not decode to native_len */
	PVPATCH_E_SAVE,		/* no room left to keep the original bytes */
	PVPATCH_E_IMAGE,	/* pre-patched image header or slot unusable */
	/* the choice (the site falls back) */
	PVPATCH_E_MODE,		/* mode not allowed for this op */
	PVPATCH_E_NO_TEMPLATE,	/* INLINE without a template */
	PVPATCH_E_NO_BACKEND,	/* CALL without a backend */
	PVPATCH_E_TOO_LONG,	/* emitted code longer than the site */
	PVPATCH_E_CLOBBER,	/* template changes a live register */
	PVPATCH_E_INSN,		/* template instruction not allowed/malformed */
	PVPATCH_E_ARG_LOST,	/* template reads an argument it overwrote */
	PVPATCH_E_NO_RESULT,	/* template does not produce the result */
	PVPATCH_E_STACK,	/* template pushes and pops do not balance */
	PVPATCH_E_NO_SCRATCH,	/* no free register for a scratch hole */
	PVPATCH_E_CALL_RANGE,	/* call target beyond rel32 */
	PVPATCH_E_THUNK_SPACE,	/* thunk area full */
	PVPATCH_E_OVERRIDE,	/* override names no valid site */
	PVPATCH_E_FREED,	/* CALL backend in a family pvpatch_free_backends() freed */
	PVPATCH_E_RELOC,	/* code with a relative operand the patcher cannot move */
	PVPATCH_E_THUNK_INDEX,	/* thunk index full (or none: NULL/0) */
	PVPATCH_NR_REASONS
};

const char *pvpatch_reason_str(enum pvpatch_reason r);

#define PVPATCH_MAX_REJECTS 32

struct pvpatch_reject {
	uintptr_t site;		/* address, or 0 for an override */
	uint16_t op;
	uint8_t wanted;		/* mode asked for */
	uint8_t got;		/* mode the site has now */
	uint8_t reason;		/* enum pvpatch_reason */
};

struct pvpatch_report {
	unsigned int sites;			/* records seen */
	unsigned int invalid;			/* records refused, sites left alone */
	unsigned int written;			/* sites whose bytes changed */
	unsigned int bytes_changed;
	unsigned int fallbacks;			/* sites not in the mode asked for */
	unsigned int mode[PVPATCH_NR_MODES];	/* valid sites per resulting mode */
	unsigned int op_mode[PVPATCH_MAX_OP + 1][PVPATCH_NR_MODES];
	unsigned int op_bytes[PVPATCH_MAX_OP + 1];	/* bytes changed per op */
	unsigned int reasons[PVPATCH_NR_REASONS];
	unsigned int thunk_bytes;		/* thunk area in use */
	unsigned int n_rejects;			/* first PVPATCH_MAX_REJECTS kept */
	struct pvpatch_reject rejects[PVPATCH_MAX_REJECTS];
	/* pvpatch_repatch() only (0 after pvpatch_apply()) */
	unsigned int status;			/* enum pvpatch_repatch_status */
	unsigned int stops;			/* rendezvous made */
	unsigned int retries;			/* ... released as not quiescent */
	unsigned int busy_cpu;			/* last refusal: context index, */
	uintptr_t busy_addr;			/* the RIP or stack word found, */
	uintptr_t busy_at;			/* where (the stack slot; 0: the RIP) */
	unsigned int thunks_reclaimed;		/* thunks given back */
	/* PVPATCH_F_POISON: widened sites run from a poison stub, or not (why) */
	unsigned int poisoned;
	unsigned int unpoisoned;
	unsigned int poison_reasons[PVPATCH_NR_REASONS];
};

/* Per-site bookkeeping, one per record, provided by the kernel. */
struct pvpatch_site_state {
	uint32_t saved;		/* offset of the original bytes in saved[] */
	uint32_t order;		/* used to sort sites by address */
	uint8_t reason;		/* PVPATCH_OK, or why the record is refused */
	uint8_t mode;		/* current mode */
	uint8_t override;	/* mode an override asks for, or 0xff */
	uint8_t flags;		/* private */
};
/* The linker fragment (pvpatch-bss.lds) reserves PVPATCH_SITE_STATE_SIZE per record. */
_Static_assert(sizeof(struct pvpatch_site_state) == PVPATCH_SITE_STATE_SIZE,
	       "struct pvpatch_site_state: change gen/pvops/layout.py SITE_STATE_SIZE too");

#define PVPATCH_STACK_ALIGN_8	8	/* struct pvpatch.stack_align */
#define PVPATCH_STACK_ALIGN_16	16
#define PVPATCH_F_DEBUG	0x1	/* print every site's old and new bytes */
/* Tests only: pvpatch_repatch() takes any rendezvous as quiescent (the
 * mutation check of its quiescence test).  Never in a kernel. */
#define PVPATCH_F_NO_QUIESCE_DEBUG 0x2
/*
 * Tests only (pvpatch.poison): every site whose record has
 * PVPATCH_SITE_F_WIDENED runs from a per-site stub in the thunk area that
 * does the site's job in its mode, then writes 0xdead0000000000NN (NN the
 * register number) into every register the record lets the site overwrite
 * except its outputs, rsp and rbp, then jumps back to the site's end: a
 * register the liveness pass wrongly called dead then holds garbage.
 */
#define PVPATCH_F_POISON 0x4
#define PVPATCH_MAX_FREED 16	/* backend families pvpatch_free_backends() can free */

/* What the patcher knows of one generated thunk (kind 0), or of one
 * INLINE stub (kind 2, backend: the address of its site) or poison stub
 * (kind 3, likewise): an entry of the thunk index, which the kernel
 * provides (struct pvpatch.thunk_index) in its (non-executable) data, so
 * the thunk area holds nothing but code.  The fields are private. */
struct pvpatch_thunk_slot {
	uintptr_t backend;
	uint32_t regs;		/* ret | arg0 << 4 | ... of the sites it serves */
	uint32_t code;		/* offset of its code in pv->thunks + 1; 0: slot free */
	uint16_t free;		/* registers those sites may lose */
	uint16_t op;		/* ABI op number */
	uint16_t writes;	/* registers the backend may write besides its result */
	uint8_t kind;		/* thunk, INLINE stub, poison stub */
	uint8_t len;		/* bytes of code */
	uint8_t flags;		/* pvpatch_repatch(): staged, not yet written; called */
};
/* The linker fragment (pvpatch-bss.lds) reserves PVPATCH_THUNK_SLOTS(records) of these,
 * or PVPATCH_THUNK_SLOTS_AREA(thunk area bytes) when fewer. */
_Static_assert(sizeof(struct pvpatch_thunk_slot) == PVPATCH_THUNK_SLOT_SIZE,
	       "struct pvpatch_thunk_slot: change gen/pvops/layout.py THUNK_SLOT_SIZE too");

/* Private: a backend family pvpatch_free_backends() overwrote, [start, end). */
struct pvpatch_freed {
	uintptr_t start, end;
};

struct pvpatch {
	/* Filled by the kernel before the first pvpatch_apply(). */
	const struct pvpatch_site *sites, *sites_end;
	uintptr_t text_start, text_end;		/* sites must lie inside */
	struct pvpatch_site_state *state;	/* sites_end - sites entries */
	uint8_t *saved;				/* original native bytes */
	size_t saved_size;			/* PVPATCH_MAX_SITE per site is always enough */
	uint8_t *thunks;			/* executable, for CALL thunks; may be NULL */
	size_t thunks_size;			/* only code is written there, int3 between */
	/*
	 * The thunk index, like state and saved provided by the kernel and
	 * sized from the record count: what the patcher knows of each thunk
	 * and stub in the thunk area (open addressing over any number of
	 * slots; the first pvpatch_apply() clears them, and no more than
	 * PVPATCH_THUNK_SLOTS_AREA(thunks_size) are used: the area holds no
	 * more entries).  PVPATCH_THUNK_SLOTS(n) slots for n records are never
	 * the limit either: every record may own one entry, and
	 * pvpatch_repatch() stages the next generation beside the current one.
	 * Fewer than both: a site finding
	 * the index full falls back whole, PVPATCH_E_THUNK_INDEX ("thunk
	 * index full").  NULL/0 with a thunk area is "no thunks", as thunks
	 * NULL is: every site that needs the area falls back so, the others
	 * are patched.  pvpatch-bss.lds reserves the smaller of the two
	 * (__pvpatch_thunk_index_start/_end; pvpatch_linked_init()).
	 */
	struct pvpatch_thunk_slot *thunk_index;
	size_t thunk_slots;
	/*
	 * How a generated thunk returns (set before the first pvpatch_apply(),
	 * not changed after).  NULL: `ret; int3`, the int3 stopping
	 * straight-line speculation past the ret (what -mharden-sls=all and
	 * Linux's RET do).  A kernel with return-thunk mitigations (retbleed,
	 * SRSO) puts its return thunk here, Linux's __x86_return_thunk: thunks
	 * then end with `jmp rel32` to it, as -mfunction-return=thunk-extern
	 * compiles a return.  It must lie within rel32 of the thunk area, else
	 * the sites needing a thunk fall back (PVPATCH_E_CALL_RANGE).  No other
	 * code the patcher writes returns.
	 */
	const void *return_thunk;
	/*
	 * Every write to text, sites and thunks alike, goes through poke.  NULL:
	 * the default, for early boot on one CPU with writable text: interrupts
	 * off (saved and restored), the copy, then the CPU serialised with an
	 * IRET to itself (Linux's sync_core()) before interrupts come back.  It
	 * executes cli/sti, so it needs ring 0 (or IOPL 3).
	 */
	void (*poke)(void *addr, const void *src, size_t len, void *arg);
	void *poke_arg;
	/* Resolves func of a func+offset override (NULL: such overrides fail). */
	uintptr_t (*lookup)(const char *func);
	void (*print)(const char *s);		/* report and debug output */
	unsigned int flags;			/* PVPATCH_F_* */
	/*
	 * The stack alignment every CALL backend, plain or PVPATCH_BACKEND,
	 * may assume at its entry (set before the first pvpatch_apply(), not
	 * changed after): what the kernel compiles its backends for.
	 * PVPATCH_STACK_ALIGN_8 (a kernel built with
	 * -mpreferred-stack-boundary=3, as Linux is; GCC allows it only without
	 * SSE): nothing realigns, and a site calls its backend directly when
	 * the registers allow.  0 or PVPATCH_STACK_ALIGN_16 (the System V ABI,
	 * the default): every call goes through a thunk, which realigns %rsp to
	 * 16 bytes before the call; no site calls a backend itself, since a
	 * site cannot know its stack's alignment.  Other values make
	 * pvpatch_apply() refuse the descriptor.  pvpatch.mk derives it from
	 * PVPATCH_KERNEL_CFLAGS (PVPATCH_STACK_ALIGN) and pvpatch_boot() sets
	 * it from there.
	 */
	unsigned int stack_align;
	/*
	 * A pre-patched image's original bytes (section .pvpatch.image, written
	 * by tools/pvrom image; NULL/0 or a zero header: the kernel is not
	 * pre-patched).  With a valid header, each record's native bytes are
	 * taken from its slot there, not from the site, which already holds
	 * what the image was patched to; a header that is neither zero nor
	 * valid refuses every record (PVPATCH_E_IMAGE: nothing is written).
	 */
	const uint8_t *image;
	size_t image_size;
	/* Private. */
	int ready;
	int image_used;				/* 1 valid image, -1 refused, 0 none */
	size_t thunks_used;			/* code and int3 padding written */
	const void *call_backend[PVPATCH_MAX_OP + 1];	/* CALL sites' backend, last apply */
	unsigned int n_freed;
	struct pvpatch_freed freed[PVPATCH_MAX_FREED];	/* never called again */
	uint8_t *stage;				/* pvpatch_repatch() planning: new thunks go here */
	size_t thunks_reclaimed;		/* bytes pvpatch_repatch() gave back (first fit then) */
	/* First fit: below place_from[u] no hole holds u * 16 bytes (reset
	 * whenever an entry leaves the index). */
	size_t place_from[8];
	uint32_t index_slots;			/* of thunk_slots, those in use */
};

/*
 * Patch every valid site as the policy says (falling back INLINE -> CALL ->
 * NATIVE when a choice cannot be honoured).  The first call checks every
 * record and keeps the original bytes.  report may be NULL.  Returns 0, or
 * -1 when the kernel's struct pvpatch itself is unusable (nothing is
 * written then).
 */
int pvpatch_apply(struct pvpatch *pv, const struct pvpatch_policy *policy,
		  struct pvpatch_report *report);

/* Every valid site back to its native code. */
int pvpatch_revert(struct pvpatch *pv, struct pvpatch_report *report);

/* --- live re-patching ------------------------------------------------------- */

/* Where one stopped CPU was interrupted (a kernel with interrupt or IST
 * stacks reports one context per stack in use: the scan covers each). */
struct pvpatch_cpu_context {
	uintptr_t rip;		/* the interrupted instruction */
	uintptr_t rsp;		/* the stack pointer there */
	uintptr_t stack_top;	/* end of that stack: [rsp, stack_top) is scanned */
};

/* Scratch pvpatch_repatch() plans into (bytes, for n records and a thunk
 * area of thunks_size bytes). */
#define PVPATCH_REPATCH_SCRATCH(n, thunks_size) \
	((size_t)(n) * (PVPATCH_MAX_SITE + 1) + (size_t)(thunks_size))
#define PVPATCH_REPATCH_TRIES	16		/* tries when the kernel says 0 */
#define PVPATCH_STACK_SCAN_MAX	(1ul << 20)	/* a larger [rsp, top) is not quiescent */

/* The kernel's side of a live re-patch. */
struct pvpatch_rendezvous {
	/*
	 * Stop every other CPU (NMI or equivalent: they may have interrupts
	 * off) so that none runs until release(); fill ctx[0..max) with their
	 * interrupted contexts and return how many, or -1 when they could not
	 * be stopped (then nothing is released).
	 */
	int (*stop)(void *arg, struct pvpatch_cpu_context *ctx, unsigned int max);
	/*
	 * Let them run on.  wrote: text changed while they were stopped; then
	 * each of them must run sync() (serialise: Linux's sync_core()) before
	 * it returns to its interrupted context.
	 */
	void (*release)(void *arg, bool wrote);
	/* Serialise the calling CPU (pvpatch runs it on its own CPU after the
	 * writes; NULL: pv->poke already does). */
	void (*sync)(void *arg);
	void *arg;
	struct pvpatch_cpu_context *ctx;	/* room for max_ctx contexts */
	unsigned int max_ctx;
	unsigned int tries;			/* stops before giving up (0: PVPATCH_REPATCH_TRIES) */
	/* The backend families (NULL/0: none): a CPU stopped inside one that a
	 * changing CALL site calls (by address or op class) is not quiescent. */
	const struct pvpatch_backend_family *families;
	unsigned int n_families;
	void *scratch;				/* PVPATCH_REPATCH_SCRATCH() bytes */
	size_t scratch_size;
};

/* What pvpatch_repatch() did: 0 done, else why nothing was written. */
enum pvpatch_repatch_status {
	PVPATCH_RP_DONE = 0,
	PVPATCH_RP_UNUSABLE,	/* descriptor, hooks or scratch unusable */
	PVPATCH_RP_PLAN,	/* a site or thunk could not be planned (thunk area full) */
	PVPATCH_RP_STOP,	/* the rendezvous hook could not stop the CPUs */
	PVPATCH_RP_BUSY,	/* never quiescent in rv->tries stops */
	PVPATCH_RP_NR
};

const char *pvpatch_repatch_str(unsigned int status);

/*
 * Move every site to policy while other CPUs run.  The contract:
 *  1. plan first: every site's bytes and new thunks into rv->scratch; a
 *     thunk that does not fit fails it all (PVPATCH_RP_PLAN); a CALL into
 *     a freed family falls back per site (PVPATCH_E_FREED), as at boot;
 *  2. rv->stop() stops the other CPUs and reports their contexts;
 *  3. quiescent when no RIP is in a changing site past its first byte, in
 *     the thunk area or in a family a changing CALL site calls, and no
 *     stack word in [rsp, stack_top) points into a changing site or the
 *     thunk area (conservative);
 *  4. else rv->release(arg, false) and again, rv->tries times at most, then
 *     PVPATCH_RP_BUSY;
 *  5. the writes, through pv->poke, while stopped;
 *  6. the thunks no site calls are given back (int3; space reused);
 *  7. rv->sync() here, then rv->release(arg, true): every other CPU
 *     serialises before it runs on.  Returns 0 or an enum
 * pvpatch_repatch_status (also in report->status); on any non-zero return
 * no byte of text or thunk area was written.  The contract is numbered in
 * arch/x86/alternatives/repatch.c and in the README ("Live re-patching").
 * report may be NULL.
 */
int pvpatch_repatch(struct pvpatch *pv, const struct pvpatch_policy *policy,
		    const struct pvpatch_rendezvous *rv, struct pvpatch_report *report);

/* --- the feature ROM ----------------------------------------------------- */

/* What the kernel's boot-time probes found: ROM entries are conditioned on it. */
struct pvpatch_hv_facts {
	uint32_t kvm_features;	/* CPUID 0x40000001 EAX under KVM, else 0 */
	uint8_t vmport;		/* the VMware backdoor answers */
	uint8_t vmport_gethz;	/* ... and answers GETHZ */
	/* What else pvpatch_observe() found (asm/pvpatch-boot.h). */
	uint8_t hypervisor;	/* CPUID 1 ECX bit 31: running under a hypervisor */
	char signature[13];	/* CPUID 0x40000000 EBX ECX EDX ("" without one) */
	uint32_t max_leaf;	/* CPUID 0x40000000 EAX */
	uint64_t vmport_tsc_hz;	/* TSC Hz the backdoor's GETHZ gave, or 0 */
	/* CPUID, for entries conditioned on any CPUID bit (ROM v2); NULL:
	 * such conditions do not hold. */
	void (*cpuid)(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]);
};

/* What a policy built from a ROM points into (PVPATCH_ROM_MAX_OVERRIDES:
 * asm/pvpatch-abi.h); the kernel provides it and keeps it as long as the
 * policy.  A refused ROM leaves it unchanged. */
struct pvpatch_rom_store {
	struct pvpatch_template tmpl[PVPATCH_MAX_OP + 1];
	struct pvpatch_override ov[PVPATCH_ROM_MAX_OVERRIDES];
	char func[PVPATCH_ROM_MAX_OVERRIDES][PVPATCH_ROM_FUNC_LEN];
	char hypervisor[PVPATCH_ROM_HYPERVISOR_LEN];
	unsigned int entries_used;	/* entries this kernel understands */
	unsigned int entries_ignored;	/* entries of an op, mode, condition or
					 * backend id it does not know (v2) */
};

/* What ROM entries are decided against. */
struct pvpatch_rom_env {
	const struct pvpatch_hv_facts *facts;
	const void *const *backends;	/* CALL: the op's default backend (id 0), or NULL */
	const uint8_t *preserves;	/* ... is PVPATCH_BACKEND (per op), or NULL */
	const uint32_t *writes;		/* ... its policy .writes (per op), or NULL */
	const struct pvpatch_backend_rec *recs;	/* registered backends, for v2 ids */
	size_t n_recs;
};

/*
 * Build *policy from a ROM (len bytes, format version 1 or 2): the entries
 * whose condition holds for env->facts, CALL going to env->backends[op] or
 * to the registered backend a v2 entry names.  Returns 0, or -1 with *why
 * when the ROM is not sound (bad magic, unknown version, checksum, a length
 * or offset out of bounds, ...): *policy and *store are then unchanged (the
 * whole ROM is checked before either is written).
 */
int pvpatch_rom_policy(const void *rom, size_t len, const struct pvpatch_rom_env *env,
		       struct pvpatch_policy *policy, struct pvpatch_rom_store *store,
		       const char **why);

/*
 * What every site of op would refuse in pol (enum pvpatch_reason): a mode
 * the op does not allow, INLINE without a template, a template that fits no
 * site.  PVPATCH_OK says nothing of a particular site.  pvrom-sim --verdict.
 */
int pvpatch_op_policy_check(unsigned int op, const struct pvpatch_op_policy *pol);

/* Whether template t contains an instruction with this PVT_* opcode. */
bool pvpatch_template_uses(const struct pvpatch_template *t, unsigned int opcode);

/* --- backends ----------------------------------------------------------------- */

/* A family of CALL backends: the ops of one class, in [start, end). */
struct pvpatch_backend_family {
	const char *cls;	/* op class (struct pvpatch_op_info.cls) */
	uint8_t *start, *end;
};

/*
 * After the last pvpatch_apply(): overwrite (through the text poke) the
 * families no site calls with fill (int3), so their memory can be
 * released; returns the bytes freed by this call.  A family is kept when a
 * CALL site has an op of its class or calls (directly or through a thunk) a
 * backend inside it.  The patcher remembers what it freed (up to
 * PVPATCH_MAX_FREED families; beyond that a family is not freed): a later
 * pvpatch_apply() asking CALL to a backend in a freed family refuses it for
 * those sites (PVPATCH_E_FREED) and they fall back.
 */
size_t pvpatch_free_backends(struct pvpatch *pv, const struct pvpatch_backend_family *fam,
			     unsigned int n, uint8_t fill);

/* Print the report through pv->print. */
void pvpatch_report_print(const struct pvpatch *pv,
			  const struct pvpatch_report *report);

#endif
