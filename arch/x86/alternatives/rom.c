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

static bool cond_holds(unsigned int cond, unsigned int arg, const struct pvpatch_hv_facts *f)
{
	switch (cond) {
	case PVPATCH_ROM_COND_ALWAYS:
		return true;
	case PVPATCH_ROM_COND_KVM_BIT:
		return arg < 32 && (f->kvm_features >> arg & 1);
	case PVPATCH_ROM_COND_VMPORT:
		return f->vmport;
	case PVPATCH_ROM_COND_VMPORT_GETHZ:
		return f->vmport_gethz;
	}
	return false;
}

static void copy_name(char *dst, const uint8_t *src, size_t size)
{
	for (size_t i = 0; i < size; i++)
		dst[i] = (char)src[i];
	dst[size - 1] = 0;
}

/* The profile rule: 1-15 of [A-Za-z0-9._+-], starting alphanumeric, then
 * NULs.  The kernel prints the name: no control characters get through. */
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

/* Check the header; on success *total is the ROM's length. */
static const char *check_header(const uint8_t *rom, size_t len, uint32_t *total)
{
	uint32_t hlen;

	if (len < sizeof(struct pvpatch_rom_header))
		return "shorter than its header";
	if (FIELD(rom, struct pvpatch_rom_header, magic) != PVPATCH_ROM_MAGIC)
		return "bad magic";
	if (FIELD(rom, struct pvpatch_rom_header, version) != PVPATCH_ROM_VERSION)
		return "unknown version";
	hlen = FIELD(rom, struct pvpatch_rom_header, header_len);
	*total = FIELD(rom, struct pvpatch_rom_header, total_len);
	if (hlen < sizeof(struct pvpatch_rom_header) || hlen > *total)
		return "bad header length";
	if (*total > len)
		return "total length past the end of the data";
	if (rom_checksum(rom, *total) != FIELD(rom, struct pvpatch_rom_header, checksum))
		return "checksum mismatch";
	if (!good_name(rom + offsetof(struct pvpatch_rom_header, hypervisor),
		       sizeof(((struct pvpatch_rom_header *)0)->hypervisor)))
		return "bad hypervisor name";
	return NULL;
}

/* Pass 1: the entry at e (room bytes left in the ROM) is sound; its length. */
static const char *check_entry(const uint8_t *e, uint32_t room, uint32_t *entry_len)
{
	const size_t base = sizeof(struct pvpatch_rom_entry);
	unsigned int n;

	if (room < base)
		return "entry past the end";
	*entry_len = FIELD(e, struct pvpatch_rom_entry, entry_len);
	n = FIELD(e, struct pvpatch_rom_entry, n_insns);
	if (*entry_len < base || *entry_len > room)
		return "entry length out of bounds";
	if (base + n * sizeof(struct pvpatch_rom_insn) > *entry_len)
		return "template longer than its entry";
	if (n > PVT_MAX_INSNS)
		return "template with too many instructions";
	if (FIELD(e, struct pvpatch_rom_entry, mode) >= PVPATCH_NR_MODES)
		return "unknown mode";
	if (FIELD(e, struct pvpatch_rom_entry, cond) > PVPATCH_ROM_COND_VMPORT_GETHZ)
		return "unknown condition";
	return NULL;
}

/*
 * Pass 1: the whole ROM is sound -- header, every entry, every override --
 * reading it only.  On success *total is its length.
 */
static const char *check_rom(const uint8_t *rom, size_t len, uint32_t *total)
{
	uint32_t off, n, ovoff;
	const char *err = check_header(rom, len, total);

	if (err)
		return err;
	off = FIELD(rom, struct pvpatch_rom_header, entries_off);
	n = FIELD(rom, struct pvpatch_rom_header, n_entries);
	if (n && (off < sizeof(struct pvpatch_rom_header) || off > *total))
		return "entries outside the ROM";
	for (uint32_t i = 0; i < n; i++) {
		uint32_t elen = 0;

		err = check_entry(rom + off, *total - off, &elen);
		if (err)
			return err;
		off += elen;
	}
	ovoff = FIELD(rom, struct pvpatch_rom_header, overrides_off);
	n = FIELD(rom, struct pvpatch_rom_header, n_overrides);
	if (n > PVPATCH_ROM_MAX_OVERRIDES)
		return "too many overrides";
	if (n && (ovoff < sizeof(struct pvpatch_rom_header) || ovoff > *total ||
		  (*total - ovoff) / sizeof(struct pvpatch_rom_override) < n))
		return "overrides outside the ROM";
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *o = rom + ovoff + i * sizeof(struct pvpatch_rom_override);

		if (FIELD(o, struct pvpatch_rom_override, mode) >= PVPATCH_NR_MODES)
			return "override with an unknown mode";
	}
	return NULL;
}

/* Pass 2: one entry of a sound ROM into the policy and the store. */
static void use_entry(const uint8_t *e, const struct pvpatch_hv_facts *facts,
		      const void *const *backends, struct pvpatch_policy *pol,
		      struct pvpatch_rom_store *store)
{
	const size_t base = sizeof(struct pvpatch_rom_entry);
	unsigned int op = FIELD(e, struct pvpatch_rom_entry, op);
	unsigned int n = FIELD(e, struct pvpatch_rom_entry, n_insns);
	struct pvpatch_template *t;

	/* An op this kernel does not know: a newer hypervisor's, ignored. */
	if (op > PVPATCH_MAX_OP || !pvpatch_op_table[op].name) {
		store->entries_ignored++;
		return;
	}
	store->entries_used++;
	if (!cond_holds(FIELD(e, struct pvpatch_rom_entry, cond),
			FIELD(e, struct pvpatch_rom_entry, cond_arg), facts))
		return;
	pol->op[op].mode = (uint8_t)FIELD(e, struct pvpatch_rom_entry, mode);
	pol->op[op].backend = backends ? backends[op] : NULL;
	for (int i = 0; i < PVT_MAX_PARAMS; i++)
		pol->op[op].params[i] = get64(e + offsetof(struct pvpatch_rom_entry, params) + 8 * i);
	pol->op[op].tmpl = NULL;
	if (!n)
		return;
	t = &store->tmpl[op];
	t->name = store->hypervisor;
	t->n_insns = (uint8_t)n;
	t->hv_clobbers = (uint16_t)FIELD(e, struct pvpatch_rom_entry, hv_clobbers);
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *in = e + base + i * sizeof(struct pvpatch_rom_insn);

		t->insn[i].op = (uint8_t)FIELD(in, struct pvpatch_rom_insn, op);
		t->insn[i].dst = (uint8_t)FIELD(in, struct pvpatch_rom_insn, dst);
		t->insn[i].src = (uint8_t)FIELD(in, struct pvpatch_rom_insn, src);
		t->insn[i].width = (uint8_t)FIELD(in, struct pvpatch_rom_insn, width);
		t->insn[i].imm = get64(in + offsetof(struct pvpatch_rom_insn, imm));
	}
	pol->op[op].tmpl = t;
}

/*
 * Two passes, so that a refused ROM leaves *out and *store exactly as they
 * were (the kernel may still be using a policy built earlier into them) and
 * nothing is built aside: pass 1 checks the whole ROM writing nothing, pass
 * 2, which cannot fail, writes the policy and the store in place.
 */
int pvpatch_rom_policy(const void *data, size_t len, const struct pvpatch_hv_facts *facts,
		       const void *const *backends, struct pvpatch_policy *out,
		       struct pvpatch_rom_store *store, const char **why)
{
	const uint8_t *rom = data;
	uint32_t total = 0, off, n, ovoff;
	const char *err;

	*why = NULL;
	if (!rom || !facts || !out || !store) {
		*why = "no ROM";
		return -1;
	}
	err = check_rom(rom, len, &total);
	if (err) {
		*why = err;
		return -1;
	}

	for (size_t b = 0; b < sizeof(*out); b++)
		((uint8_t *)out)[b] = 0;
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
		out->op[op].backend = backends ? backends[op] : NULL;
	store->entries_used = store->entries_ignored = 0;
	copy_name(store->hypervisor, rom + offsetof(struct pvpatch_rom_header, hypervisor),
		  sizeof(store->hypervisor));
	off = FIELD(rom, struct pvpatch_rom_header, entries_off);
	n = FIELD(rom, struct pvpatch_rom_header, n_entries);
	for (uint32_t i = 0; i < n; i++) {
		use_entry(rom + off, facts, backends, out, store);
		off += FIELD(rom + off, struct pvpatch_rom_entry, entry_len);
	}
	ovoff = FIELD(rom, struct pvpatch_rom_header, overrides_off);
	n = FIELD(rom, struct pvpatch_rom_header, n_overrides);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *o = rom + ovoff + i * sizeof(struct pvpatch_rom_override);

		copy_name(store->func[i], o + offsetof(struct pvpatch_rom_override, func),
			  sizeof(store->func[i]));
		store->ov[i] = (struct pvpatch_override){
			store->func[i], FIELD(o, struct pvpatch_rom_override, offset),
			(uint8_t)FIELD(o, struct pvpatch_rom_override, mode) };
	}
	out->overrides = n ? store->ov : NULL;
	out->n_overrides = n;
	return 0;
}

bool pvpatch_template_uses(const struct pvpatch_template *t, unsigned int opcode)
{
	for (unsigned int i = 0; t && i < t->n_insns && i < PVT_MAX_INSNS; i++)
		if (t->insn[i].op == opcode)
			return true;
	return false;
}
