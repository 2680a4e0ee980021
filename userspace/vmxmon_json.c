// SPDX-License-Identifier: GPL-2.0
/*
 * vmxmon's JSON emitter: one object per line on stdout, members written
 * as they come (no tree in memory).
 */
#include <inttypes.h>
#include <math.h>

#include "vmxmon.h"

static struct {
	int depth;
	bool first[8];
} js;

static void json_string(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		case '\b':
			fputs("\\b", stdout);
			break;
		case '\f':
			fputs("\\f", stdout);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
}

void json_key(const char *key)
{
	if (!js.first[js.depth])
		putchar(',');
	js.first[js.depth] = false;
	if (key) {
		json_string(key);
		putchar(':');
	}
}

void json_open(const char *key, char c)
{
	json_key(key);
	putchar(c);
	js.first[++js.depth] = true;
}

void json_close(char c)
{
	putchar(c);
	js.depth--;
}

void json_begin(void)
{
	js.depth = 0;
	js.first[0] = true;
	json_open(NULL, '{');
}

void json_end(void)
{
	json_close('}');
	putchar('\n');
	fflush(stdout);
}

void json_str(const char *key, const char *v)
{
	json_key(key);
	json_string(v);
}

void json_u64(const char *key, uint64_t v)
{
	json_key(key);
	printf("%" PRIu64, v);
}

void json_double(const char *key, double v)
{
	json_key(key);
	if (isfinite(v))
		printf("%.3f", v);
	else
		fputs("null", stdout);
}

void json_bool(const char *key, bool v)
{
	json_key(key);
	fputs(v ? "true" : "false", stdout);
}
