// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz.elf: a target for `vmxctl fuzz` (docs/fuzzing.md), on the
 * harness's defaults (input at 0x200000, at most 4096 bytes).
 *
 * Before it is ready it installs an IDT whose handler for each exception
 * N < 32 writes 0x80 | N to the exit port, fills a 128 KiB area with a
 * pattern and keeps the area's checksum; then it writes to the ready port
 * 0xf5, where the harness takes the reset point. Every input starts right
 * after that OUT, from the point, and:
 *   - checks the area against the checksum: a reset that did not restore
 *     what an earlier input wrote ends the input with exit code 3;
 *   - dirties the area: for each input byte b at offset i, a word of page
 *     b % 32 (so resets have work, and a different amount per input);
 *     with "DIRTY" at its start, every page of the area too;
 *   - then by its first bytes: "UD!" executes UD2 (#UD: its handler
 *     reports vector 6), "GP!" reads a non-canonical address (#GP, an
 *     exception with an error code: vector 13), "TF!" loads an empty IDT
 *     and executes UD2 (no handler can be reached: triple fault),
 *     "LOOP!" loops forever (the time limit ends it), "HLT!" halts with
 *     interrupts off, "EXIT!" and a byte C writes C to the exit port;
 *     anything else ends the input with 0 (ok).
 * The magic strings are three or more bytes so that random mutations of
 * an ok input all but never turn into one, while "UE!" is one bit flip
 * from "UD!" (the tests' mutation target).
 */
#include "guest.h"

#define READY_PORT	0xf5
#define INPUT_GPA	0x200000UL
#define MAX_INPUT	4096
#define VECTOR_BASE	0x80
#define AREA_PAGES	32
#define WORDS_PER_PAGE	512
#define CODE_MISMATCH	3

/* What the inputs write: the harness's resets must undo it. */
static uint64_t area[AREA_PAGES * WORDS_PER_PAGE] __attribute__((aligned(4096)));

struct idt_gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
} __attribute__((packed));

struct idtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/*
 * Written before the reset point only, on a page of its own that no
 * input writes: the checksum stays right even if a reset restored nothing.
 */
static struct {
	struct idt_gate idt[32];
	struct idtr idtr;
	uint64_t expected;
} boot __attribute__((aligned(4096)));

static const struct idtr no_idt = { 0, 0 };

/*
 * The exception handlers, 16 bytes apart: report the vector on the exit
 * port and stop (the harness ends the input at the OUT).
 */
asm(".pushsection .text\n"
    ".balign 16\n"
    "fuzz_vectors:\n"
    ".set vec, 0\n"
    ".rept 32\n"
    ".balign 16\n"
    "movb $(0x80 + vec), %al\n"
    "outb %al, $0xf4\n"
    "1: cli\n"
    "hlt\n"
    "jmp 1b\n"
    ".set vec, vec + 1\n"
    ".endr\n"
    ".popsection\n");
extern const char fuzz_vectors[];

static void setup_idt(void)
{
	unsigned int v;

	for (v = 0; v < 32; v++) {
		uint64_t h = (uint64_t)(uintptr_t)(fuzz_vectors + 16 * v);

		boot.idt[v] = (struct idt_gate){
			.off0 = h, .sel = 0x08, .type = 0x8e,	/* interrupt gate */
			.off1 = h >> 16, .off2 = h >> 32,
		};
	}
	boot.idtr.limit = sizeof(boot.idt) - 1;
	boot.idtr.base = (uint64_t)(uintptr_t)boot.idt;
	asm volatile("lidt %0" : : "m"(boot.idtr));
}

static uint64_t checksum(void)
{
	uint64_t h = 0;
	unsigned int i;

	for (i = 0; i < AREA_PAGES * WORDS_PER_PAGE; i++)
		h = ((h << 7) | (h >> 57)) ^ area[i];
	return h;
}

static int starts(const volatile uint8_t *in, uint64_t len, const char *s)
{
	uint64_t i;

	for (i = 0; s[i]; i++)
		if (i >= len || in[i] != (uint8_t)s[i])
			return 0;
	return 1;
}

void guest_main(void);
void guest_main(void)
{
	const volatile uint8_t *in = (const volatile uint8_t *)(INPUT_GPA + 8);
	uint64_t len, i;

	setup_idt();
	for (i = 0; i < AREA_PAGES * WORDS_PER_PAGE; i++)
		area[i] = i * 0x9e3779b97f4a7c15ULL;
	boot.expected = checksum();

	outb(READY_PORT, 0);
	/* Each input starts here (the OUT's "memory" clobber: nothing cached). */
	if (checksum() != boot.expected)
		guest_exit(CODE_MISMATCH);
	len = *(const volatile uint64_t *)INPUT_GPA;
	if (len > MAX_INPUT)
		len = MAX_INPUT;
	for (i = 0; i < len; i++)
		area[(in[i] % AREA_PAGES) * WORDS_PER_PAGE + i % WORDS_PER_PAGE] +=
			in[i] + 1;
	if (starts(in, len, "DIRTY"))
		for (i = 0; i < AREA_PAGES; i++)
			area[i * WORDS_PER_PAGE + WORDS_PER_PAGE - 1] ^= ~0ULL;

	if (starts(in, len, "UD!"))
		asm volatile("ud2");
	if (starts(in, len, "GP!"))
		(void)*(volatile uint64_t *)0x8000000000000000ULL;
	if (starts(in, len, "TF!"))
		asm volatile("lidt %0; ud2" : : "m"(no_idt));
	if (starts(in, len, "LOOP!"))
		for (;;)
			asm volatile("pause");
	if (starts(in, len, "HLT!"))
		for (;;)
			asm volatile("cli; hlt");
	if (starts(in, len, "EXIT!") && len > 5)
		guest_exit(in[5]);
	guest_exit(0);
}
