// SPDX-License-Identifier: MIT
/* The event record's ownership helpers. */
#include <stdlib.h>
#include <string.h>

#include "event.h"

void event_release(struct event *ev)
{
	if (!ev)
		return;
	free(ev->path);
	free(ev->argv);
	ev->path = NULL;
	ev->argv = NULL;
}

void event_move(struct event *dst, struct event *src)
{
	*dst = *src;
	src->path = NULL;
	src->argv = NULL;
}
