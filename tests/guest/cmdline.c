// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The guest's own command-line words (the pvpatch.* options are the
 * library's, parsed by pvpatch_boot()):
 *   bench=N                     run the benchmarks with N iterations
 *   guest.expect_bad_override   (tests) a pvpatch.site= override must be refused
 *   guest.dump_sites            print every site's mode and bytes after patching
 *                               (tests compare them with tools/pvrom check)
 *   guest.repatch_rounds=N      with pvpatch.repatch=: re-patch N times, then
 *                               report and exit (default 40)
 *   guest.repatch_host          re-negotiate and re-patch (as at boot) each time
 *                               the host sends an NMI (QMP inject-nmi), up to
 *                               guest.repatch_rounds times, a minute at most
 *   guest.repatch_unsafe        (the negative test) re-patch without pvpatch's
 *                               quiescence check: PVPATCH_F_NO_QUIESCE_DEBUG
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
		else if (len > 21 && !strncmp(w, "guest.repatch_rounds=", 21))
			cmd.repatch_rounds = parse_uint(w + 21, len - 21);
		else if (len == strlen("guest.repatch_unsafe") &&
			 !strncmp(w, "guest.repatch_unsafe", len))
			cmd.repatch_unsafe = true;
		else if (len == strlen("guest.repatch_host") && !strncmp(w, "guest.repatch_host", len))
			cmd.repatch_host = true;
	}
}
