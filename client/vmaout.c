// SPDX-License-Identifier: MIT
/* VMA versions printed for people (/proc/PID/maps lines) and for scripts (JSON objects). */
#include <inttypes.h>
#include <stdio.h>
#include <sys/sysmacros.h>

#include "client.h"
#include "store.h"
#include "sysent.h"

/*
 * As fs/proc/task_mmu.c prints a line: the fixed columns and a space (kept without a
 * name, as the kernel does), then, when there is a name, spaces up to column 72 and one
 * more before the name.
 */
size_t vma_format_maps(const struct store_vma *v, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%08" PRIx64 "-%08" PRIx64 " %s %08" PRIx64
			 " %02x:%02x %" PRIu64 " ", v->start, v->end, v->perms, v->offset,
			 major(v->dev), minor(v->dev), v->ino);

	if (n < 0 || (size_t)n >= size)
		return size ? size - 1 : 0;
	if (v->name && *v->name) {
		while (n < 72 && (size_t)n + 1 < size)
			buf[n++] = ' ';
		n += snprintf(buf + n, size - (size_t)n, " %s", v->name);
	}
	return (size_t)n < size ? (size_t)n : size - 1;
}

void vma_print_json(const struct store_vma *v, FILE *out)
{
	fprintf(out, "{\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"perms\":\"%s\",\"offset\":%"
		PRIu64 ",\"dev\":\"%02x:%02x\",\"ino\":%" PRIu64 ",\"name\":", v->start, v->end,
		v->perms, v->offset, major(v->dev), minor(v->dev), v->ino);
	json_print_string(out, v->name ? v->name : "");
	fprintf(out, ",\"born_seq\":%" PRIu64 ",\"origin_unknown\":%s}", v->born_seq,
		v->origin_unknown ? "true" : "false");
}
