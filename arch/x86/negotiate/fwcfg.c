// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * QEMU fw_cfg over the legacy I/O ports, through the kernel's port hooks:
 * selector 0x510 (16-bit), data 0x511.  The file directory (key 0x19) is a
 * big-endian count followed by 64-byte entries: size (be32), select (be16),
 * reserved, name[56].  What it returns is untrusted: sizes are clamped to
 * the caller's buffer.
 */
#include <asm/pvpatch-boot.h>
#include "../alternatives/util.h"

#define FW_CFG_SEL		0x510
#define FW_CFG_DATA		0x511
#define FW_CFG_SIGNATURE	0x00
#define FW_CFG_FILE_DIR		0x19
#define FW_CFG_MAX_FILES	4096

static void fw_read(const struct pvpatch_env *env, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n--)
		*p++ = env->inb(FW_CFG_DATA);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

long pvpatch_fwcfg_read(const struct pvpatch_env *env, const char *name, void *buf, size_t size)
{
	uint8_t sig[4], count[4], ent[64];
	uint32_t n;

	if (!env->inb || !env->outw)
		return -1;
	env->outw(FW_CFG_SEL, FW_CFG_SIGNATURE);
	fw_read(env, sig, 4);
	if (sig[0] != 'Q' || sig[1] != 'E' || sig[2] != 'M' || sig[3] != 'U')
		return -1;
	env->outw(FW_CFG_SEL, FW_CFG_FILE_DIR);
	fw_read(env, count, 4);
	n = be32(count);
	for (uint32_t i = 0; i < n && i < FW_CFG_MAX_FILES; i++) {
		uint32_t fsize;

		fw_read(env, ent, sizeof(ent));
		ent[63] = 0;
		if (pv_strcmp((const char *)ent + 8, name))
			continue;
		fsize = be32(ent);
		env->outw(FW_CFG_SEL, (uint16_t)(ent[4] << 8 | ent[5]));
		if (buf)
			fw_read(env, buf, fsize < size ? fsize : size);
		return fsize > 0x7fffffffu ? 0x7fffffffL : (long)fsize;
	}
	return -1;
}
