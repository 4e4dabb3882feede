// SPDX-License-Identifier: MIT
/*
 * Printing recorded stacks for events and history: under an event line as `strace -k`
 * does, or as a "stack" array inside the event's JSON object.
 *
 *    > /usr/lib/x86_64-linux-gnu/libc.so.6(mmap64+0x26) [0xfb0e6]
 *    > /tmp/stacks(vt_leaf_gamma+0x1c) [0x1234]
 *    > /usr/lib/x86_64-linux-gnu/libc.so.6() [0x271ca]        (no symbol covers it)
 *
 * The bracketed value is the frame's ELF virtual address in the module (what
 * `addr2line -e MODULE` takes), not the runtime address, which differs per process.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "store.h"
#include "sysent.h"

static int print_frame_text(const struct store_frame_info *f, void *data)
{
	FILE *out = data;

	if (f->function)
		fprintf(out, " > %s(%s+0x%" PRIx64 ") [0x%" PRIx64 "]\n", f->module, f->function,
			f->func_off, f->rel_pc);
	else
		fprintf(out, " > %s() [0x%" PRIx64 "]\n", f->module, f->rel_pc);
	return 0;
}

int stack_print_text(struct store_ro *r, int64_t stack_id, FILE *out)
{
	if (!stack_id)
		return 0;
	return store_query_stack(r, stack_id, print_frame_text, out);
}

static int print_frame_json(const struct store_frame_info *f, void *data)
{
	FILE *out = data;

	fprintf(out, "%s{\"pc\":%" PRIu64 ",\"module\":", f->depth ? "," : "", f->rel_pc);
	json_print_string(out, f->module);
	if (f->build_id)
		fprintf(out, ",\"build_id\":\"%s\"", f->build_id);
	if (f->function) {
		fputs(",\"function\":", out);
		json_print_string(out, f->function);
		fprintf(out, ",\"offset\":%" PRIu64, f->func_off);
	}
	fputc('}', out);
	return 0;
}

int event_print_json_stack(struct store_ro *r, const struct event *ev, FILE *out)
{
	char *line = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&line, &len);
	int err = 0;

	if (!mem)
		return -1;
	event_print_json(ev, mem);
	fclose(mem);
	/* The object without its closing "}\n", then the frames. */
	if (len >= 2)
		fwrite(line, 1, len - 2, out);
	fputs(",\"stack\":[", out);
	if (ev->stack_id)
		err = store_query_stack(r, ev->stack_id, print_frame_json, out);
	fputs("]}\n", out);
	free(line);
	return err;
}
