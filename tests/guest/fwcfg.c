/*
 * QEMU fw_cfg over the legacy I/O ports: selector 0x510 (16-bit), data
 * 0x511.  The file directory (key 0x19) is a big-endian count followed by
 * 64-byte entries: size (be32), select (be16), reserved, name[56].
 */
#include "guest.h"
#include "io.h"

#define FW_CFG_SEL	0x510
#define FW_CFG_DATA	0x511
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_FILE_DIR	0x19

static void fw_select(uint16_t key)
{
	outw(FW_CFG_SEL, key);
}

static void fw_read(void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n--)
		*p++ = inb(FW_CFG_DATA);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool fwcfg_present(void)
{
	char sig[4];

	fw_select(FW_CFG_SIGNATURE);
	fw_read(sig, 4);
	return sig[0] == 'Q' && sig[1] == 'E' && sig[2] == 'M' && sig[3] == 'U';
}

long fwcfg_read_file(const char *name, void *buf, size_t size)
{
	uint8_t count[4], ent[64];
	uint32_t n;

	if (!fwcfg_present())
		return -1;
	fw_select(FW_CFG_FILE_DIR);
	fw_read(count, 4);
	n = be32(count);
	for (uint32_t i = 0; i < n && i < 4096; i++) {
		uint32_t fsize;
		uint16_t sel;

		fw_read(ent, sizeof(ent));
		ent[63] = 0;
		if (strcmp((const char *)ent + 8, name))
			continue;
		fsize = be32(ent);
		sel = (uint16_t)(ent[4] << 8 | ent[5]);
		fw_select(sel);
		fw_read(buf, fsize < size ? fsize : size);
		return (long)fsize;
	}
	return -1;
}
