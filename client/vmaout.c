// SPDX-License-Identifier: MIT
/* VMA versions printed for people (/proc/PID/maps lines) and for scripts (JSON objects). */
#include <inttypes.h>
#include <stdio.h>
#include <sys/sysmacros.h>

#include "client.h"
#include "store.h"
#include "stresc.h"
#include "sysent.h"

/*
 * As fs/proc/task_mmu.c prints a line: the fixed columns and a space (kept without a
 * name, as the kernel does), then, when there is a name, spaces up to column 72 and one
 * more before the name. The name is escaped (stresc_name): the kernel shows a newline in
 * a path as \012, and the trace's names come from the traced program, which may have put
 * escape sequences in them for the reader's terminal.
 */
size_t vma_format_maps_name(const struct store_vma *v, char *buf, size_t size,
			    size_t *ret_name_at)
{
	int n = snprintf(buf, size, "%08" PRIx64 "-%08" PRIx64 " %.4s %08" PRIx64
			 " %02x:%02x %" PRIu64 " ", v->start, v->end, v->perms, v->offset,
			 major(v->dev), minor(v->dev), v->ino);

	if (n < 0 || (size_t)n >= size) {
		n = size ? (int)size - 1 : 0;
		if (ret_name_at)
			*ret_name_at = (size_t)n;
		return (size_t)n;
	}
	if (v->name && *v->name && (size_t)n + 1 < size) {
		while (n < 72 && (size_t)n + 2 < size)
			buf[n++] = ' ';
		buf[n++] = ' ';
		if (ret_name_at)
			*ret_name_at = (size_t)n;
		return (size_t)n + stresc_name(buf + n, size - (size_t)n, v->name);
	}
	if (ret_name_at)
		*ret_name_at = (size_t)n;
	return (size_t)n;
}

size_t vma_format_maps(const struct store_vma *v, char *buf, size_t size)
{
	return vma_format_maps_name(v, buf, size, NULL);
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
