// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the CMOS RTC (MC146818) at ports 0x70 (index; bit 7 is the
 * NMI mask, ignored) and 0x71 (data), "rtc0", for Linux guests.
 *
 * The clock is the host's (UTC) plus an offset the guest moves by
 * writing the time. Registers:
 *   0, 2, 4   seconds, minutes, hours (12-hour with bit 7 = PM unless
 *             register B says 24-hour)
 *   1, 3, 5   alarm seconds, minutes, hours: stored, never fire
 *   6-9       day of week (1 = Sunday), day of month, month, year % 100
 *   0x32      century
 *   A         divider and rate bits stored; UIP always 0: the time
 *             registers never change under a reader, so Linux's UIP
 *             polling (mc146818_avoid_UIP) returns at once
 *   B         SET (bit 7) freezes the clock, as the chip's does: the
 *             guest then writes the fields one by one, each kept as
 *             written (no Feb 31 -> Mar 3 halfway through), and the
 *             clock goes on from them when SET is cleared; DM (bit 2)
 *             binary instead of BCD; 24/12 (bit 1); interrupt enables
 *             and DSE stored, no interrupts
 *   C         reads 0: no interrupt flags (no RTC interrupt is wired)
 *   D         reads 0x80: VRT, the battery is good
 * Every other CMOS byte reads 0 and ignores writes (Linux writes 0xf,
 * the shutdown status, to start APs: the warm-reset vector is not used).
 *
 * Saved state ("rtc0", version 1, little-endian, 24 bytes):
 *   u8 index, reg_a, reg_b, alarm_sec, alarm_min, alarm_hour, pad[2]
 *   i64 offset   guest time - host time, seconds
 *   u8 sec, min, hour, mday, mon (1-12), pad; u16 year: the fields
 *                while B.SET is set (binary), else 0
 * A restore keeps the guest's clock as far from the host's as it was.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmxctl_machine.h"

#define RTC_SEC		0x00
#define RTC_SEC_ALARM	0x01
#define RTC_MIN		0x02
#define RTC_MIN_ALARM	0x03
#define RTC_HOUR	0x04
#define RTC_HOUR_ALARM	0x05
#define RTC_WDAY	0x06
#define RTC_MDAY	0x07
#define RTC_MON		0x08
#define RTC_YEAR	0x09
#define RTC_REG_A	0x0a
#define RTC_REG_B	0x0b
#define RTC_REG_C	0x0c
#define RTC_REG_D	0x0d
#define RTC_CENTURY	0x32

#define A_UIP		0x80
#define B_SET		0x80
#define B_DM_BINARY	0x04
#define B_24H		0x02
#define D_VRT		0x80
#define HOUR_PM		0x80

struct rtc_state_v1 {
	uint8_t index, reg_a, reg_b, alarm_sec, alarm_min, alarm_hour, pad[2];
	int64_t offset;
	uint8_t sec, min, hour, mday, mon, pad2;
	uint16_t year;
} __attribute__((packed));

_Static_assert(sizeof(struct rtc_state_v1) == 24, "documented size");

struct rtc {
	struct vmxctl_device dev;
	uint8_t index, reg_a, reg_b, alarm_sec, alarm_min, alarm_hour;
	int64_t offset;			/* guest - host, seconds */
	struct tm frozen;		/* the fields while B.SET, as written */
};

static int64_t host_now(void)
{
	return time(NULL);
}

/* The guest's date and time now: the clock's, or the frozen fields. */
static void guest_tm(const struct rtc *r, struct tm *tm)
{
	struct tm copy;
	time_t t;

	if (r->reg_b & B_SET) {
		*tm = r->frozen;
		copy = *tm;
		t = timegm(&copy);
		gmtime_r(&t, &copy);
		tm->tm_wday = copy.tm_wday;	/* follows from the date */
		return;
	}
	t = host_now() + r->offset;
	gmtime_r(&t, tm);
}

static uint8_t to_reg(const struct rtc *r, unsigned int v)
{
	return (r->reg_b & B_DM_BINARY) ? v : (v / 10) << 4 | v % 10;
}

static unsigned int from_reg(const struct rtc *r, uint8_t v)
{
	return (r->reg_b & B_DM_BINARY) ? v : (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t hour_reg(const struct rtc *r, unsigned int h)
{
	if (r->reg_b & B_24H)
		return to_reg(r, h);
	/* 12-hour: 12, 1 .. 11 with bit 7 for PM */
	return to_reg(r, h % 12 ? h % 12 : 12) | (h >= 12 ? HOUR_PM : 0);
}

static unsigned int hour_from_reg(const struct rtc *r, uint8_t v)
{
	unsigned int h;

	if (r->reg_b & B_24H)
		return from_reg(r, v);
	h = from_reg(r, v & ~HOUR_PM) % 12;
	return (v & HOUR_PM) ? h + 12 : h;
}

static uint8_t read_time(const struct rtc *r, unsigned int idx)
{
	struct tm tm;

	guest_tm(r, &tm);
	switch (idx) {
	case RTC_SEC: return to_reg(r, tm.tm_sec);
	case RTC_MIN: return to_reg(r, tm.tm_min);
	case RTC_HOUR: return hour_reg(r, tm.tm_hour);
	case RTC_WDAY: return to_reg(r, tm.tm_wday + 1);
	case RTC_MDAY: return to_reg(r, tm.tm_mday);
	case RTC_MON: return to_reg(r, tm.tm_mon + 1);
	case RTC_YEAR: return to_reg(r, (tm.tm_year + 1900) % 100);
	default: return to_reg(r, (tm.tm_year + 1900) / 100);	/* century */
	}
}

/*
 * The guest sets one field: the others keep their current values. While
 * B.SET the field is kept as written; else the clock goes on from the
 * result at once, out-of-range values normalised as timegm() does (the
 * chip's result would be undefined). Day of week follows from the date
 * and is not settable.
 */
static void write_time(struct rtc *r, unsigned int idx, uint8_t v)
{
	unsigned int year;
	struct tm tm;

	guest_tm(r, &tm);
	year = tm.tm_year + 1900;
	switch (idx) {
	case RTC_SEC: tm.tm_sec = from_reg(r, v); break;
	case RTC_MIN: tm.tm_min = from_reg(r, v); break;
	case RTC_HOUR: tm.tm_hour = hour_from_reg(r, v); break;
	case RTC_MDAY: tm.tm_mday = from_reg(r, v); break;
	case RTC_MON: tm.tm_mon = (int)from_reg(r, v) - 1; break;
	case RTC_YEAR: year = year / 100 * 100 + from_reg(r, v) % 100; break;
	case RTC_CENTURY: year = from_reg(r, v) * 100 + year % 100; break;
	default: return;
	}
	tm.tm_year = year - 1900;
	if (r->reg_b & B_SET)
		r->frozen = tm;
	else
		r->offset = timegm(&tm) - host_now();
}

static uint8_t rtc_read(struct rtc *r)
{
	switch (r->index) {
	case RTC_SEC:
	case RTC_MIN:
	case RTC_HOUR:
	case RTC_WDAY:
	case RTC_MDAY:
	case RTC_MON:
	case RTC_YEAR:
	case RTC_CENTURY:
		return read_time(r, r->index);
	case RTC_SEC_ALARM: return r->alarm_sec;
	case RTC_MIN_ALARM: return r->alarm_min;
	case RTC_HOUR_ALARM: return r->alarm_hour;
	case RTC_REG_A: return r->reg_a & ~A_UIP;
	case RTC_REG_B: return r->reg_b;
	case RTC_REG_C: return 0;
	case RTC_REG_D: return D_VRT;
	default: return 0;
	}
}

static void rtc_write(struct rtc *r, uint8_t v)
{
	switch (r->index) {
	case RTC_SEC_ALARM: r->alarm_sec = v; break;
	case RTC_MIN_ALARM: r->alarm_min = v; break;
	case RTC_HOUR_ALARM: r->alarm_hour = v; break;
	case RTC_REG_A: r->reg_a = v & ~A_UIP; break;
	case RTC_REG_B:
		/* SET freezes the clock where it is, clearing it lets it go */
		if ((v & B_SET) && !(r->reg_b & B_SET)) {
			guest_tm(r, &r->frozen);
		} else if (!(v & B_SET) && (r->reg_b & B_SET)) {
			r->offset = timegm(&r->frozen) - host_now();
			memset(&r->frozen, 0, sizeof(r->frozen));
		}
		r->reg_b = v;
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break;	/* read-only */
	default:
		write_time(r, r->index, v);
		break;
	}
}

static void rtc_pio(struct vmxctl_device *d, uint64_t port, bool write,
		    uint64_t *val, unsigned int size)
{
	struct rtc *r = d->priv;

	(void)size;	/* byte registers: wider accesses use the low byte */
	if (port == 0) {
		if (write)
			r->index = *val & 0x7f;	/* bit 7: NMI mask */
		else
			*val = r->index;
		return;
	}
	if (write)
		rtc_write(r, *val);
	else
		*val = rtc_read(r);
}

static int rtc_save(struct vmxctl_device *d, struct vmxctl_dev_state *st)
{
	struct rtc *r = d->priv;
	struct rtc_state_v1 *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_lock(&d->lock);
	*s = (struct rtc_state_v1){
		.index = r->index, .reg_a = r->reg_a, .reg_b = r->reg_b,
		.alarm_sec = r->alarm_sec, .alarm_min = r->alarm_min,
		.alarm_hour = r->alarm_hour, .offset = r->offset,
	};
	if (r->reg_b & B_SET) {
		s->sec = r->frozen.tm_sec;
		s->min = r->frozen.tm_min;
		s->hour = r->frozen.tm_hour;
		s->mday = r->frozen.tm_mday;
		s->mon = r->frozen.tm_mon + 1;
		s->year = r->frozen.tm_year + 1900;
	}
	pthread_mutex_unlock(&d->lock);
	st->version = 1;
	st->len = sizeof(*s);
	st->data = s;
	return 0;
}

static int rtc_restore(struct vmxctl_device *d,
		       const struct vmxctl_dev_state *st)
{
	struct rtc *r = d->priv;
	const struct rtc_state_v1 *s = st->data;

	if (st->version != 1 || st->len != sizeof(*s) || s->index > 0x7f ||
	    (s->reg_a & A_UIP) || s->pad[0] || s->pad[1] || s->pad2 ||
	    (!(s->reg_b & B_SET) &&
	     (s->sec | s->min | s->hour | s->mday | s->mon | s->year)))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	r->index = s->index;
	r->reg_a = s->reg_a;
	r->reg_b = s->reg_b;
	r->alarm_sec = s->alarm_sec;
	r->alarm_min = s->alarm_min;
	r->alarm_hour = s->alarm_hour;
	r->offset = s->offset;
	memset(&r->frozen, 0, sizeof(r->frozen));
	if (r->reg_b & B_SET) {
		r->frozen.tm_sec = s->sec;
		r->frozen.tm_min = s->min;
		r->frozen.tm_hour = s->hour;
		r->frozen.tm_mday = s->mday;
		r->frozen.tm_mon = (int)s->mon - 1;
		r->frozen.tm_year = (int)s->year - 1900;
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void rtc_destroy(struct vmxctl_device *d)
{
	free(d->priv);
}

static const struct vmxctl_dev_ops rtc_ops = {
	.pio = rtc_pio,
	.save = rtc_save,
	.restore = rtc_restore,
	.destroy = rtc_destroy,
};

int vmxctl_rtc_create(struct vmxctl_machine *m)
{
	struct rtc *r = calloc(1, sizeof(*r));
	int ret;

	if (!r) {
		vmxctl_err("rtc0: out of memory");
		return -ENOMEM;
	}
	snprintf(r->dev.name, sizeof(r->dev.name), "rtc0");
	r->dev.ops = &rtc_ops;
	r->dev.port_base = 0x70;
	r->dev.port_len = 2;
	r->dev.gsi = -1;	/* no RTC interrupt */
	r->dev.priv = r;
	r->reg_a = 0x26;	/* 32.768 kHz time base, 1024 Hz rate */
	r->reg_b = B_24H;	/* BCD, 24-hour: what firmware leaves */
	ret = vmxctl_add_device(m, &r->dev);
	if (ret)
		free(r);
	return ret;
}
