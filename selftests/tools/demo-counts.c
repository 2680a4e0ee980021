// SPDX-License-Identifier: GPL-2.0
/*
 * demo-counts: is a memory dump of the demo guest (demo.elf) one moment
 * of its run? The vmxctl-snapshot bats tests use it on what a snapshot
 * restores, taken while the guest kept writing.
 *
 *   demo-counts ELF DUMP
 *
 * The demo's loop does `c = ++count; dirty_array[c % 1024][0] = c;`, so
 * at any one moment, with n = count, page p of the array holds the
 * largest value <= n that is p modulo 1024 (0 if there is none yet);
 * page n % 1024 may still hold the value before it (the moment fell
 * between the two stores). A dump assembled from different moments, such
 * as memory compressed while the guest ran on, has pages ahead of n or
 * behind it. ELF gives the addresses of `count` and `dirty_array` (its
 * symbol table; the demo runs identity-mapped), DUMP is guest-physical
 * memory from offset 0 (`vmxctl verify --dump-mem`, `control dump-mem`).
 *
 * Prints "count N: the 1024 array pages hold counts N-1023..N" (from 1
 * while N < 1024), exit 0;
 * the first page that does not fit, exit 1; 2 on usage or I/O errors.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGES	1024
#define PG	4096

/* @name's address in the symbol table of the ELF @img of @len bytes. */
static int symbol(const uint8_t *img, size_t len, const char *name, uint64_t *addr)
{
	const Elf64_Ehdr *eh = (const void *)img;
	const Elf64_Shdr *sh;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shoff > len ||
	    eh->e_shentsize != sizeof(*sh) ||
	    eh->e_shnum > (len - eh->e_shoff) / sizeof(*sh))
		return -1;
	sh = (const void *)(img + eh->e_shoff);
	for (unsigned int i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *str = &sh[sh[i].sh_link];
		const Elf64_Sym *sym = (const void *)(img + sh[i].sh_offset);

		if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum ||
		    sh[i].sh_offset > len || sh[i].sh_size > len - sh[i].sh_offset ||
		    str->sh_offset > len || str->sh_size > len - str->sh_offset)
			continue;
		for (size_t k = 0; k < sh[i].sh_size / sizeof(*sym); k++) {
			const char *n = (const char *)img + str->sh_offset + sym[k].st_name;

			if (sym[k].st_name < str->sh_size &&
			    strnlen(n, str->sh_size - sym[k].st_name) == strlen(name) &&
			    !strcmp(n, name)) {
				*addr = sym[k].st_value;
				return 0;
			}
		}
	}
	return -1;
}

static int read_u64(int fd, const char *dump, uint64_t off, uint64_t *v)
{
	if (pread(fd, v, 8, off) != 8) {
		fprintf(stderr, "demo-counts: %s: cannot read 8 bytes at 0x%" PRIx64 "\n",
			dump, off);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t count_at, array_at, n;
	struct stat sb;
	uint8_t *img;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: demo-counts ELF DUMP\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &sb) || !(img = malloc(sb.st_size)) ||
	    read(fd, img, sb.st_size) != sb.st_size) {
		fprintf(stderr, "demo-counts: %s: cannot read it\n", argv[1]);
		return 2;
	}
	close(fd);
	if (symbol(img, sb.st_size, "count", &count_at) ||
	    symbol(img, sb.st_size, "dirty_array", &array_at)) {
		fprintf(stderr, "demo-counts: %s: no count or dirty_array symbol\n",
			argv[1]);
		return 2;
	}
	free(img);
	fd = open(argv[2], O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "demo-counts: %s: cannot open it\n", argv[2]);
		return 2;
	}
	if (read_u64(fd, argv[2], count_at, &n))
		return 2;
	for (int64_t p = 0; p < PAGES; p++) {
		int64_t want = (int64_t)n - (((int64_t)n - p) % PAGES + PAGES) % PAGES;
		uint64_t v;

		if (read_u64(fd, argv[2], array_at + p * PG, &v))
			return 2;
		if (want < 0)
			want = 0;
		if (v == (uint64_t)want)
			continue;
		/* between `++count` and the array's store */
		if ((uint64_t)p == n % PAGES &&
		    v == (uint64_t)(want >= PAGES ? want - PAGES : 0))
			continue;
		printf("demo-counts: %s: count %" PRIu64 ", but array page %" PRId64 " holds %" PRIu64 " (expected %" PRId64 "): not one moment of the guest\n",
		       argv[2], n, p, v, want);
		return 1;
	}
	close(fd);
	printf("count %" PRIu64 ": the %u array pages hold counts %" PRId64 "..%" PRIu64 "\n",
	       n, PAGES, n >= PAGES ? (int64_t)n - PAGES + 1 : 1, n);
	return 0;
}
