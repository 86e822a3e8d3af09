// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The guest's own command-line words (the pvpatch.* options are the
 * library's, parsed by pvpatch_boot()):
 *   bench=N                     run the benchmarks with N iterations
 *   guest.expect_bad_override   (tests) a pvpatch.site= override must be refused
 *   guest.dump_sites            print every site's mode and bytes after patching
 *                               (tests compare them with tools/pvrom check)
 */
#include "console.h"
#include "guest.h"
#include "io.h"

struct cmdline cmd;

static unsigned int parse_uint(const char *s, size_t len)
{
	unsigned int v = 0;

	for (; len && *s >= '0' && *s <= '9'; s++, len--)
		v = v * 10 + (unsigned int)(*s - '0');
	return v;
}

void cmdline_parse(const char *s)
{
	while (s && *s) {
		const char *w = s;
		size_t len = 0;

		while (w[len] && w[len] != ' ')
			len++;
		s = w + len;
		while (*s == ' ')
			s++;
		if (len > 6 && !strncmp(w, "bench=", 6))
			cmd.bench = parse_uint(w + 6, len - 6);
		else if (len == strlen("guest.expect_bad_override") &&
			 !strncmp(w, "guest.expect_bad_override", len))
			cmd.expect_bad_override = true;
		else if (len == strlen("guest.dump_sites") && !strncmp(w, "guest.dump_sites", len))
			cmd.dump_sites = true;
	}
}
