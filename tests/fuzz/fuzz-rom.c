// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libFuzzer target for the feature-ROM parser (arch/x86/alternatives/rom.c)
 * and, through the policy it builds, the template fitter and the rest of
 * the runtime patcher.
 *
 * The input is a short prefix of settings followed by a ROM.  A mutated ROM
 * rarely keeps a valid checksum, so, when the prefix says so, the target
 * repairs a copy of it before parsing: magic, version, header_len,
 * total_len, and last the CRC-32 (zlib's, computed here with a table,
 * independently of the parser's bitwise one).  The ROM goes to
 * pvpatch_rom_policy() in an exact-size heap buffer (so AddressSanitizer
 * traps a read past the data), with the bytes between total_len and the
 * end of the data poisoned too: the parser must read nothing outside
 * total_len.  It checks:
 *
 *  - refused: *why is a non-empty string and the output policy and the
 *    store are byte for byte the patterns they were filled with;
 *  - accepted: every op's mode < PVPATCH_NR_MODES; tmpl NULL or the op's
 *    own template in the store, n_insns <= PVT_MAX_INSNS; n_overrides <=
 *    PVPATCH_ROM_MAX_OVERRIDES, the overrides in the store, their function
 *    names NUL-terminated within 32 bytes;
 *  - either way: the verdict, and on success the whole policy (modes,
 *    backends, params, templates, overrides) and the entry counts, agree
 *    with an independent model of the format (README.md, "The ROM");
 *    the ROM bytes are unchanged.
 *
 * An accepted policy is then applied with pvpatch_apply() to a fake text of
 * valid sites, one per op with its real native bytes and the site length
 * of pvpatch_op_table (plus a second site, another encoding or other
 * registers, for send_ipi, sched_yield, mem_size, calibrate_tsc, save_fl and
 * read_cr3), all in one static arena with the records and the thunk area.
 * A poke hook checks that every write is a whole accepted site or lies in
 * the thunk area; afterwards no byte outside the sites and the used thunk
 * area has changed, every site is in a mode its op allows and the policy
 * (or an override) asked for or a fallback of it, and every site decodes
 * with insn_decode() to instructions ending exactly at the site end (CALL
 * sites call the backend or a thunk, INLINE and NOP sites call nothing).
 * The code of INLINE sites is checked from its bytes alone against what a
 * template may do (check_inline_effects()): only the template set's
 * instructions, balanced pushes and pops, %rsp untouched, no live register
 * left changed, the result written.  Optionally the same policy again
 * (writes nothing) and a revert (every site native again, byte for byte).
 *
 * The same ROM then goes through the library's negotiation
 * (fuzz-negotiation.h): read back through the fw_cfg reader from a fake
 * device, handed to pvpatch_negotiate() under one of a few command lines,
 * whose verdict must be the parser's; and parsed as a command line itself.
 *
 * Any failure prints what went wrong and aborts, which libFuzzer reports as
 * a crash with the input saved.  FUZZ_ROM_VERBOSE=1 prints the verdict
 * (one line per execution, naming the input by its size and zlib CRC-32, so
 * that a script can match verdicts to inputs one to one) and each site's
 * mode and rejects; FUZZ_ROM_STATS=1 prints at exit how many
 * inputs were accepted and why the others were refused.
 *
 * Input layout (missing bytes read as 0; tests/fuzz/make-rom-seeds.py
 * writes it):
 *   [0] fix     repair the ROM copy: bit 0 checksum (done last), 1 magic,
 *               2 version, 3 total_len = ROM length - cut, 4 header_len = 48,
 *               5 entry lengths and count, 6 modes, conditions and the
 *               override count (fix_body())
 *   [1] cfg     bit 0 no backends table (NULL), 1 the mixed backends table
 *               (NULL and out-of-rel32-range entries), 2 lookup hook,
 *               3 apply twice, 4 revert, 5-7 misalignment of the ROM (0-7)
 *   [2..5]      facts.kvm_features (u32 LE)
 *   [6] vm      bit 0 facts.vmport, 1 facts.vmport_gethz, 2-3 the hypervisor
 *               signature (none, KVM, TCG, VMware), 4 stack_align 16 (else 8),
 *               5 no CPUID hook, 6 small thunk area (64 bytes), 7 facts NULL
 *               (must be refused)
 *   [7] cut     trailing bytes after total_len (with fix bit 3)
 *   [8] regs    0: sites use the default registers (ret %rax, arguments
 *               %rdi %rsi %rdx %rcx; the second sites other ones), else
 *               a seed for other choices
 *   [9] clob    extra clobbers of the sites: 0 none, 1 caller-saved,
 *               2 all but %rsp, 3 pseudo-random (from regs)
 *   [10..]      the ROM
 */
#include <stdbool.h>
#include <stddef.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/asan_interface.h>

#include <asm/pvpatch.h>
#include "insn.h"

#define PREFIX		10
#define SLOT		64		/* sites start at multiples */
#define N_EXTRA		6
#define NSITES		(PVPATCH_MAX_OP + N_EXTRA)
#define TEXT_SIZE	(NSITES * SLOT)
#define THUNK_SIZE	4096
#define THUNK_SMALL	64
#define GUARD		64

#define FUZZ_NAME "fuzz-rom"
#include "fuzz-shared.h"

/* Records, text and thunks in one object (records reach the text). */
struct arena {
	uint8_t guard0[GUARD];
	struct pvpatch_site rec[NSITES];
	uint8_t guard1[GUARD];
	uint8_t text[TEXT_SIZE];
	uint8_t guard2[GUARD];
	uint8_t thunks[THUNK_SIZE];
	uint8_t guard3[GUARD];
};

_Static_assert(offsetof(struct arena, thunks) % 16 == 0, "thunk area alignment");

static struct arena A __attribute__((aligned(64)));
static struct arena S0;			/* the arena before the first apply */
static uint8_t text0[TEXT_SIZE];	/* the text with every site native */

/* --- native encodings (as GNU as assembles the spec's native code) ------ */

/* The second site of these ops (the other encoding, or other registers). */
static const uint8_t extra_ops[N_EXTRA] = {
	PVPATCH_OP_SEND_IPI, PVPATCH_OP_SCHED_YIELD, PVPATCH_OP_MEM_SIZE,
	PVPATCH_OP_CALIBRATE_TSC, PVPATCH_OP_SAVE_FL, PVPATCH_OP_READ_CR3,
};

/* --- backends (never executed) -------------------------------------------- */

static const void *be_real[PVPATCH_MAX_OP + 1];		/* a function for every op */
static const void *be_mixed[PVPATCH_MAX_OP + 1];	/* and NULL, far, in the text */
static const uint8_t preserves[PVPATCH_MAX_OP + 1];	/* the defaults are plain C */
static uint32_t writes[PVPATCH_MAX_OP + 1];	/* ... some of them analysed */
/* The kernel's backends registered with an id, which v2 entries may name. */
static struct pvpatch_backend_rec id_recs[8];

NOCOV static void init_backends(void)
{
	const void *fn[3] = { (const void *)be_one, (const void *)be_two, (const void *)be_three };

	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
		be_real[op] = fn[op % 3];
		switch (op % 5) {
		case 0: be_mixed[op] = fn[0]; break;
		case 1: be_mixed[op] = fn[1]; break;
		case 2: be_mixed[op] = NULL; break;
		case 3: be_mixed[op] = (const void *)(uintptr_t)0x7ff000001000ull; break;	/* far */
		case 4: be_mixed[op] = A.text + TEXT_SIZE / 2; break;
		}
		writes[op] = op % 3 ? 0 : PVPATCH_WRITES_KNOWN | ((op * 0x35u) & 0x0fc7u);
	}
	/* ids 1-3 of a few ops, one of them in the same op twice */
	for (unsigned int i = 0; i < sizeof(id_recs) / sizeof(id_recs[0]); i++)
		id_recs[i] = (struct pvpatch_backend_rec){
			.fn = (uint64_t)(uintptr_t)fn[(i + 1) % 3], .op = (uint16_t)(1 + i / 2 * 7),
			.flags = i & 1 ? PVPATCH_BACKEND_F_PRESERVES : i & 2 ? PVPATCH_BACKEND_F_ANALYSED : 0,
			.id = (uint16_t)(1 + i % 3), .writes = (uint16_t)(i & 2 ? 0x0401u * i : 0),
		};
}

/* --- CRC-32 as zlib's crc32(), with a table ---------------------------------- */
static uint32_t crc_table[256];

NOCOV static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

NOCOV static uint32_t crc32_zlib(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* --- little-endian fields ---------------------------------------------------- */
NOCOV static uint32_t le(const uint8_t *p, unsigned int n)
{
	uint32_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

NOCOV static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le(p + 4, 4) << 32 | le(p, 4);
}

NOCOV static void put(uint8_t *p, uint32_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

#define H(f) PVPATCH_ROM_HEADER_OFF_##f
#define E(f) PVPATCH_ROM_ENTRY_OFF_##f
#define H2(f) PVPATCH_ROM_HEADER_V2_OFF_##f
#define E2(f) PVPATCH_ROM_ENTRY_V2_OFF_##f

/* Where a version puts the header fields that moved and an entry's fixed
 * part (magic..checksum, entry_len and op are where version 1 has them). */
struct fmt {
	unsigned int version, hsize, esize, name_off, name_size;
	unsigned int n_entries, n_overrides, entries_off, overrides_off;
};

NOCOV static struct fmt fmt_of(unsigned int version)
{
	if (version == 2)
		return (struct fmt){ 2, PVPATCH_ROM_HEADER_V2_SIZE, PVPATCH_ROM_ENTRY_V2_SIZE,
				     H2(HYPERVISOR), PVPATCH_ROM_HYPERVISOR_LEN, H2(N_ENTRIES),
				     H2(N_OVERRIDES), H2(ENTRIES_OFF), H2(OVERRIDES_OFF) };
	return (struct fmt){ 1, PVPATCH_ROM_HEADER_SIZE, PVPATCH_ROM_ENTRY_SIZE, H(HYPERVISOR),
			     PVPATCH_ROM_V1_HYPERVISOR_LEN, H(N_ENTRIES), H(N_OVERRIDES),
			     H(ENTRIES_OFF), H(OVERRIDES_OFF) };
}
#define I(f) PVPATCH_ROM_INSN_OFF_##f
#define O(f) PVPATCH_ROM_OVERRIDE_OFF_##f

/*
 * Repairs inside the ROM (total bytes): with fix bit 5, entry_len of every
 * entry is its fixed part and its instructions (at most PVT_MAX_INSNS), and
 * n_entries counts the entries that fit; with bit 6, modes and conditions
 * are known ones and n_overrides counts the overrides that fit (at most
 * PVPATCH_ROM_MAX_OVERRIDES).  Mutations then mostly change what entries
 * say rather than break their chain: deeper into the fitter.
 */
NOCOV static void fix_body(uint8_t *rom, uint32_t total, uint8_t fix)
{
	const struct fmt F = fmt_of(le(rom + H(VERSION), 2));
	uint32_t off, n, i;

	if (total < F.hsize)
		return;
	off = le(rom + F.entries_off, 4);
	n = le(rom + F.n_entries, 2);
	if ((fix & 0x60) && off >= PVPATCH_ROM_HEADER_SIZE && off <= total) {
		for (i = 0; i < n; i++) {
			uint8_t *e = rom + off;
			uint32_t ni, elen;

			if (total - off < F.esize)
				break;
			if (fix & 0x40) {
				/* v2 keeps some unknown ones: ignored per entry */
				e[F.version == 2 ? E2(MODE) : E(MODE)] %= PVPATCH_NR_MODES + F.version - 1;
				e[F.version == 2 ? E2(COND) : E(COND)] %=
					F.version == 2 ? PVPATCH_ROM_NR_CONDS + 1 : PVPATCH_ROM_V1_NR_CONDS;
			}
			elen = le(e + E(ENTRY_LEN), 2);
			if (fix & 0x20) {
				uint8_t *nip = e + (F.version == 2 ? E2(N_INSNS) : E(N_INSNS));

				ni = *nip;
				if (ni > PVT_MAX_INSNS)
					*nip = (uint8_t)(ni = PVT_MAX_INSNS);
				elen = F.esize + ni * PVPATCH_ROM_INSN_SIZE;
				if (elen > total - off)
					break;
				put(e + E(ENTRY_LEN), elen, 2);
			} else if (elen < F.esize || elen > total - off) {
				break;
			}
			off += elen;
		}
		if (fix & 0x20)
			put(rom + F.n_entries, i, 2);
	}
	off = le(rom + F.overrides_off, 4);
	n = le(rom + F.n_overrides, 2);
	if ((fix & 0x40) && off >= PVPATCH_ROM_HEADER_SIZE && off <= total) {
		if (n > PVPATCH_ROM_MAX_OVERRIDES)
			n = PVPATCH_ROM_MAX_OVERRIDES;
		if (n > (total - off) / PVPATCH_ROM_OVERRIDE_SIZE)
			n = (total - off) / PVPATCH_ROM_OVERRIDE_SIZE;
		put(rom + F.n_overrides, n, 2);
		for (i = 0; i < n; i++)
			rom[off + i * PVPATCH_ROM_OVERRIDE_SIZE + O(MODE)] %= PVPATCH_NR_MODES;
	}
}

/* --- the model: what README.md ("The ROM") and rom.c's comment say ---------- */
struct model {
	const char *refused;		/* NULL: accepted */
	unsigned int version;
	struct {
		const void *backend;	/* CALL */
		uint8_t preserves;
		uint32_t writes;
		uint8_t mode;
		uint8_t n_insns;	/* 0: no template */
		uint16_t hv_clobbers;
		uint32_t insns;		/* ROM offset of the first instruction */
		uint64_t params[PVT_MAX_PARAMS];
	} op[PVPATCH_MAX_OP + 1];
	unsigned int n_ov, used, ignored;
	uint32_t ov_off;
};


NOCOV static const struct pvpatch_backend_rec *model_rec(unsigned int op, unsigned int id)
{
	for (unsigned int i = 0; i < sizeof(id_recs) / sizeof(id_recs[0]); i++)
		if (id_recs[i].op == op && id_recs[i].id == id && id_recs[i].fn)
			return &id_recs[i];
	return NULL;
}

/* CPUID as the fuzzer's CPU answers it: a hash of leaf, subleaf and
 * register; the basic range ends at 0x20, the extended one at 0x80000008. */
NOCOV static void fuzz_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	for (int i = 0; i < 4; i++)
		r[i] = (leaf * 0x9e3779b1u) ^ (sub * 0x85ebca6bu) ^ (uint32_t)(i * 0xc2b2ae35u);
	if (leaf == 0)
		r[0] = 0x20;
	if (leaf == 0x80000000u)
		r[0] = 0x80000008u;
}

NOCOV static bool model_cond(const uint8_t *e, unsigned int version,
			     const struct pvpatch_hv_facts *f)
{
	unsigned int cond = e[version == 2 ? E2(COND) : E(COND)];
	unsigned int arg = e[version == 2 ? E2(COND_BIT) : E(COND_ARG)];

	switch (cond) {
	case PVPATCH_ROM_COND_ALWAYS:
		return true;
	case PVPATCH_ROM_COND_KVM_BIT:
		return arg < 32 && (f->kvm_features & (1u << arg));
	case PVPATCH_ROM_COND_VMPORT:
		return f->vmport;
	case PVPATCH_ROM_COND_VMPORT_GETHZ:
		return f->vmport_gethz;
	case PVPATCH_ROM_COND_CPUID_BIT: {
		uint32_t leaf = (uint32_t)le(e + E2(COND_LEAF), 4), reg = e[E2(COND_REG)], r[4], max;

		if (!f->cpuid || reg > 3 || arg > 31)
			return false;
		if ((leaf & 0xffff0000u) == 0x40000000u) {
			max = f->hypervisor ? f->max_leaf : 0;
		} else {
			f->cpuid(leaf & 0xffff0000u, 0, r);
			max = r[0];
		}
		if (leaf > max)
			return false;
		f->cpuid(leaf, (uint32_t)le(e + E2(COND_SUBLEAF), 4), r);
		return r[reg] >> arg & 1;
	}
	default: {	/* SIGNATURE */
		char sig[13] = { 0 };

		memcpy(sig, e + E2(COND_SIG), 12);
		return !strcmp(sig, f->signature);
	}
	}
}

NOCOV static void model(const uint8_t *rom, size_t len, const struct pvpatch_hv_facts *f,
			const void *const *be, const uint8_t *pres, struct model *m)
{
	uint32_t total, hlen, off, ovoff, n, sum, version;
	uint8_t hdr[PVPATCH_ROM_HEADER_SIZE];
	struct fmt F;

	memset(m, 0, sizeof(*m));
	if (!f) {
		m->refused = "no facts";
		return;
	}
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
		m->op[op].backend = be ? be[op] : NULL;
		m->op[op].preserves = pres[op];
		m->op[op].writes = writes[op];
	}
	if (len < PVPATCH_ROM_HEADER_SIZE) {
		m->refused = "short";
		return;
	}
	version = le(rom + H(VERSION), 2);
	if (le(rom + H(MAGIC), 4) != PVPATCH_ROM_MAGIC || version < 1 || version > 2) {
		m->refused = "magic or version";
		return;
	}
	F = fmt_of(version);
	m->version = version;
	if (len < F.hsize) {
		m->refused = "short";
		return;
	}
	hlen = le(rom + H(HEADER_LEN), 2);
	total = le(rom + H(TOTAL_LEN), 4);
	if (hlen < F.hsize || hlen > total || total > len) {
		m->refused = "lengths";
		return;
	}
	memcpy(hdr, rom, sizeof(hdr));
	put(hdr + H(CHECKSUM), 0, 4);
	sum = crc32_zlib(hdr, sizeof(hdr));
	{
		/* CRC of hdr ++ rom[48..total) */
		uint32_t c = sum ^ 0xffffffffu;

		for (uint32_t i = PVPATCH_ROM_HEADER_SIZE; i < total; i++)
			c = crc_table[(c ^ rom[i]) & 0xff] ^ (c >> 8);
		sum = c ^ 0xffffffffu;
	}
	if (sum != le(rom + H(CHECKSUM), 4)) {
		m->refused = "checksum";
		return;
	}
	{
		/* The name: 1 to size-1 of [A-Za-z0-9._+-] starting alphanumeric, then NULs. */
		const uint8_t *nm = rom + F.name_off;
		size_t k = 0, size = F.name_size;

		while (k < size && nm[k] && (isalnum(nm[k]) ||
					     (k && strchr("._+-", nm[k]))))
			k++;
		for (size_t j = k; j < size; j++)
			if (nm[j] || k == 0 || j == 0)
				k = size;
		if (k == 0 || k >= size) {
			m->refused = "name";
			return;
		}
	}
	off = le(rom + F.entries_off, 4);
	n = le(rom + F.n_entries, 2);
	if (n && (off < PVPATCH_ROM_HEADER_SIZE || off > total)) {
		m->refused = "entries offset";
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = rom + off;
		const struct pvpatch_backend_rec *rec = NULL;
		uint32_t elen, op, mode, cond, ni, id = 0;

		if (total - off < F.esize) {
			m->refused = "entry past the end";
			return;
		}
		elen = le(e + E(ENTRY_LEN), 2);
		op = le(e + E(OP), 2);
		mode = e[version == 2 ? E2(MODE) : E(MODE)];
		cond = e[version == 2 ? E2(COND) : E(COND)];
		ni = e[version == 2 ? E2(N_INSNS) : E(N_INSNS)];
		if (version == 2)
			id = le(e + E2(BACKEND_ID), 2);
		if (elen < F.esize || elen > total - off ||
		    F.esize + ni * PVPATCH_ROM_INSN_SIZE > elen || ni > PVT_MAX_INSNS ||
		    (version == 1 && (mode >= PVPATCH_NR_MODES || cond >= PVPATCH_ROM_V1_NR_CONDS))) {
			m->refused = "entry";
			return;
		}
		if (!op_info(op) || mode >= PVPATCH_NR_MODES || cond >= PVPATCH_ROM_NR_CONDS ||
		    (id && !(rec = model_rec(op, id)))) {
			/* an op (0 is none), mode, condition or backend it does not know */
			m->ignored++;
		} else {
			m->used++;
			if (model_cond(e, version, f)) {
				m->op[op].mode = (uint8_t)mode;
				m->op[op].n_insns = (uint8_t)ni;
				m->op[op].hv_clobbers = (uint16_t)le(e + (version == 2 ? E2(HV_CLOBBERS) :
										E(HV_CLOBBERS)), 2);
				m->op[op].insns = off + F.esize;
				m->op[op].backend = rec ? (const void *)(uintptr_t)rec->fn :
						    be ? be[op] : NULL;
				m->op[op].preserves = rec ? rec->flags & PVPATCH_BACKEND_F_PRESERVES :
						      pres[op];
				/* a record's write set counts only when the pass analysed it */
				m->op[op].writes = !rec ? writes[op] :
						   rec->flags & PVPATCH_BACKEND_F_ANALYSED ?
						   PVPATCH_WRITES_KNOWN | rec->writes : 0;
				for (int k = 0; k < PVT_MAX_PARAMS; k++)
					m->op[op].params[k] = le64(e + (version == 2 ? E2(PARAMS) :
									E(PARAMS)) + 8 * k);
			}
		}
		off += elen;
	}
	ovoff = le(rom + F.overrides_off, 4);
	n = le(rom + F.n_overrides, 2);
	if (n > PVPATCH_ROM_MAX_OVERRIDES) {
		m->refused = "overrides";
		return;
	}
	if (n && (ovoff < PVPATCH_ROM_HEADER_SIZE || ovoff > total ||
		  (uint64_t)n * PVPATCH_ROM_OVERRIDE_SIZE > total - ovoff)) {
		m->refused = "overrides offset";
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		if (rom[ovoff + i * PVPATCH_ROM_OVERRIDE_SIZE + O(MODE)] >= PVPATCH_NR_MODES) {
			m->refused = "override mode";
			return;
		}
	m->n_ov = n;
	m->ov_off = ovoff;
}

/* --- the checks of the parser's result --------------------------------------- */
static struct pvpatch_rom_store store;
static struct pvpatch_policy pol;
static uint8_t pattern[sizeof(struct pvpatch_policy)];
static uint8_t store_pattern[sizeof(struct pvpatch_rom_store)];

/* A NUL-padded name field as the store must hold it: at most size-1 chars. */
NOCOV static void check_name(const char *got, const uint8_t *field, size_t size, const char *what)
{
	CHECK(memchr(got, 0, size) != NULL, "%s not NUL-terminated within %zu bytes", what, size);
	for (size_t i = 0; i + 1 < size; i++) {
		CHECK(got[i] == (char)field[i], "%s byte %zu: %#x, ROM %#x", what, i,
		      (uint8_t)got[i], field[i]);
		if (!field[i])
			break;
	}
}

NOCOV static void check_policy(const uint8_t *rom, const struct model *m)
{
	const struct fmt F = fmt_of(m->version);

	uintptr_t t0 = (uintptr_t)&store.tmpl[0], t1 = (uintptr_t)&store.tmpl[PVPATCH_MAX_OP + 1];

	CHECK(store.entries_used == m->used && store.entries_ignored == m->ignored,
	      "entries used %u ignored %u, model %u %u", store.entries_used,
	      store.entries_ignored, m->used, m->ignored);
	check_name(store.hypervisor, rom + F.name_off, F.name_size, "hypervisor");
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
		const struct pvpatch_op_policy *o = &pol.op[op];
		const struct pvpatch_template *t = o->tmpl;

		CHECK(o->mode < PVPATCH_NR_MODES, "op %u: mode %u", op, o->mode);
		CHECK(o->mode == m->op[op].mode, "op %u: mode %u, model %u", op, o->mode, m->op[op].mode);
		CHECK(o->backend == m->op[op].backend && o->preserves == m->op[op].preserves,
		      "op %u: backend %p preserves %u, model %p %u", op, o->backend, o->preserves,
		      m->op[op].backend, m->op[op].preserves);
		CHECK(o->writes == m->op[op].writes, "op %u: writes %#x, model %#x", op, o->writes,
		      m->op[op].writes);
		for (int k = 0; k < PVT_MAX_PARAMS; k++)
			CHECK(o->params[k] == m->op[op].params[k], "op %u: param %d %#llx, model %#llx",
			      op, k, (unsigned long long)o->params[k],
			      (unsigned long long)m->op[op].params[k]);
		if (!t) {
			CHECK(m->op[op].n_insns == 0, "op %u: no template, model %u insns", op,
			      m->op[op].n_insns);
			continue;
		}
		CHECK((uintptr_t)t >= t0 && (uintptr_t)t < t1, "op %u: template %p outside the store",
		      op, (const void *)t);
		CHECK(t == &store.tmpl[op], "op %u: another op's template (%td)", op, t - store.tmpl);
		CHECK(t->n_insns >= 1 && t->n_insns <= PVT_MAX_INSNS, "op %u: template of %u insns", op,
		      t->n_insns);
		CHECK(t->n_insns == m->op[op].n_insns, "op %u: %u insns, model %u", op, t->n_insns,
		      m->op[op].n_insns);
		CHECK(t->name == store.hypervisor, "op %u: template name", op);
		CHECK(t->hv_clobbers == m->op[op].hv_clobbers, "op %u: hv_clobbers %#x, model %#x", op,
		      t->hv_clobbers, m->op[op].hv_clobbers);
		for (unsigned int i = 0; i < t->n_insns; i++) {
			const uint8_t *in = rom + m->op[op].insns + i * PVPATCH_ROM_INSN_SIZE;
			const struct pvt_insn *x = &t->insn[i];

			CHECK(x->op == in[I(OP)] && x->dst == in[I(DST)] && x->src == in[I(SRC)] &&
			      x->width == in[I(WIDTH)] && x->imm == le64(in + I(IMM)),
			      "op %u: insn %u differs from the ROM", op, i);
		}
		/* pvpatch_template_uses(), which the kernel asks of such templates */
		for (unsigned int k = 0; k < 256; k += k < PVT_NR_OPCODES + 1 ? 1 : 37) {
			bool uses = false;

			for (unsigned int i = 0; i < t->n_insns; i++)
				uses |= t->insn[i].op == k;
			CHECK(pvpatch_template_uses(t, k) == uses, "op %u: template_uses(%u) %d", op, k,
			      !uses);
		}
	}
	CHECK(!pvpatch_template_uses(NULL, PVT_PAUSE), "template_uses(NULL)");
	CHECK(pol.n_overrides <= PVPATCH_ROM_MAX_OVERRIDES, "%u overrides", pol.n_overrides);
	CHECK(pol.n_overrides == m->n_ov, "%u overrides, model %u", pol.n_overrides, m->n_ov);
	CHECK(pol.n_overrides ? pol.overrides == store.ov : pol.overrides == NULL,
	      "overrides at %p", (const void *)pol.overrides);
	for (unsigned int i = 0; i < pol.n_overrides; i++) {
		const struct pvpatch_override *o = &pol.overrides[i];
		const uint8_t *ro = rom + m->ov_off + i * PVPATCH_ROM_OVERRIDE_SIZE;

		CHECK(o->func == store.func[i], "override %u: func %p", i, (const void *)o->func);
		check_name(o->func, ro + O(FUNC), PVPATCH_ROM_FUNC_LEN, "override func");
		CHECK(o->addr == le(ro + O(OFFSET), 4), "override %u: offset %#lx", i,
		      (unsigned long)o->addr);
		CHECK(o->mode == ro[O(MODE)] && o->mode < PVPATCH_NR_MODES, "override %u: mode %u", i,
		      o->mode);
	}
}

/* --- the fake text ------------------------------------------------------------ */
static struct {
	struct pvpatch pv;
	struct pvpatch_site_state state[NSITES];
	uint8_t saved[NSITES * PVPATCH_MAX_SITE];
	struct pvpatch_thunk_slot tindex[PVPATCH_THUNK_SLOTS(NSITES)];
	unsigned int site_pokes, thunk_pokes;
	bool revert;
} R;

static uint8_t site_op[NSITES];

NOCOV static uintptr_t site_addr(unsigned int i)
{
	return (uintptr_t)pvpatch_site_addr(&A.rec[i]);
}

NOCOV static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A register other than %rsp. */
NOCOV static unsigned int some_reg(uint32_t *s)
{
	unsigned int r = rnd(s) % 15;

	return r >= PVPATCH_REG_RSP ? r + 1 : r;
}

/* The records for this run: registers and clobbers vary, the rest not. */
NOCOV static void build_records(uint8_t regs_seed, uint8_t clob_sel)
{
	static const uint8_t dflt_args[PVPATCH_MAX_ARGS] = {
		PVPATCH_REG_RDI, PVPATCH_REG_RSI, PVPATCH_REG_RDX, PVPATCH_REG_RCX };
	uint32_t s = 0x9e3779b9u ^ (uint32_t)regs_seed * 0x01000193u;

	for (unsigned int i = 0; i < NSITES; i++) {
		struct pvpatch_site *r = &A.rec[i];
		unsigned int op = site_op[i];
		const struct pvpatch_op_info *info = op_info(op);
		uint32_t regs = 0;
		uint16_t clob = info->clobbers;
		bool other = regs_seed || i >= PVPATCH_MAX_OP;

		if (info->nouts) {
			unsigned int ret = other ? some_reg(&s) : PVPATCH_REG_RAX;

			if (info->out_pin[0] >= 0)
				ret = (unsigned int)info->out_pin[0];
			regs |= ret;
			clob |= (uint16_t)(1u << ret);
		}
		for (unsigned int a = 0; a < info->nargs && a < PVPATCH_MAX_ARGS; a++) {
			unsigned int reg = other ? some_reg(&s) : dflt_args[a];

			if (info->arg_pin[a] >= 0)
				reg = (unsigned int)info->arg_pin[a];
			regs |= reg << (PVPATCH_REG_BITS * (PVPATCH_SLOT_ARG0 + a));
		}
		switch (clob_sel & 3) {
		case 1: clob |= 0x0fc7; break;		/* rax rcx rdx rsi rdi r8-r11 */
		case 2: clob |= 0xffef; break;
		case 3: clob |= (uint16_t)rnd(&s) & 0xffef; break;
		}
		r->flags = (uint8_t)(info->nargs | (info->nouts ? PVPATCH_SITE_F_HAS_RET : 0));
		r->clobbers = clob;
		r->regs = regs;
	}
}

/* Once: where the sites are, their native bytes and padding. */
NOCOV static void build_text(void)
{
	memset(&A, 0xa5, sizeof(A));
	memset(A.text, 0xcc, sizeof(A.text));
	memset(A.thunks, 0xa5, sizeof(A.thunks));	/* the patcher writes its own int3 */
	for (unsigned int i = 0; i < NSITES; i++) {
		unsigned int op = i < PVPATCH_MAX_OP ? i + 1 : extra_ops[i - PVPATCH_MAX_OP];
		const struct pvpatch_op_info *info = op_info(op);
		const struct native *nat = &natives[op][i >= PVPATCH_MAX_OP && natives[op][1].len];
		struct pvpatch_site *r = &A.rec[i];
		uint8_t *p = A.text + i * SLOT;
		unsigned int nl = nat->len ? nat->len : info->native_max;

		CHECK(info && info->site_len <= SLOT, "op %u", op);
		site_op[i] = (uint8_t)op;
		if (nat->len)
			memcpy(p, nat->b, nat->len);
		else
			pad_bytes(p, nl);
		pad_bytes(p + nl, info->site_len - nl);
		memset(r, 0, sizeof(*r));
		r->site = (int32_t)(intptr_t)((uintptr_t)p - (uintptr_t)&r->site);
		r->op = (uint16_t)op;
		r->version = PVPATCH_SITE_VERSION;
		r->site_len = info->site_len;
		r->native_len = (uint8_t)nl;
		/* The native site, padding included, decodes to its end. */
		for (unsigned int off = 0, l; off < info->site_len; off += l) {
			struct insn insn;
			int d = insn_decode(&insn, p + off, info->site_len - off);

			CHECK(d > 0, "native site of op %u does not decode at +%u", op, off);
			l = (unsigned int)d;
		}
	}
	memcpy(text0, A.text, sizeof(text0));
}

NOCOV static void fz_poke(void *addr, const void *src, size_t len, void *arg)
{
	CHECK(arg == &R.pv, "poke_arg %p", arg);
	if (check_poke(&R.pv, addr, src, len, A.text) < 0)
		R.thunk_pokes++;
	else
		R.site_pokes++;
	memcpy(addr, src, len);
}

NOCOV static uintptr_t fz_lookup(const char *func)
{
	uintptr_t f = (uintptr_t)func, f0 = (uintptr_t)store.func;

	CHECK(f >= f0 && f - f0 < sizeof(store.func) && (f - f0) % sizeof(store.func[0]) == 0,
	      "lookup of %p, not a store name", (const void *)func);
	CHECK(memchr(func, 0, PVPATCH_ROM_FUNC_LEN), "lookup of an unterminated name");
	if (!strcmp(func, "text"))
		return (uintptr_t)A.text;
	if (!strcmp(func, "mid"))
		return (uintptr_t)A.text + TEXT_SIZE / 2;
	return 0;
}

NOCOV static uintptr_t model_lookup(const char *func)
{
	if (!strcmp(func, "text"))
		return (uintptr_t)A.text;
	if (!strcmp(func, "mid"))
		return (uintptr_t)A.text + TEXT_SIZE / 2;
	return 0;
}

/* The CALL site's call, or a thunk's, must reach the backend. */
/*
 * What the code of an INLINE site does to the registers, from its bytes
 * alone (independently of template.c): the instructions must be the ones
 * the template set encodes to; pushes and pops must balance, never popping
 * what was not pushed; %rsp is written by nothing else; every register
 * left changed must be one the site's record frees (a register pushed
 * unchanged and popped back into itself is restored); the result register,
 * if the op has one, must be left changed.
 */
NOCOV static void check_inline_effects(unsigned int i)
{
	const uint8_t *p = (const uint8_t *)site_addr(i);
	const struct pvpatch_site *r = &A.rec[i];
	const struct pvpatch_op_info *info = op_info(site_op[i]);
	const struct pvpatch_template *t = pol.op[site_op[i]].tmpl;
	unsigned int len = r->site_len, off = 0, depth = 0;
	uint8_t stack_reg[PVPATCH_MAX_SITE], stack_clean[PVPATCH_MAX_SITE];
	uint16_t dirty = 0, hv = t ? t->hv_clobbers : 0;
	uintptr_t stub = site_stub(p, len, (uintptr_t)R.pv.thunks,
				   (uintptr_t)R.pv.thunks + R.pv.thunks_used);
	struct insn x;

	/* Out of line: the stub's code, up to its jmp back (checked already). */
	if (stub) {
		len = (unsigned int)check_stub_code((uintptr_t)R.pv.thunks,
						    (uintptr_t)R.pv.thunks + R.pv.thunks_used, stub,
						    (uintptr_t)p + len);
		p = (const uint8_t *)stub;
	}
	while (off < len) {
		int l = insn_decode(&x, p + off, len - off);
		unsigned int rm = (unsigned int)x.rm | (x.wrxb & INSN_REX_B ? 8 : 0);
		unsigned int reg = (unsigned int)x.reg | (x.wrxb & INSN_REX_R ? 8 : 0);
		unsigned int opb = ((unsigned int)x.opcode & 7) | (x.wrxb & INSN_REX_B ? 8 : 0);
		bool direct = (x.flags & INSN_F_MODRM) && x.mod == 3;
		uint16_t w = 0;

		CHECK(l > 0, "INLINE site %u does not decode", i);
		off += (unsigned int)l;
		if (insn_is_nop(&x))
			continue;
		if (x.map == INSN_MAP_1B) {
			switch (x.opcode) {
			case 0x01: case 0x09: case 0x21: case 0x29: case 0x31: case 0x89:
				CHECK(direct, "INLINE site %u: ALU with a memory operand", i);
				w = (uint16_t)(1u << rm);
				break;
			case 0x03: case 0x0b: case 0x23: case 0x2b: case 0x33: case 0x8b:
				CHECK(direct, "INLINE site %u: ALU with a memory operand", i);
				w = (uint16_t)(1u << reg);
				break;
			case 0xb8: case 0xb9: case 0xba: case 0xbb:
			case 0xbc: case 0xbd: case 0xbe: case 0xbf:
				w = (uint16_t)(1u << opb);
				break;
			case 0xc7:
				CHECK(direct && x.reg == 0, "INLINE site %u: C7 form", i);
				w = (uint16_t)(1u << rm);
				break;
			case 0xc1:
				CHECK(direct && (x.reg == 4 || x.reg == 5), "INLINE site %u: C1 form", i);
				w = (uint16_t)(1u << rm);
				break;
			case 0x50: case 0x51: case 0x52: case 0x53:
			case 0x54: case 0x55: case 0x56: case 0x57:
				CHECK(opb != PVPATCH_REG_RSP, "INLINE site %u: push %%rsp", i);
				stack_reg[depth] = (uint8_t)opb;
				stack_clean[depth++] = !(dirty >> opb & 1);
				continue;
			case 0x58: case 0x59: case 0x5a: case 0x5b:
			case 0x5c: case 0x5d: case 0x5e: case 0x5f:
				CHECK(depth > 0, "INLINE site %u: pop with nothing pushed", i);
				CHECK(opb != PVPATCH_REG_RSP, "INLINE site %u: pop %%rsp", i);
				depth--;
				if (stack_reg[depth] == opb && stack_clean[depth])
					dirty &= (uint16_t)~(1u << opb);
				else
					dirty |= (uint16_t)(1u << opb);
				continue;
			case 0xed:	/* in (%dx), %eax */
				w = (uint16_t)(hv | 1u << PVPATCH_REG_RAX);
				break;
			case 0xef:	/* out %eax, (%dx) */
				w = hv;
				break;
			case 0x90:	/* pause (F3 90) */
				break;
			case 0xeb:	/* the jump over the padding ends the code */
			case 0xe9:	/* a stub's jump back to its site */
				off = len;
				continue;
			default:
				CHECK(0, "INLINE site %u: unexpected opcode %#x at +%u", i, x.opcode,
				      off - (unsigned int)l);
			}
		} else if (x.map == INSN_MAP_0F && x.opcode == 0x01 && direct &&
			   (x.modrm == 0xc1 || x.modrm == 0xd9)) {
			w = hv;		/* vmcall, vmmcall */
		} else if (x.map == INSN_MAP_0F && x.opcode == 0xa2) {
			w = 0x000f;	/* cpuid */
		} else if (x.map == INSN_MAP_0F && x.opcode == 0x31) {
			w = 1u << PVPATCH_REG_RAX | 1u << PVPATCH_REG_RDX;	/* rdtsc */
		} else {
			CHECK(0, "INLINE site %u: unexpected opcode %#x (map %u) at +%u", i, x.opcode,
			      x.map, off - (unsigned int)l);
		}
		CHECK(!(w >> PVPATCH_REG_RSP & 1), "INLINE site %u: writes %%rsp", i);
		dirty |= w;
	}
	CHECK(!(dirty >> PVPATCH_REG_RSP & 1), "INLINE site %u: %%rsp left changed", i);
	CHECK(depth == 0, "INLINE site %u: %u pushes left on the stack", i, depth);
	CHECK(!(dirty & ~r->clobbers), "INLINE site %u (op %s): changes live registers %#x "
	      "(clobbers %#x)", i, info->name, dirty & ~r->clobbers, r->clobbers);
	if (info->nouts)
		CHECK(dirty >> (r->regs & 15) & 1, "INLINE site %u (op %s): result register %u "
		      "left unchanged", i, info->name, r->regs & 15);
}

/* Decode a site to its end; calls only in CALL sites, to the backend. */
NOCOV static void check_site_bytes(unsigned int i, unsigned int mode)
{
	const uint8_t *p = (const uint8_t *)site_addr(i);
	unsigned int len = A.rec[i].site_len;
	const void *backend = pol.op[site_op[i]].backend;
	uint8_t want[PVPATCH_MAX_SITE];

	if (mode == PVPATCH_MODE_NATIVE) {
		/* The original bytes, which decode (LLVMFuzzerInitialize()). */
		CHECK(!memcmp(p, text0 + i * SLOT, len), "NATIVE site %u (op %u) not native", i,
		      site_op[i]);
		return;
	}
	if (mode == PVPATCH_MODE_NOP) {
		pad_bytes(want, len);
		CHECK(!memcmp(p, want, len), "NOP site %u (op %u) is not padding", i, site_op[i]);
	}
	check_site_code(i, site_op[i], mode, p, len, 0, backend, (uintptr_t)R.pv.thunks,
			(uintptr_t)R.pv.thunks + R.pv.thunks_used, R.pv.return_thunk);
	if (mode == PVPATCH_MODE_INLINE)
		check_inline_effects(i);
}

/* After an apply (pol) or a revert (NULL): state, bytes and report. */
NOCOV static void check_apply(const struct pvpatch_policy *p, const struct pvpatch_report *rep)
{
	uint8_t req[NSITES];
	static uint8_t outside[TEXT_SIZE];
	unsigned int modes[PVPATCH_NR_MODES] = { 0 }, used = (unsigned int)R.pv.thunks_used;

	CHECK(!memcmp(A.guard0, S0.guard0, GUARD) && !memcmp(A.guard1, S0.guard1, GUARD) &&
	      !memcmp(A.guard2, S0.guard2, GUARD) && !memcmp(A.guard3, S0.guard3, GUARD),
	      "a guard changed");
	CHECK(!memcmp(A.rec, S0.rec, sizeof(A.rec)), "records changed");
	memcpy(outside, A.text, TEXT_SIZE);
	for (unsigned int i = 0; i < NSITES; i++)
		memcpy(outside + i * SLOT, text0 + i * SLOT, A.rec[i].site_len);
	CHECK(!memcmp(outside, text0, TEXT_SIZE), "text outside the sites changed");
	CHECK(used <= R.pv.thunks_size + 15, "thunks_used %u > %zu", used, R.pv.thunks_size);
	CHECK(!memcmp(A.thunks + used, S0.thunks + used, THUNK_SIZE - used),
	      "thunk bytes past the used area changed");
	check_thunk_area(A.thunks, used, R.pv.return_thunk);

	/* What each site was asked for: its op's mode, or the last override. */
	for (unsigned int i = 0; i < NSITES; i++)
		req[i] = p ? p->op[site_op[i]].mode : PVPATCH_MODE_NATIVE;
	for (unsigned int k = 0; p && k < p->n_overrides; k++) {
		const struct pvpatch_override *o = &p->overrides[k];
		uintptr_t base = R.pv.lookup ? model_lookup(o->func) : 0, addr = base ? base + o->addr : 0;

		for (unsigned int i = 0; addr && o->mode < PVPATCH_NR_MODES && i < NSITES; i++)
			if (site_addr(i) == addr)
				req[i] = o->mode;
	}
	for (unsigned int i = 0; i < NSITES; i++) {
		const struct pvpatch_op_info *info = op_info(site_op[i]);
		unsigned int got = R.state[i].mode, want = req[i];

		CHECK(R.state[i].reason == PVPATCH_OK, "site %u (op %u) refused: %s", i, site_op[i],
		      pvpatch_reason_str(R.state[i].reason));
		CHECK(got < PVPATCH_NR_MODES && (info->modes >> got & 1),
		      "site %u (op %s) in mode %u, which the op does not allow", i, info->name, got);
		CHECK(got == want || got == PVPATCH_MODE_NATIVE ||
		      (want == PVPATCH_MODE_INLINE && got == PVPATCH_MODE_CALL),
		      "site %u (op %s): mode %u asked, %u got", i, info->name, want, got);
		if (got == PVPATCH_MODE_INLINE)
			CHECK(p && p->op[site_op[i]].tmpl, "site %u: INLINE without a template", i);
		if (got == PVPATCH_MODE_CALL)
			CHECK(p && p->op[site_op[i]].backend, "site %u: CALL without a backend", i);
		modes[got]++;
		check_site_bytes(i, got);
	}
	CHECK(rep->sites == NSITES && rep->invalid == 0, "report: %u sites, %u invalid", rep->sites,
	      rep->invalid);
	for (unsigned int m = 0; m < PVPATCH_NR_MODES; m++)
		CHECK(rep->mode[m] == modes[m], "report: mode[%u] %u, state %u", m, rep->mode[m], modes[m]);
	CHECK(rep->thunk_bytes == used, "report: thunk_bytes %u, used %u", rep->thunk_bytes, used);
	if (R.pv.poke)
		CHECK(rep->written == R.site_pokes, "report: %u written, %u pokes", rep->written,
		      R.site_pokes);
}

static bool verbose;

/* FUZZ_ROM_STATS=1: at exit, how many inputs were accepted, refused and why. */
#define MAX_WHY 40
static struct {
	const char *why[MAX_WHY];
	unsigned long n[MAX_WHY], accepted, sites[PVPATCH_NR_MODES];
} stats;

NOCOV static void count(const char *why)
{
	for (unsigned int k = 0; k < MAX_WHY; k++) {
		if (!stats.why[k] || !strcmp(stats.why[k], why)) {
			stats.why[k] = why;
			stats.n[k]++;
			return;
		}
	}
}

NOCOV static void print_stats(void)
{
	fprintf(stderr, "fuzz-rom: accepted %lu (sites native %lu nop %lu inline %lu call %lu)\n",
		stats.accepted, stats.sites[0], stats.sites[1], stats.sites[2], stats.sites[3]);
	for (unsigned int k = 0; k < MAX_WHY && stats.why[k]; k++)
		fprintf(stderr, "fuzz-rom: refused %lu: %s\n", stats.n[k], stats.why[k]);
}

NOCOV static void show_sites(const char *what, const struct pvpatch_report *rep)
{
	if (!verbose)
		return;
	fprintf(stderr, "--- %s: native %u nop %u inline %u call %u, thunks %u bytes\n", what,
		rep->mode[0], rep->mode[1], rep->mode[2], rep->mode[3], rep->thunk_bytes);
	for (unsigned int i = 0; i < NSITES; i++)
		fprintf(stderr, "site %2u %-15s mode %u\n", i, pvpatch_op_table[site_op[i]].name,
			R.state[i].mode);
	for (unsigned int k = 0; k < rep->n_rejects && k < PVPATCH_MAX_REJECTS; k++) {
		const struct pvpatch_reject *j = &rep->rejects[k];

		fprintf(stderr, "    reject: text%+ld op %u wanted %u got %u: %s\n",
			(long)(j->site - (uintptr_t)A.text), j->op, j->wanted, j->got,
			pvpatch_reason_str(j->reason));
	}
}

NOCOV static int apply(const struct pvpatch_policy *p, struct pvpatch_report *rep)
{
	int ret;

	R.site_pokes = R.thunk_pokes = 0;
	memset(rep, 0x5a, sizeof(*rep));
	ret = p ? pvpatch_apply(&R.pv, p, rep) : pvpatch_revert(&R.pv, rep);
	CHECK(ret == 0, "pvpatch_%s returned %d", p ? "apply" : "revert", ret);
	return ret;
}

NOCOV static void run_text(uint8_t cfg, uint8_t vm, uint8_t regs_seed, uint8_t clob_sel)
{
	struct pvpatch_report rep;

	memcpy(A.text, text0, sizeof(A.text));
	memset(A.thunks, 0xa5, sizeof(A.thunks));	/* the patcher writes its own int3 */
	build_records(regs_seed, clob_sel);
	memcpy(&S0, &A, sizeof(A));
	memset(R.state, 0x77, sizeof(R.state));
	memset(R.tindex, 0x77, sizeof(R.tindex));	/* the patcher clears it */
	R.pv = (struct pvpatch){
		.sites = A.rec, .sites_end = A.rec + NSITES,
		.text_start = (uintptr_t)A.text, .text_end = (uintptr_t)A.text + TEXT_SIZE,
		.state = R.state, .saved = R.saved, .saved_size = sizeof(R.saved),
		.thunks = A.thunks, .thunks_size = vm & 0x40 ? THUNK_SMALL : THUNK_SIZE,
		.thunk_index = R.tindex, .thunk_slots = PVPATCH_THUNK_SLOTS(NSITES),
		.poke = fz_poke, .poke_arg = &R.pv,
		.lookup = cfg & 4 ? fz_lookup : NULL,
		.stack_align = vm & 0x10 ? PVPATCH_STACK_ALIGN_16 : PVPATCH_STACK_ALIGN_8,
	};
	apply(&pol, &rep);
	check_apply(&pol, &rep);
	show_sites("apply", &rep);
	for (unsigned int k = 0; k < PVPATCH_NR_MODES; k++)
		stats.sites[k] += rep.mode[k];
	if (cfg & 8) {
		apply(&pol, &rep);
		check_apply(&pol, &rep);
		CHECK(rep.written == 0 && R.site_pokes == 0 && R.thunk_pokes == 0,
		      "the same policy twice wrote %u sites", rep.written);
	}
	if (cfg & 16) {
		apply(NULL, &rep);
		check_apply(NULL, &rep);
		CHECK(!memcmp(A.text, text0, TEXT_SIZE), "revert: the text is not native again");
	}
}

#include "fuzz-negotiation.h"

/* --- the run ------------------------------------------------------------------ */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_ROM_VERBOSE") != NULL;
	if (getenv("FUZZ_ROM_STATS"))
		atexit(print_stats);
	crc_init();
	natives_check("fuzz-rom");
	build_text();
	init_backends();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t pre[PREFIX] = { 0 };
	uint8_t fix, cfg, vm, cut, mis;
	size_t len = size > PREFIX ? size - PREFIX : 0;
	struct pvpatch_hv_facts facts;
	const struct pvpatch_hv_facts *fp = &facts;
	const void *const *be;
	struct pvpatch_rom_env env;
	uint8_t *buf, *rom, *orig;
	const char *why = (const char *)1;
	struct model m;
	size_t total = 0;
	int ret;

	memcpy(pre, data, size < PREFIX ? size : PREFIX);
	fix = pre[0];
	cfg = pre[1];
	vm = pre[6];
	cut = pre[7];
	mis = cfg >> 5;
	facts = (struct pvpatch_hv_facts){ .kvm_features = (uint32_t)le(pre + 2, 4),
					   .vmport = vm & 1, .vmport_gethz = vm >> 1 & 1,
					   .hypervisor = (vm >> 2 & 3) != 0, .max_leaf = 0x40000001,
					   .cpuid = vm & 0x20 ? NULL : fuzz_cpuid };
	snprintf(facts.signature, sizeof(facts.signature), "%s",
		 (const char *[]){ "", "KVMKVMKVM", "TCGTCGTCGTCG", "VMwareVMware" }[vm >> 2 & 3]);
	if (vm & 0x80)
		fp = NULL;
	be = cfg & 1 ? NULL : cfg & 2 ? be_mixed : be_real;

	/* The ROM, repaired as asked, in a buffer that ends where it ends. */
	buf = malloc(mis + len);
	rom = buf + mis;
	if (len)
		memcpy(rom, data + PREFIX, len);
	if (len >= PVPATCH_ROM_HEADER_SIZE) {
		if (fix & 2)
			put(rom + H(MAGIC), PVPATCH_ROM_MAGIC, 4);
		if ((fix & 4) && le(rom + H(VERSION), 2) - 1u > 1u)
			put(rom + H(VERSION), 1 + (cut & 1), 2);
		if (fix & 8)
			put(rom + H(TOTAL_LEN), (uint32_t)(len - (cut < len ? cut : 0)), 4);
		if (fix & 16)
			put(rom + H(HEADER_LEN), fmt_of(le(rom + H(VERSION), 2)).hsize, 2);
		total = le(rom + H(TOTAL_LEN), 4);
		if (total <= len)
			fix_body(rom, (uint32_t)total, fix);
		if ((fix & 1) && total >= PVPATCH_ROM_HEADER_SIZE && total <= len) {
			put(rom + H(CHECKSUM), 0, 4);
			put(rom + H(CHECKSUM), crc32_zlib(rom, total), 4);
		}
	}
	orig = malloc(len ? len : 1);
	memcpy(orig, rom, len);

	/* Call the parser with the bytes past total_len (if any) poisoned. */
	memset(&pol, 0xa5, sizeof(pol));
	memcpy(pattern, &pol, sizeof(pol));
	memset(&store, 0x5a, sizeof(store));
	memcpy(store_pattern, &store, sizeof(store));
	if (total >= PVPATCH_ROM_HEADER_SIZE && total < len)
		ASAN_POISON_MEMORY_REGION(rom + total, len - total);
	env = (struct pvpatch_rom_env){ .facts = fp, .backends = be, .preserves = preserves,
					.writes = writes,
					.recs = id_recs, .n_recs = sizeof(id_recs) / sizeof(id_recs[0]) };
	ret = pvpatch_rom_policy(rom, len, &env, &pol, &store, &why);
	ASAN_UNPOISON_MEMORY_REGION(buf, mis + len);

	CHECK(!memcmp(rom, orig, len), "the parser changed the ROM");
	model(rom, len, fp, be, preserves, &m);
	if (verbose)
		fprintf(stderr, "input %zu bytes crc32 %08x: ROM of %zu bytes (total_len %zu): "
			"%s%s (model: %s)\n", size, crc32_zlib(data, size), len, total,
			ret ? "refused: " : "accepted", ret ? (why ? why : "(null)") : "",
			m.refused ? m.refused : "accepted");
	CHECK(ret == 0 || ret == -1, "pvpatch_rom_policy returned %d", ret);
	if (ret) {
		CHECK(why && why != (const char *)1 && why[0], "refused without a reason");
		CHECK(!memcmp(&pol, pattern, sizeof(pol)), "refused (%s), yet the policy changed", why);
		CHECK(!memcmp(&store, store_pattern, sizeof(store)), "refused (%s), yet the store changed",
		      why);
		CHECK(m.refused, "refused (%s), but the model accepts it", why);
		count(why);
	} else {
		stats.accepted++;
		CHECK(!m.refused, "accepted, but the model refuses it (%s)", m.refused);
		check_policy(rom, &m);
		run_text(cfg, vm, pre[8], pre[9]);
	}
	check_negotiation(rom, len, fp, be, ret, why, &pol, pre[8]);
	free(orig);
	free(buf);
	return 0;
}
