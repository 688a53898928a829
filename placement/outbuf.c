/* outbuf.c — the bounded text buffer shared by the formatters (placement_int.h). */
#include <stdarg.h>
#include <stdio.h>

#include "placement.h"
#include "placement_int.h"

plc__out plc__out_start(char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
	return (plc__out){.buf = buf, .len = len, .used = 0};
}

void plc__put(plc__out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->used < o->len ? o->len - o->used : 0;
	int n = vsnprintf(room ? o->buf + o->used : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->used += (size_t)n;
}
