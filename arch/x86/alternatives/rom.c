// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The feature ROM: a hypervisor's description of what each op should become
 * (README.md, "Hypervisor profiles and the feature ROM").  It arrives from
 * outside the kernel, so every field is checked before it is used; a ROM
 * that is not sound as a whole is refused with a reason and the policy and
 * the store are left untouched, so the kernel can fall back to its built-in
 * profile (or keep the policy it has).
 * Templates in a sound ROM are checked later, per site, by the fitter.
 *
 * The kernel's built-in profiles are ROMs too (generated from the same
 * profile files), parsed here the same way.
 */
#include "internal.h"
#include "util.h"

/* Fields are read byte by byte: the ROM may sit at any alignment. */
static uint32_t get(const uint8_t *p, unsigned int size)
{
	uint32_t v = 0;

	for (unsigned int i = size; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get(p + 4, 4) << 32 | get(p, 4);
}

#define FIELD(p, type, field) \
	get((const uint8_t *)(p) + offsetof(type, field), sizeof(((type *)0)->field))

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32), bit by bit: no table. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static uint32_t rom_checksum(const uint8_t *rom, uint32_t total)
{
	static const uint8_t zero[4];
	size_t at = offsetof(struct pvpatch_rom_header, checksum);
	uint32_t crc = crc32_update(0, rom, at);

	crc = crc32_update(crc, zero, 4);
	return crc32_update(crc, rom + at + 4, total - at - 4);
}

/*
 * Both versions read through one view.  Version 2 (README.md, "The ROM")
 * has a longer name, conditions on any CPUID bit and on the hypervisor
 * signature, and a backend id; an entry of a mode or condition this kernel
 * does not know is ignored on its own there (a newer hypervisor's), where
 * version 1 refuses the ROM.
 */
struct header_view {
	unsigned int version;
	uint32_t hlen, total;
	const uint8_t *name;
	size_t name_size;
	uint32_t n_entries, entries_off, n_overrides, overrides_off;
};

struct entry_view {
	uint32_t len, op, mode, cond, n, hv_clobbers, backend_id;
	uint32_t cond_bit, cond_reg, cond_leaf, cond_subleaf;
	const uint8_t *cond_sig;	/* 12 bytes, v2 */
	const uint8_t *params, *insns;
};

#define HV1(rom, f) FIELD(rom, struct pvpatch_rom_header, f)
#define HV2(rom, f) FIELD(rom, struct pvpatch_rom_header_v2, f)
#define EV1(e, f) FIELD(e, struct pvpatch_rom_entry, f)
#define EV2(e, f) FIELD(e, struct pvpatch_rom_entry_v2, f)

static void header_view(const uint8_t *rom, struct header_view *h)
{
	if (h->version == 1) {
		h->name = rom + offsetof(struct pvpatch_rom_header, hypervisor);
		h->name_size = sizeof(((struct pvpatch_rom_header *)0)->hypervisor);
		h->n_entries = HV1(rom, n_entries);
		h->entries_off = HV1(rom, entries_off);
		h->n_overrides = HV1(rom, n_overrides);
		h->overrides_off = HV1(rom, overrides_off);
	} else {
		h->name = rom + offsetof(struct pvpatch_rom_header_v2, hypervisor);
		h->name_size = sizeof(((struct pvpatch_rom_header_v2 *)0)->hypervisor);
		h->n_entries = HV2(rom, n_entries);
		h->entries_off = HV2(rom, entries_off);
		h->n_overrides = HV2(rom, n_overrides);
		h->overrides_off = HV2(rom, overrides_off);
	}
}

static size_t header_size(unsigned int version)
{
	return version == 1 ? sizeof(struct pvpatch_rom_header) :
			      sizeof(struct pvpatch_rom_header_v2);
}

static size_t entry_base(unsigned int version)
{
	return version == 1 ? sizeof(struct pvpatch_rom_entry) :
			      sizeof(struct pvpatch_rom_entry_v2);
}

/* The fixed part of the entry at e (at least entry_base() bytes there). */
static void entry_view(const uint8_t *e, unsigned int version, struct entry_view *v)
{
	if (version == 1) {
		*v = (struct entry_view){
			.len = EV1(e, entry_len), .op = EV1(e, op), .mode = EV1(e, mode),
			.cond = EV1(e, cond), .n = EV1(e, n_insns),
			.hv_clobbers = EV1(e, hv_clobbers), .cond_bit = EV1(e, cond_arg),
			.params = e + offsetof(struct pvpatch_rom_entry, params),
		};
	} else {
		*v = (struct entry_view){
			.len = EV2(e, entry_len), .op = EV2(e, op), .mode = EV2(e, mode),
			.cond = EV2(e, cond), .n = EV2(e, n_insns),
			.hv_clobbers = EV2(e, hv_clobbers), .backend_id = EV2(e, backend_id),
			.cond_bit = EV2(e, cond_bit), .cond_reg = EV2(e, cond_reg),
			.cond_leaf = EV2(e, cond_leaf), .cond_subleaf = EV2(e, cond_subleaf),
			.cond_sig = e + offsetof(struct pvpatch_rom_entry_v2, cond_sig),
			.params = e + offsetof(struct pvpatch_rom_entry_v2, params),
		};
	}
	v->insns = e + entry_base(version);
}

/* CPUID bit: a leaf past the maximum of its range (basic, hypervisor,
 * extended) reads as another leaf's data on real CPUs: not set. */
static bool cpuid_bit(const struct pvpatch_hv_facts *f, const struct entry_view *v)
{
	uint32_t r[4], base = v->cond_leaf & 0xffff0000u, max;

	if (!f->cpuid || v->cond_reg > 3 || v->cond_bit > 31)
		return false;
	if (base == 0x40000000u) {
		max = f->hypervisor ? f->max_leaf : 0;
	} else {
		f->cpuid(base, 0, r);
		max = r[0];
	}
	if (v->cond_leaf > max)
		return false;
	f->cpuid(v->cond_leaf, v->cond_subleaf, r);
	return r[v->cond_reg] >> v->cond_bit & 1;
}

static bool signature_is(const struct pvpatch_hv_facts *f, const uint8_t *sig)
{
	for (int i = 0; i < 12; i++) {
		if ((uint8_t)f->signature[i] != sig[i])
			return false;
		if (!sig[i])
			return true;
	}
	return true;
}

static bool cond_known(unsigned int version, unsigned int cond)
{
	return cond < (version == 1 ? PVPATCH_ROM_V1_NR_CONDS : PVPATCH_ROM_NR_CONDS);
}

static bool cond_holds(const struct entry_view *v, const struct pvpatch_hv_facts *f)
{
	switch (v->cond) {
	case PVPATCH_ROM_COND_ALWAYS:
		return true;
	case PVPATCH_ROM_COND_KVM_BIT:
		return v->cond_bit < 32 && (f->kvm_features >> v->cond_bit & 1);
	case PVPATCH_ROM_COND_VMPORT:
		return f->vmport;
	case PVPATCH_ROM_COND_VMPORT_GETHZ:
		return f->vmport_gethz;
	case PVPATCH_ROM_COND_CPUID_BIT:
		return cpuid_bit(f, v);
	case PVPATCH_ROM_COND_SIGNATURE:
		return signature_is(f, v->cond_sig);
	}
	return false;
}

static void copy_name(char *dst, const uint8_t *src, size_t size)
{
	for (size_t i = 0; i < size; i++)
		dst[i] = (char)src[i];
	dst[size - 1] = 0;
}

/* The profile rule: 1 to size - 1 of [A-Za-z0-9._+-], starting
 * alphanumeric, then NULs.  The kernel prints the name: no control
 * characters get through. */
static bool good_name(const uint8_t *p, size_t size)
{
	size_t n = 0;

	for (; n < size && p[n]; n++) {
		uint8_t c = p[n];
		bool alnum = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');

		if (!alnum && (!n || (c != '_' && c != '.' && c != '+' && c != '-')))
			return false;
	}
	if (n == 0 || n == size)
		return false;
	for (; n < size; n++)
		if (p[n])
			return false;
	return true;
}

/* Check the header; on success h is filled. */
static const char *check_header(const uint8_t *rom, size_t len, struct header_view *h)
{
	if (len < sizeof(struct pvpatch_rom_header))
		return "shorter than its header";
	if (HV1(rom, magic) != PVPATCH_ROM_MAGIC)
		return "bad magic";
	/* magic, version, header_len, total_len and checksum: common to all. */
	h->version = HV1(rom, version);
	if (h->version < PVPATCH_ROM_MIN_VERSION || h->version > PVPATCH_ROM_VERSION)
		return "unknown version";
	if (len < header_size(h->version))
		return "shorter than its header";
	h->hlen = HV1(rom, header_len);
	h->total = HV1(rom, total_len);
	if (h->hlen < header_size(h->version) || h->hlen > h->total)
		return "bad header length";
	if (h->total > len)
		return "total length past the end of the data";
	if (rom_checksum(rom, h->total) != HV1(rom, checksum))
		return "checksum mismatch";
	header_view(rom, h);
	if (!good_name(h->name, h->name_size))
		return "bad hypervisor name";
	return NULL;
}

/* Pass 1: the entry at e (room bytes left in the ROM) is sound; its length. */
static const char *check_entry(const uint8_t *e, uint32_t room, unsigned int version,
			       uint32_t *entry_len)
{
	const size_t base = entry_base(version);
	struct entry_view v;

	if (room < base)
		return "entry past the end";
	entry_view(e, version, &v);
	*entry_len = v.len;
	if (v.len < base || v.len > room)
		return "entry length out of bounds";
	if (base + v.n * sizeof(struct pvpatch_rom_insn) > v.len)
		return "template longer than its entry";
	if (v.n > PVT_MAX_INSNS)
		return "template with too many instructions";
	if (version == 1 && v.mode >= PVPATCH_NR_MODES)
		return "unknown mode";
	if (version == 1 && !cond_known(version, v.cond))
		return "unknown condition";
	return NULL;
}

/*
 * Pass 1: the whole ROM is sound -- header, every entry, every override --
 * reading it only.  On success h describes it.
 */
static const char *check_rom(const uint8_t *rom, size_t len, struct header_view *h)
{
	const size_t hsize = header_size(1);
	const char *err = check_header(rom, len, h);
	uint32_t off;

	if (err)
		return err;
	off = h->entries_off;
	/* Entries and overrides may start right after the v1-sized header. */
	if (h->n_entries && (off < hsize || off > h->total))
		return "entries outside the ROM";
	for (uint32_t i = 0; i < h->n_entries; i++) {
		uint32_t elen = 0;

		err = check_entry(rom + off, h->total - off, h->version, &elen);
		if (err)
			return err;
		off += elen;
	}
	if (h->n_overrides > PVPATCH_ROM_MAX_OVERRIDES)
		return "too many overrides";
	if (h->n_overrides && (h->overrides_off < hsize || h->overrides_off > h->total ||
			       (h->total - h->overrides_off) / sizeof(struct pvpatch_rom_override) <
				       h->n_overrides))
		return "overrides outside the ROM";
	for (uint32_t i = 0; i < h->n_overrides; i++) {
		const uint8_t *o = rom + h->overrides_off + i * sizeof(struct pvpatch_rom_override);

		if (FIELD(o, struct pvpatch_rom_override, mode) >= PVPATCH_NR_MODES)
			return "override with an unknown mode";
	}
	return NULL;
}

/* The registered backend (op, id), or NULL. */
static const struct pvpatch_backend_rec *find_backend(const struct pvpatch_rom_env *env,
						      unsigned int op, unsigned int id)
{
	for (size_t i = 0; env->recs && i < env->n_recs; i++)
		if (env->recs[i].op == op && env->recs[i].id == id && env->recs[i].fn)
			return &env->recs[i];
	return NULL;
}

/* Pass 2: one entry of a sound ROM into the policy and the store. */
static void use_entry(const uint8_t *e, unsigned int version, const struct pvpatch_rom_env *env,
		      struct pvpatch_policy *pol, struct pvpatch_rom_store *store)
{
	const struct pvpatch_backend_rec *rec = NULL;
	struct pvpatch_op_policy *p;
	struct pvpatch_template *t;
	struct entry_view v;

	entry_view(e, version, &v);
	/* An op, mode, condition or backend this kernel does not know: a newer
	 * hypervisor's; the op behaves as without the entry. */
	if (v.op > PVPATCH_MAX_OP || !pvpatch_op_table[v.op].name || v.mode >= PVPATCH_NR_MODES ||
	    !cond_known(version, v.cond) ||
	    (v.backend_id && !(rec = find_backend(env, v.op, v.backend_id)))) {
		store->entries_ignored++;
		return;
	}
	store->entries_used++;
	if (!cond_holds(&v, env->facts))
		return;
	p = &pol->op[v.op];
	p->mode = (uint8_t)v.mode;
	p->backend = rec ? (const void *)(uintptr_t)rec->fn :
			   env->backends ? env->backends[v.op] : NULL;
	p->preserves = rec ? rec->flags & PVPATCH_BACKEND_F_PRESERVES :
			     env->preserves ? env->preserves[v.op] : 0;
	p->writes = rec ? pvpatch_backend_writes(rec) : env->writes ? env->writes[v.op] : 0;
	p->backend_id = (uint16_t)v.backend_id;
	for (int i = 0; i < PVT_MAX_PARAMS; i++)
		p->params[i] = get64(v.params + 8 * i);
	p->tmpl = NULL;
	if (!v.n)
		return;
	t = &store->tmpl[v.op];
	t->name = store->hypervisor;
	t->n_insns = (uint8_t)v.n;
	t->hv_clobbers = (uint16_t)v.hv_clobbers;
	for (unsigned int i = 0; i < v.n; i++) {
		const uint8_t *in = v.insns + i * sizeof(struct pvpatch_rom_insn);

		t->insn[i].op = (uint8_t)FIELD(in, struct pvpatch_rom_insn, op);
		t->insn[i].dst = (uint8_t)FIELD(in, struct pvpatch_rom_insn, dst);
		t->insn[i].src = (uint8_t)FIELD(in, struct pvpatch_rom_insn, src);
		t->insn[i].width = (uint8_t)FIELD(in, struct pvpatch_rom_insn, width);
		t->insn[i].imm = get64(in + offsetof(struct pvpatch_rom_insn, imm));
	}
	p->tmpl = t;
}

/*
 * Two passes, so that a refused ROM leaves *out and *store exactly as they
 * were (the kernel may still be using a policy built earlier into them) and
 * nothing is built aside: pass 1 checks the whole ROM writing nothing, pass
 * 2, which cannot fail, writes the policy and the store in place.
 */
int pvpatch_rom_policy(const void *data, size_t len, const struct pvpatch_rom_env *env,
		       struct pvpatch_policy *out, struct pvpatch_rom_store *store,
		       const char **why)
{
	const uint8_t *rom = data;
	struct header_view h;
	const char *err;
	uint32_t off;

	*why = NULL;
	if (!rom || !env || !env->facts || !out || !store) {
		*why = "no ROM";
		return -1;
	}
	err = check_rom(rom, len, &h);
	if (err) {
		*why = err;
		return -1;
	}

	pv_zero(out, sizeof(*out));
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
		out->op[op].backend = env->backends ? env->backends[op] : NULL;
		out->op[op].preserves = env->preserves ? env->preserves[op] : 0;
		out->op[op].writes = env->writes ? env->writes[op] : 0;
	}
	store->entries_used = store->entries_ignored = 0;
	pv_zero(store->hypervisor, sizeof(store->hypervisor));
	copy_name(store->hypervisor, h.name, h.name_size);
	off = h.entries_off;
	for (uint32_t i = 0; i < h.n_entries; i++) {
		use_entry(rom + off, h.version, env, out, store);
		off += h.version == 1 ? EV1(rom + off, entry_len) : EV2(rom + off, entry_len);
	}
	for (uint32_t i = 0; i < h.n_overrides; i++) {
		const uint8_t *o = rom + h.overrides_off + i * sizeof(struct pvpatch_rom_override);

		copy_name(store->func[i], o + offsetof(struct pvpatch_rom_override, func),
			  sizeof(store->func[i]));
		store->ov[i] = (struct pvpatch_override){
			store->func[i], FIELD(o, struct pvpatch_rom_override, offset),
			(uint8_t)FIELD(o, struct pvpatch_rom_override, mode) };
	}
	out->overrides = h.n_overrides ? store->ov : NULL;
	out->n_overrides = h.n_overrides;
	return 0;
}

bool pvpatch_template_uses(const struct pvpatch_template *t, unsigned int opcode)
{
	for (unsigned int i = 0; t && i < t->n_insns && i < PVT_MAX_INSNS; i++)
		if (t->insn[i].op == opcode)
			return true;
	return false;
}
