// SPDX-License-Identifier: GPL-2.0
/*
 * What the snapshot writer and reader share (snapshot_format.h): CRCs,
 * section headers, error messages and the id's text form.
 */
#include <stdarg.h>
#include <stdio.h>
#include <zlib.h>

#include "snapshot_format.h"

void snap_seterr(struct snap_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

uint32_t snap_crc(const void *p, size_t len)
{
	uint32_t c = crc32(0L, Z_NULL, 0);
	const uint8_t *b = p;

	/* zlib takes uInt lengths */
	while (len) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		c = crc32(c, b, n);
		b += n;
		len -= n;
	}
	return c;
}

void snap_sechdr_fill(uint8_t h[SNAP_SECHDR_SIZE], uint32_t type,
		      uint32_t index, uint64_t len, uint32_t pcrc)
{
	put32(h, type);
	put32(h + 4, index);
	put64(h + 8, len);
	put32(h + 16, pcrc);
	put32(h + 20, snap_crc(h, 20));
}

void snap_id_hex(const uint8_t id[SNAP_ID_SIZE], char out[2 * SNAP_ID_SIZE + 1])
{
	for (unsigned int i = 0; i < SNAP_ID_SIZE; i++)
		sprintf(out + 2 * i, "%02x", id[i]);
}

bool snap_all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}
