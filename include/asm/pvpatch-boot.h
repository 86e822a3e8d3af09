/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * pvpatch at boot: negotiation with the hypervisor, and the one boot call.
 *
 * A kernel that links pvpatch through pvpatch.mk and the linker fragments
 * (docs/porting.md) makes one call, early, on the boot CPU, with
 * interrupts off and its text writable:
 *
 *	static struct pvpatch pv = {
 *		.text_start = (uintptr_t)__text_start, .text_end = (uintptr_t)__text_end,
 *	};
 *	static struct pvpatch_negotiation neg;
 *	static const struct pvpatch_env env = {
 *		.cmdline = boot_cmdline, .inb = my_inb, .outw = my_outw,
 *		.print = my_puts, .rom_buf = rom_buf, .rom_size = sizeof(rom_buf),
 *	};
 *	pvpatch_boot(&pv, &env, &neg);
 *
 * pvpatch_boot() observes the hypervisor (CPUID signature and leaves, KVM
 * feature bits, optionally the VMware backdoor), reads the feature ROM the
 * hypervisor publishes through QEMU fw_cfg (file opt/org.pvpatch/rom), and
 * chooses the policy: pvpatch=off, else the ROM when it is sound, else the
 * built-in profile named by pvpatch.profile= or chosen for the hypervisor
 * found; then applies the command line's pvpatch.op= and pvpatch.site=
 * overrides, patches every site, frees the backend families no site calls
 * and prints a summary.  Kernels that negotiate themselves call the steps
 * below one by one.
 */
#ifndef PVPATCH_BOOT_H
#define PVPATCH_BOOT_H

#include <asm/pvpatch.h>

/* --- the kernel's hooks ----------------------------------------------------- */

struct pvpatch_env {
	const char *cmdline;	/* the kernel command line (NULL: none) */
	/* Report lines and warnings, one line per call without '\n' (NULL: silent). */
	void (*print)(const char *line);
	/* Port I/O for fw_cfg (ports 0x510/0x511); NULL: no ROM is read. */
	uint8_t (*inb)(uint16_t port);
	void (*outw)(uint16_t port, uint16_t value);
	/* CPUID (NULL: the instruction itself). */
	void (*cpuid)(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]);
	/* Probe the VMware backdoor (in from port 0x5658): only where it is
	 * known to be harmless (any QEMU -machine pc, VMware). */
	bool probe_vmport;
	/* Where the fw_cfg ROM is read (NULL: no ROM); PVPATCH_ROM_BUF_SIZE is
	 * enough for any ROM the shipped profiles make.  Free after boot. */
	void *rom_buf;
	size_t rom_size;
	/* The built-in profile when neither the ROM nor the command line
	 * chooses (NULL: pvpatch_profile_for() the hypervisor found). */
	const char *profile;
	/* A cycle or time counter (NULL: none): pvpatch_boot() times
	 * pvpatch_apply() with it, into neg->apply_time. */
	uint64_t (*clock)(void);
	/* The kernel will re-patch at run time (pvpatch_repatch(), e.g. after
	 * a live migration): pvpatch_boot() frees no backend family, since a
	 * later policy may call any (a pvpatch.repatch= schedule implies it). */
	bool keep_backends;
};

#define PVPATCH_ROM_BUF_SIZE 16384

/* --- what the kernel observed ----------------------------------------------- */
/* struct pvpatch_hv_facts (asm/pvpatch.h) is what ROM conditions test. */

/* CPUID (through env->cpuid), KVM's feature leaf, the backdoor when asked. */
void pvpatch_observe(const struct pvpatch_env *env, struct pvpatch_hv_facts *facts);

/* Read fw_cfg file name into buf: its size (more than size: truncated), or
 * -1 when fw_cfg or the file is absent or env has no port hooks. */
long pvpatch_fwcfg_read(const struct pvpatch_env *env, const char *name, void *buf,
			size_t size);

/* The built-in profile for a hypervisor: "kvm-vt" for KVM, "tcg" for QEMU
 * TCG, else "bare-metal". */
const char *pvpatch_profile_for(const struct pvpatch_hv_facts *facts);

/* The built-in profiles: pvpatch.mk's PVPATCH_PROFILES, compiled from
 * hypervisor-features/ into ROMs (tools/pvrom cfile). */
struct pvpatch_builtin_profile {
	const char *name;		/* the ROM's hypervisor name */
	const unsigned char *rom;	/* the ROM blob */
	unsigned int len;		/* its bytes */
};

/* The built-in profile of this name, or NULL. */
const struct pvpatch_builtin_profile *pvpatch_builtin_profile(const char *name);

/* --- the command line ------------------------------------------------------- */
/*
 *   pvpatch=off                 leave every site native
 *   pvpatch.debug               print every site's bytes before and after
 *   pvpatch.poison              tests: widened sites poison the registers
 *                               their record calls dead (PVPATCH_F_POISON)
 *   pvpatch.profile=NAME        use this built-in profile
 *   pvpatch.op=OP:MODE[,...]    every site of OP in MODE (native nop inline call)
 *   pvpatch.site=WHERE:MODE     one site; WHERE is 0xADDR or FUNC+0xOFF
 *   pvpatch.repatch=P[,P...]@N  a re-patch schedule for tests: the kernel
 *                               re-negotiates with profile P1, P2, ... in
 *                               turn every N of its timer ticks (pvpatch
 *                               runs no timer: it parses, the kernel
 *                               schedules); "boot" negotiates as at boot.
 *                               pvpatch_boot() then keeps every backend
 *                               family (a later profile may call them)
 * Other words are the kernel's; a malformed pvpatch option is reported
 * through print and ignored.
 */
/* PVPATCH_CMDLINE_MAX_SITES and PVPATCH_NAME_MAX: asm/pvpatch-abi.h. */
#define PVPATCH_REPATCH_MAX_PROFILES 8
struct pvpatch_cmdline_repatch {
	unsigned int n;				/* profiles (0: no schedule) */
	unsigned int every;			/* timer ticks between re-patches */
	char profile[PVPATCH_REPATCH_MAX_PROFILES][PVPATCH_NAME_MAX];
};

struct pvpatch_cmdline {
	bool off, debug, poison;
	char profile[PVPATCH_NAME_MAX];		/* "" when not given */
	int8_t op_mode[PVPATCH_MAX_OP + 1];	/* -1: not given */
	struct pvpatch_override site[PVPATCH_CMDLINE_MAX_SITES];
	char site_func[PVPATCH_CMDLINE_MAX_SITES][PVPATCH_NAME_MAX];
	unsigned int n_sites;
	unsigned int n_bad;			/* pvpatch options ignored */
	struct pvpatch_cmdline_repatch repatch;	/* pvpatch.repatch= */
};

void pvpatch_cmdline_parse(const char *s, struct pvpatch_cmdline *cmd,
			   void (*print)(const char *line));

/* --- CALL backends ---------------------------------------------------------- */
/*
 * A kernel registers its backends where it defines them:
 *
 *	PVPATCH_BACKEND_IN("mmu") static unsigned long my_read_cr3(void) { ... }
 *	PVPATCH_REGISTER_BACKEND(PVPATCH_OP_READ_CR3, my_read_cr3);
 *
 * PVPATCH_BACKEND_IN(cls) makes a register-preserving backend (it keeps
 * every register but its result; no SSE in it) in the family section of op
 * class cls, so that pvpatch_boot() frees the families no site calls;
 * PVPATCH_REGISTER_C_BACKEND() registers a plain C function instead: the
 * liveness pass ($(PVPATCH_LIVENESS)) writes into its record the
 * caller-saved registers it may write (PVPATCH_BACKEND_F_ANALYSED, writes),
 * and sites whose live registers miss those call it directly; else, or
 * unanalysed, through a thunk saving what it may overwrite.  The records
 * live in section .pvpatch.backends; tools/pvrom check reads them from the
 * ELF.
 */
#define PVPATCH_BACKEND_IN(cls) \
	PVPATCH_BACKEND __attribute__((section(".pvbackend." cls), noinline, used))
#define PVPATCH_BACKEND_RECORD(op_nr, func, fl, nr)					\
	static const struct pvpatch_backend_rec __pvpatch_backend_##func		\
	__attribute__((used, section(PVPATCH_BACKEND_SECTION), aligned(8))) =		\
		{ .fn = (uint64_t)(uintptr_t)(func), .op = (op_nr), .flags = (fl), .id = (nr) }
#define PVPATCH_REGISTER_BACKEND(op_nr, func) \
	PVPATCH_BACKEND_RECORD(op_nr, func, PVPATCH_BACKEND_F_PRESERVES, 0)
#define PVPATCH_REGISTER_C_BACKEND(op_nr, func) PVPATCH_BACKEND_RECORD(op_nr, func, 0, 0)
/* A further backend for an op, which a v2 ROM entry names by its id (1-65535). */
#define PVPATCH_REGISTER_BACKEND_ID(op_nr, func, nr) \
	PVPATCH_BACKEND_RECORD(op_nr, func, PVPATCH_BACKEND_F_PRESERVES, nr)

/* --- the negotiation -------------------------------------------------------- */

/* Everything negotiation produces; the policy points into it, so the kernel
 * keeps it (static) as long as the policy may be applied again. */
struct pvpatch_negotiation {
	struct pvpatch_hv_facts facts;
	struct pvpatch_cmdline cmd;
	const void *backend[PVPATCH_MAX_OP + 1];	/* registered backends (id 0) */
	uint8_t preserves[PVPATCH_MAX_OP + 1];
	uint32_t writes[PVPATCH_MAX_OP + 1];	/* policy .writes of each */
	const struct pvpatch_backend_rec *recs;	/* all registered, for ROM backend ids */
	size_t n_recs;
	struct pvpatch_policy policy;
	struct pvpatch_rom_store store;
	struct pvpatch_override overrides[PVPATCH_ROM_MAX_OVERRIDES + PVPATCH_CMDLINE_MAX_SITES];
	char source[48];	/* "off", "rom:NAME", "built-in:NAME", "unknown-profile:NAME" */
	const char *rom_refused;	/* why the fw_cfg ROM was refused, or NULL */
	struct pvpatch_report report;
	uint64_t apply_time;	/* env->clock ticks pvpatch_apply() took */
	size_t backend_bytes_freed;
};

/* Registered backends from records [recs, recs + n) (kept: a v2 ROM entry
 * may name one by id): an op registered twice with id 0 keeps its first
 * backend and the second is reported as a warning. */
void pvpatch_backends_collect(struct pvpatch_negotiation *neg,
			      const struct pvpatch_backend_rec *recs, size_t n,
			      void (*print)(const char *line));

/*
 * Choose neg->policy from neg->facts, neg->cmd, neg->backend and the ROM
 * (rom_len < 0: none; a refused ROM is reported and ignored): off, else the
 * ROM, else the built-in profile (cmdline, then profile, then
 * pvpatch_profile_for()); then the command line's op and site overrides.
 * The same code runs at boot, in tools/pvrom check and in the fuzzers.
 */
void pvpatch_negotiate(struct pvpatch_negotiation *neg, const void *rom, long rom_len,
		       const char *profile, void (*print)(const char *line));

/*
 * Everything pvpatch_boot() does before it patches: parse env->cmdline,
 * observe, collect the registered backends, read the fw_cfg ROM and choose
 * neg->policy (neg is cleared first).  With profile non-NULL that built-in
 * profile is taken instead of the ROM and of pvpatch.profile= (the command
 * line's op and site overrides still apply).  A running kernel calls it to
 * negotiate again (after a live migration, when the host says its features
 * changed, on a test schedule), then pvpatch_repatch(pv, &neg->policy, ...).
 * neg must not be the negotiation the policy in use points into: keep two
 * and alternate.
 */
void pvpatch_decide(const struct pvpatch_env *env, struct pvpatch_negotiation *neg,
		    const char *profile);

/*
 * The boot call: observe, read the ROM, negotiate, pvpatch_apply(), free
 * the unused backend families (int3 through pv->poke) and print the report.
 * pv's record and buffer fields come from the linker fragments unless the
 * kernel filled them (pvpatch_linked_init()); pv->print defaults to
 * env->print, pv->stack_align (0) to pvpatch.mk's PVPATCH_STACK_ALIGN.  Returns 0, or -1 when the site table is unusable (nothing
 * is written then).
 */
int pvpatch_boot(struct pvpatch *pv, const struct pvpatch_env *env,
		 struct pvpatch_negotiation *neg);

/* --- what the linker fragments define (pvpatch.mk: PVPATCH_LDS_*) ----------- */

extern const struct pvpatch_site __pvpatch_sites_start[], __pvpatch_sites_end[];
extern const struct pvpatch_backend_rec __pvpatch_backends_start[], __pvpatch_backends_end[];
extern struct pvpatch_site_state __pvpatch_state_start[];
extern uint8_t __pvpatch_saved_start[], __pvpatch_saved_end[];
extern struct pvpatch_thunk_slot __pvpatch_thunk_index_start[], __pvpatch_thunk_index_end[];
extern uint8_t __pvpatch_thunks_start[], __pvpatch_thunks_end[];
extern const uint8_t __pvpatch_image_start[], __pvpatch_image_end[];

/* The backend families of the linker fragment, one per op class. */
extern const struct pvpatch_backend_family pvpatch_linked_families[];
extern const unsigned int pvpatch_nr_linked_families;

/*
 * Fill pv's sites, state, saved, thunks and thunk_index fields from the
 * linker fragments' symbols (pvpatch_boot() does it when pv->sites is
 * NULL); the kernel sets text_start and text_end: every site and backend
 * lies between them.
 */
void pvpatch_linked_init(struct pvpatch *pv);

/* Mode names: "NATIVE" "NOP" "INLINE" "CALL"; pvpatch_mode_parse() takes
 * them in any case, -1 when unknown. */
const char *pvpatch_mode_name(unsigned int mode);
int pvpatch_mode_parse(const char *s, size_t len);

#endif
