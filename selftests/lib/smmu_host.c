// SPDX-License-Identifier: GPL-2.0
/* Host side of the guest SMMUv3 driver's mailbox (smmu_guest.h). */
#include <stdio.h>
#include <string.h>

#include "gvm.h"
#include "smmu_guest.h"

static int sg_wait(struct gvm *vm)
{
	struct gvm_exit e;
	char buf[320];

	if (gvm_run(vm, 0, &e)) {
		fprintf(stderr, "# smmu guest: RUN failed\n");
		return -1;
	}
	if (e.reason != GVM_EXIT_UCALL) {
		fprintf(stderr, "# smmu guest: %s\n",
			gvm_exit_str(&e, buf, sizeof(buf)));
		return -1;
	}
	if (e.uc.cmd != UCALL_SYNC) {
		fprintf(stderr, "# smmu guest: %s\n",
			gvm_ucall_str(&e.uc, buf, sizeof(buf)));
		return -1;
	}
	return 0;
}

int sg_start(struct gvm *vm)
{
	if (gvm_enter_long_mode(vm, 0, smmu_guest_loop, 0, 0))
		return -1;
	return sg_wait(vm);
}

int sg_call(struct gvm *vm, uint64_t op, const uint64_t a[8], uint64_t *ret)
{
	struct sg_mailbox *mb = gvm_gpa(vm, SG_MAILBOX, sizeof(*mb));

	mb->op = op;
	memcpy(mb->a, a, sizeof(mb->a));
	mb->ret = 0;
	if (sg_wait(vm))
		return -1;
	*ret = mb->ret;
	return 0;
}
