/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel types and errnos the machine-independent helpers use,
 * so that the host unit tests compile the very same .c files.
 */
#ifndef VMXL_HOST_COMPAT_H
#define VMXL_HOST_COMPAT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

#endif
