// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel local APIC of VMXL_VM_LAPIC VMs (docs/lapic.md): the
 * xAPIC register page and the x2APIC MSRs, the timer on an hrtimer, IPIs,
 * INIT and STARTUP, and the choice of the vector to inject before each
 * entry. Semantics follow the SDM Vol. 3A chapter 10 ("Advanced
 * Programmable Interrupt Controller"); KVM's lapic.c where the SDM leaves
 * a choice.
 */
#include <linux/hrtimer.h>
#include <linux/math64.h>
#include <linux/overflow.h>
#include <linux/rcupdate.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <asm/apicdef.h>
#include <asm/msr-index.h>
#include <asm/tsc.h>

#include "vmxl.h"

#define LAPIC_VERSION	0x00050014	/* 6 LVTs (max LVT 5), integrated */
#define LAPIC_LVT_MODE	(3U << 17)	/* LVT timer: the timer mode */
#define LAPIC_SHORTHAND	(3U << 18)	/* ICR: the destination shorthand */
#define LAPIC_X2APIC_MSR_END	0x8ff
/* KVM's min_timer_period_us: a shorter period would be a host timer storm */
#define LAPIC_MIN_PERIOD_US	200
/*
 * The hrtimer fires up to this early; the vCPU then waits out the rest
 * on its own thread before raising the vector, so the wake-up and the
 * entry overlap the wait instead of following the deadline (KVM's
 * lapic_timer_advance_ns is the same idea). The advance adapts by an
 * eighth of each expiry's error, for errors between the bounds below.
 */
#define LAPIC_ADVANCE_INIT_NS	1000
#define LAPIC_ADVANCE_MAX_NS	20000
#define LAPIC_ADVANCE_ERR_MIN_NS	100
#define LAPIC_ADVANCE_ERR_MAX_NS	100000
/* A deadline further away than this (about 100 years) is never reached. */
#define LAPIC_FAR_MS		(100ULL * 365 * 24 * 3600 * MSEC_PER_SEC)

/*
 * State: regs[] is the xAPIC page up to 0x3f0, as VMXL_GET_LAPIC shows
 * it. IRR and TMR bits are set by anyone with atomic bit operations
 * (senders, the vCPU); everything else belongs to the vCPU's thread
 * (vcpu->mutex held), senders only read ID, LDR, DFR and SVR.
 */
struct vmxl_lapic {
	u8 regs[0x400] __aligned(16);
	struct vmxl_vcpu *vcpu;
	struct hrtimer timer;	/* fires at deadline: VMXL_REQ_TIMER */
	u64 deadline;		/* guest TSC of the next expiry, 0: not armed */
	u64 period;		/* periodic mode: TSC ticks per period */
	u32 advance_ns;		/* the hrtimer fires this early (adaptive) */
	bool fired;		/* set by the hrtimer: the expiry may adjust */
	u32 esr_pending;	/* errors since ESR was last written */
	s16 eoi_exit;		/* level-triggered vector EOI'd, for RUN, or -1 */
	s16 extint;		/* an ExtINT's vector (VMXL_LAPIC_LINT), or -1 */
	u16 sipi;		/* a STARTUP not yet taken: SIPI_PENDING | vector */
};

#define SIPI_PENDING	BIT(8)

static u32 reg_get(const struct vmxl_lapic *l, u32 off)
{
	return READ_ONCE(*(u32 *)(l->regs + off));
}

static void reg_set(struct vmxl_lapic *l, u32 off, u32 val)
{
	WRITE_ONCE(*(u32 *)(l->regs + off), val);
}

/*
 * A vector's bit in the 256-bit IRR/ISR/TMR banks: eight 32-bit registers
 * 16 bytes apart. The unsigned long covering one register also covers 4
 * reserved bytes, so atomic bitops on it are safe (KVM does the same).
 */
static unsigned long *vec_word(struct vmxl_lapic *l, u32 bank, u8 vec)
{
	return (unsigned long *)(l->regs + bank + (vec >> 5) * 0x10);
}

static void vec_set(struct vmxl_lapic *l, u32 bank, u8 vec)
{
	set_bit(vec & 31, vec_word(l, bank, vec));
}

static void vec_clear(struct vmxl_lapic *l, u32 bank, u8 vec)
{
	clear_bit(vec & 31, vec_word(l, bank, vec));
}

static bool vec_test(struct vmxl_lapic *l, u32 bank, u8 vec)
{
	return test_bit(vec & 31, vec_word(l, bank, vec));
}

/* The highest vector set in a bank, -1 if none. */
static int vec_highest(const struct vmxl_lapic *l, u32 bank)
{
	int i;
	u32 w;

	for (i = 7; i >= 0; i--) {
		w = reg_get(l, bank + i * 0x10);
		if (w)
			return i * 32 + fls(w) - 1;
	}
	return -1;
}

static bool lapic_hw_enabled(const struct vmxl_vcpu *vcpu)
{
	return READ_ONCE(vcpu->apic_base) & MSR_IA32_APICBASE_ENABLE;
}

static bool lapic_x2apic(const struct vmxl_vcpu *vcpu)
{
	return READ_ONCE(vcpu->apic_base) & X2APIC_ENABLE;
}

static bool lapic_sw_enabled(const struct vmxl_lapic *l)
{
	return reg_get(l, APIC_SPIV) & APIC_SPIV_APIC_ENABLED;
}

/* PPR: the higher of TPR and the in-service class (SDM 10.8.3.1). */
static u32 lapic_ppr(const struct vmxl_lapic *l)
{
	u32 tpr = reg_get(l, APIC_TASKPRI);
	int isr = vec_highest(l, APIC_ISR);
	u32 isrv = isr < 0 ? 0 : isr;

	return (tpr & 0xf0) >= (isrv & 0xf0) ? tpr : isrv & 0xf0;
}

/* ---- kicks ---- */

/*
 * Make @vcpu look at its requests: set @req, then wake it if it waits
 * (HLT, INIT) or IPI its CPU if it is in the guest. The barrier pairs
 * with the vCPU's: it publishes IN_GUEST, then reads its requests with
 * interrupts blocked (vmxl_entry_abort()), so either it sees @req or we
 * see IN_GUEST and the IPI ends the entry. Any context, hardirq included.
 */
void vmxl_vcpu_kick(struct vmxl_vcpu *vcpu, unsigned int req)
{
	int cpu;

	set_bit(req, &vcpu->requests);
	/* the request before the mode: pairs with the vCPU's smp_mb() */
	smp_mb__after_atomic();
	if (atomic_read(&vcpu->mode) == VMXL_IN_GUEST) {
		cpu = READ_ONCE(vcpu->cpu);
		if (cpu >= 0 && cpu != raw_smp_processor_id())
			smp_send_reschedule(cpu);
	}
	wake_up_interruptible(&vcpu->wq);
}

/* ---- the timer ---- */

static u64 lapic_guest_tsc(struct vmxl_vcpu *vcpu)
{
	u64 tsc = 0;

	vmxl_backend->get_msr(vcpu, MSR_IA32_TSC, &tsc);
	return tsc;
}

static u32 lapic_divide(const struct vmxl_lapic *l)
{
	u32 dcr = reg_get(l, APIC_TDCR);
	u32 v = (dcr & 3) | ((dcr & 8) >> 1);

	return v == 7 ? 1 : 2U << v;
}

static u32 lapic_timer_mode(const struct vmxl_lapic *l)
{
	return reg_get(l, APIC_LVTT) & LAPIC_LVT_MODE;
}

static enum hrtimer_restart lapic_timer_fn(struct hrtimer *t)
{
	struct vmxl_lapic *l = container_of(t, struct vmxl_lapic, timer);

	WRITE_ONCE(l->fired, true);
	vmxl_vcpu_kick(l->vcpu, VMXL_REQ_TIMER);
	return HRTIMER_NORESTART;
}

/*
 * Guest TSC ticks to nanoseconds, rounded up; U64_MAX for more than
 * LAPIC_FAR_MS, where the nanoseconds would not fit in 64 bits (a divide
 * error in mul_u64_u32_div()). Needs tsc_khz.
 */
static u64 lapic_ticks_to_ns(u64 ticks)
{
	if (div64_u64(ticks, tsc_khz) > LAPIC_FAR_MS)
		return U64_MAX;
	return mul_u64_u32_div(ticks, NSEC_PER_MSEC, tsc_khz) + 1;
}

/*
 * Arm the hrtimer for l->deadline (guest TSC), or stop it. The guest TSC
 * and host time are read together. The hrtimer fires advance_ns early;
 * lapic_timer_expired() waits out the rest, so the vector is never
 * raised before the guest TSC reached the deadline.
 */
static void lapic_timer_arm(struct vmxl_vcpu *vcpu)
{
	struct vmxl_lapic *l = vcpu->lapic;
	u64 now, ns;
	ktime_t kt;

	hrtimer_cancel(&l->timer);
	if (!l->deadline)
		return;
	now = lapic_guest_tsc(vcpu);
	kt = ktime_get();
	if (l->deadline <= now || !tsc_khz) {
		set_bit(VMXL_REQ_TIMER, &vcpu->requests);
		return;
	}
	/*
	 * A deadline from SET_LAPIC or a TSC moved back can be centuries
	 * away. Such a timer never fires; a TSC change re-arms it.
	 */
	ns = lapic_ticks_to_ns(l->deadline - now);
	if (ns == U64_MAX)
		return;
	if (ns <= l->advance_ns) {	/* near enough to wait it out */
		set_bit(VMXL_REQ_TIMER, &vcpu->requests);
		return;
	}
	hrtimer_start(&l->timer, ktime_add_ns(kt, ns - l->advance_ns),
		      HRTIMER_MODE_ABS_HARD);
}

static void lapic_timer_stop(struct vmxl_vcpu *vcpu)
{
	vcpu->lapic->deadline = 0;
	hrtimer_cancel(&vcpu->lapic->timer);
}

static void lapic_error(struct vmxl_vcpu *vcpu, u32 bit);

/*
 * Raise a vector at this APIC, edge-triggered (a local source). Vectors
 * 0-15 are illegal: a receive error, never an IRR bit (SDM 10.5.3).
 */
static void lapic_raise(struct vmxl_vcpu *vcpu, u8 vec)
{
	if (vec < 16) {
		lapic_error(vcpu, APIC_ESR_RECVILL);
		return;
	}
	vec_clear(vcpu->lapic, APIC_TMR, vec);
	vec_set(vcpu->lapic, APIC_IRR, vec);
}

/*
 * TSC ticks from the initial count to 0: count * divide, a periodic
 * timer's stretched to LAPIC_MIN_PERIOD_US.
 */
static u64 lapic_period(const struct vmxl_lapic *l)
{
	u64 ticks = (u64)reg_get(l, APIC_TMICT) * lapic_divide(l);

	if (lapic_timer_mode(l) == APIC_LVT_TIMER_PERIODIC)
		ticks = max(ticks, (u64)tsc_khz * LAPIC_MIN_PERIOD_US / 1000);
	return ticks;
}

/* Start counting the initial count (one-shot or periodic mode). */
static void lapic_timer_start(struct vmxl_vcpu *vcpu)
{
	struct vmxl_lapic *l = vcpu->lapic;

	if (!reg_get(l, APIC_TMICT)) {
		lapic_timer_stop(vcpu);
		return;
	}
	l->period = lapic_period(l);
	l->deadline = lapic_guest_tsc(vcpu) + l->period;
	lapic_timer_arm(vcpu);
}

/*
 * An expiry @early ticks before the deadline (the hrtimer's advance was
 * more than the wake-up took) or @late ticks after it: move the advance
 * an eighth of the way. Errors outside the bounds are not the wake-up's
 * (a vCPU out in userspace, preempted, or a TSC moved) and are ignored.
 */
static void lapic_advance_adjust(struct vmxl_lapic *l, u64 early, u64 late)
{
	u64 err = lapic_ticks_to_ns(early ? early : late);

	if (err < LAPIC_ADVANCE_ERR_MIN_NS || err > LAPIC_ADVANCE_ERR_MAX_NS)
		return;
	if (early)
		l->advance_ns -= min_t(u64, l->advance_ns, err / 8);
	else
		l->advance_ns = min_t(u64, LAPIC_ADVANCE_MAX_NS,
				      l->advance_ns + err / 8);
}

/*
 * VMXL_REQ_TIMER on the vCPU's thread: raise the timer's vector once if
 * the deadline passed, waiting for it when it is within the advance (a
 * stale request from a timer since re-armed finds it further away), and
 * re-arm a periodic timer past now: ticks missed while the vCPU was
 * away coalesce into this one.
 */
static void lapic_timer_expired(struct vmxl_vcpu *vcpu)
{
	struct vmxl_lapic *l = vcpu->lapic;
	u32 lvtt = reg_get(l, APIC_LVTT);
	bool fired = xchg(&l->fired, false);
	u64 now, n;

	if (!l->deadline)
		return;
	now = lapic_guest_tsc(vcpu);
	if (now < l->deadline &&
	    lapic_ticks_to_ns(l->deadline - now) > l->advance_ns) {
		lapic_timer_arm(vcpu);
		return;
	}
	if (fired)
		lapic_advance_adjust(l, now < l->deadline ? l->deadline - now : 0,
				     now > l->deadline ? now - l->deadline : 0);
	while (now < l->deadline) {	/* bounded by advance_ns */
		cpu_relax();
		now = lapic_guest_tsc(vcpu);
	}
	if (!(lvtt & APIC_LVT_MASKED))
		lapic_raise(vcpu, lvtt & APIC_VECTOR_MASK);
	if (lapic_timer_mode(l) == APIC_LVT_TIMER_PERIODIC && l->period) {
		/* the next period past now; a TSC about to wrap stops it */
		n = div64_u64(now - l->deadline, l->period) + 1;
		if (check_mul_overflow(n, l->period, &n) ||
		    check_add_overflow(l->deadline, n, &l->deadline))
			l->deadline = 0;
		lapic_timer_arm(vcpu);
	} else {
		l->deadline = 0;
	}
}

static u32 lapic_current_count(struct vmxl_vcpu *vcpu)
{
	struct vmxl_lapic *l = vcpu->lapic;
	u64 now;

	if (!l->deadline || lapic_timer_mode(l) == APIC_LVT_TIMER_TSCDEADLINE)
		return 0;
	now = lapic_guest_tsc(vcpu);
	if (now >= l->deadline)
		return 0;
	return min_t(u64, div_u64(l->deadline - now, lapic_divide(l)),
		     U32_MAX);
}

/* ---- interrupt messages ---- */

/* An interrupt message: an ICR write, an MSI from userspace. */
struct lapic_msg {
	u32 dest;
	u32 bcast;		/* the broadcast destination: 0xff or ~0 */
	u8 vector;
	u8 mode;		/* APIC_DM_* >> 8 */
	u8 shorthand;		/* APIC_DEST_* >> 18 */
	bool logical;
	bool level;		/* level-triggered: TMR, an EOI exit */
};

static u32 lapic_id(const struct vmxl_vcpu *vcpu)
{
	if (lapic_x2apic(vcpu))
		return vcpu->id;
	return reg_get(vcpu->lapic, APIC_ID) >> 24;
}

/* SDM 10.6.2: physical and logical (flat, cluster, x2APIC) destinations. */
static bool lapic_match(const struct vmxl_vcpu *t, const struct lapic_msg *m)
{
	u32 ldr = reg_get(t->lapic, APIC_LDR), dest = m->dest;

	if (dest == m->bcast)
		return true;
	if (!m->logical)
		return dest == lapic_id(t);
	if (lapic_x2apic(t))
		return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff);
	ldr >>= 24;
	if ((reg_get(t->lapic, APIC_DFR) >> 28) == 0xf)
		return dest & ldr;
	return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf);
}

/* The message reaches @t: 1 if it took it. */
static int lapic_accept(struct vmxl_vcpu *t, const struct lapic_msg *m)
{
	struct vmxl_lapic *l = t->lapic;

	switch (m->mode) {
	case APIC_DM_FIXED >> 8:
	case APIC_DM_LOWEST >> 8:
		/* A software-disabled APIC drops them, as KVM's does. */
		if (!lapic_sw_enabled(l))
			return 0;
		if (m->level)
			vec_set(l, APIC_TMR, m->vector);
		else
			vec_clear(l, APIC_TMR, m->vector);
		vec_set(l, APIC_IRR, m->vector);
		vmxl_vcpu_kick(t, VMXL_REQ_EVENT);
		return 1;
	case APIC_DM_NMI >> 8:
		vmxl_vcpu_kick(t, VMXL_REQ_NMI);
		return 1;
	case APIC_DM_INIT >> 8:
		/* a STARTUP sent before it and not taken yet is void */
		WRITE_ONCE(l->sipi, 0);
		vmxl_vcpu_kick(t, VMXL_REQ_INIT);
		return 1;
	case APIC_DM_STARTUP >> 8:
		/*
		 * The first STARTUP starts the vCPU; one sent before it took
		 * that is ignored, as by a CPU already out of wait-for-SIPI
		 * (SDM 8.4.4.1), and must not change the vector.
		 */
		if (!cmpxchg(&l->sipi, 0, SIPI_PENDING | m->vector))
			vmxl_vcpu_kick(t, VMXL_REQ_SIPI);
		return 1;
	}
	return 0;
}

/*
 * Deliver @m from @src (NULL: userspace) to every APIC it names, or to
 * the first for lowest priority. vCPUs are found under RCU: vcpu_release()
 * waits a grace period before freeing one.
 */
static int lapic_deliver(struct vmxl_vm *vm, struct vmxl_vcpu *src,
			 const struct lapic_msg *m)
{
	struct vmxl_vcpu *t;
	unsigned int i;
	int n = 0;
	bool hit;

	rcu_read_lock();
	for (i = 0; i < vmxl_caps.max_vcpus; i++) {
		t = READ_ONCE(vm->vcpus[i]);
		if (!t || !lapic_hw_enabled(t))
			continue;
		switch (m->shorthand) {
		case APIC_DEST_SELF >> 18:
			hit = t == src;
			break;
		case APIC_DEST_ALLINC >> 18:
			hit = true;
			break;
		case APIC_DEST_ALLBUT >> 18:
			hit = t != src;
			break;
		default:
			hit = lapic_match(t, m);
		}
		if (!hit)
			continue;
		n += lapic_accept(t, m);
		if (n && m->mode == APIC_DM_LOWEST >> 8)
			break;
	}
	rcu_read_unlock();
	return n;
}

/* An error the APIC detected (ESR bit), with the LVT error interrupt. */
static void lapic_error(struct vmxl_vcpu *vcpu, u32 bit)
{
	struct vmxl_lapic *l = vcpu->lapic;
	u32 lvt = reg_get(l, APIC_LVTERR);

	l->esr_pending |= bit;
	if (lvt & APIC_LVT_MASKED)
		return;
	if ((lvt & APIC_VECTOR_MASK) < 16)
		l->esr_pending |= APIC_ESR_RECVILL;	/* no recursion */
	else
		lapic_raise(vcpu, lvt & APIC_VECTOR_MASK);
}

static void lapic_send_ipi(struct vmxl_vcpu *vcpu, u32 lo, u32 hi)
{
	struct lapic_msg m = {
		.vector = lo & APIC_VECTOR_MASK,
		.mode = (lo & APIC_MODE_MASK) >> 8,
		.shorthand = (lo & LAPIC_SHORTHAND) >> 18,
		.logical = lo & APIC_DEST_LOGICAL,
	};

	if (lapic_x2apic(vcpu)) {
		m.dest = hi;
		m.bcast = U32_MAX;
	} else {
		m.dest = hi >> 24;
		m.bcast = 0xff;
	}
	switch (lo & APIC_MODE_MASK) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		if (m.vector < 16) {
			lapic_error(vcpu, APIC_ESR_SENDILL);
			return;
		}
		break;
	case APIC_DM_INIT:
		/* INIT level de-assert: only old APICs cared (SDM 10.6.1) */
		if ((lo & APIC_INT_LEVELTRIG) && !(lo & APIC_INT_ASSERT))
			return;
		break;
	case APIC_DM_NMI:
	case APIC_DM_STARTUP:
		break;
	default:		/* SMI, ExtINT, reserved: nothing to do */
		return;
	}
	lapic_deliver(vcpu->vm, vcpu, &m);
}

long vmxl_signal_msi(struct vmxl_vm *vm, void __user *argp)
{
	struct vmxl_msi msi;
	struct lapic_msg m = { .bcast = 0xff };

	if (!(vm->flags & VMXL_VM_LAPIC))
		return -ENXIO;
	if (copy_from_user(&msi, argp, sizeof(msi)))
		return -EFAULT;
	if (msi.flags || msi.address_hi ||
	    memchr_inv(msi.reserved, 0, sizeof(msi.reserved)) ||
	    (msi.address_lo & 0xfff00000) != APIC_DEFAULT_PHYS_BASE ||
	    (msi.data & ~(APIC_VECTOR_MASK | APIC_MODE_MASK |
			  APIC_INT_ASSERT | APIC_INT_LEVELTRIG)))
		return -EINVAL;
	m.vector = msi.data & APIC_VECTOR_MASK;
	m.mode = (msi.data & APIC_MODE_MASK) >> 8;
	m.level = msi.data & APIC_INT_LEVELTRIG;
	m.dest = (msi.address_lo >> 12) & 0xff;
	m.logical = msi.address_lo & BIT(2);
	switch (msi.data & APIC_MODE_MASK) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		if (m.vector < 16)
			return -EINVAL;
		break;
	case APIC_DM_NMI:
	case APIC_DM_INIT:
		break;
	default:
		return -EINVAL;
	}
	return lapic_deliver(vm, NULL, &m);
}

/* ---- delivery to the guest ---- */

static void lapic_eoi(struct vmxl_vcpu *vcpu)
{
	struct vmxl_lapic *l = vcpu->lapic;
	int vec = vec_highest(l, APIC_ISR);

	if (vec < 0)
		return;
	vec_clear(l, APIC_ISR, vec);
	if (vec_test(l, APIC_TMR, vec))
		l->eoi_exit = vec;
	set_bit(VMXL_REQ_EVENT, &vcpu->requests);
}

/*
 * Hand the highest deliverable vector to the backend (vcpu->irq_pending,
 * moving it from IRR to ISR), or tell it which class waits for an
 * interrupt window (vcpu->irq_window_prio): the guest's IF, an interrupt
 * shadow, an event in flight, or on SVM its own CR8, which it changes
 * without an exit (SDM 10.8.3.1: a vector goes when its class is above
 * PPR's).
 */
static void lapic_inject(struct vmxl_vcpu *vcpu)
{
	struct vmxl_lapic *l = vcpu->lapic;
	int vec = vec_highest(l, APIC_IRR), isr;

	vcpu->irq_window_prio = -1;
	/* ExtINT: the PIC's vector, past IRR, ISR and TPR (SDM 10.5.1) */
	if (l->extint >= 0 && lapic_hw_enabled(vcpu)) {
		if (vcpu->irq_pending < 0 && vmxl_backend->interruptible(vcpu)) {
			vcpu->irq_pending = l->extint;
			l->extint = -1;
		} else {
			vcpu->irq_window_prio = 16;	/* above any TPR */
		}
		return;
	}
	if (vec < 0 || !lapic_hw_enabled(vcpu) || !lapic_sw_enabled(l))
		return;
	isr = vec_highest(l, APIC_ISR);
	if (isr >= 0 && (vec & 0xf0) <= (isr & 0xf0))
		return;		/* its EOI comes first */
	if ((vec & 0xf0) <= (reg_get(l, APIC_TASKPRI) & 0xf0) ||
	    vcpu->irq_pending >= 0 || !vmxl_backend->interruptible(vcpu)) {
		vcpu->irq_window_prio = vec >> 4;
		return;
	}
	vec_clear(l, APIC_IRR, vec);
	vec_set(l, APIC_ISR, vec);
	vcpu->irq_pending = vec;
}

/* Can a halted vCPU go on: an NMI, or an interrupt it would take? */
static bool lapic_wakes(struct vmxl_vcpu *vcpu)
{
	struct vmxl_lapic *l = vcpu->lapic;
	int vec = vec_highest(l, APIC_IRR);

	if (vcpu->nmi_pending)
		return true;
	if (l->extint >= 0 && (vcpu->rflags & X86_EFLAGS_IF))
		return true;
	if (vec < 0 || !(vcpu->rflags & X86_EFLAGS_IF) ||
	    !lapic_hw_enabled(vcpu) || !lapic_sw_enabled(l))
		return false;
	return (vec & 0xf0) > (lapic_ppr(l) & 0xf0);
}

/* ---- registers ---- */

static void lapic_reset(struct vmxl_vcpu *vcpu, bool keep_id)
{
	struct vmxl_lapic *l = vcpu->lapic;
	u32 id = keep_id ? reg_get(l, APIC_ID) : vcpu->id << 24;
	u32 off;

	lapic_timer_stop(vcpu);
	memset(l->regs, 0, sizeof(l->regs));
	reg_set(l, APIC_ID, id);
	reg_set(l, APIC_LVR, LAPIC_VERSION);
	reg_set(l, APIC_DFR, 0xffffffff);
	reg_set(l, APIC_SPIV, 0xff);
	for (off = APIC_LVTT; off <= APIC_LVTERR; off += 0x10)
		reg_set(l, off, APIC_LVT_MASKED);
	l->esr_pending = 0;
	l->eoi_exit = -1;
	l->extint = -1;
	vcpu->irq_window_prio = -1;
}

/* x2APIC mode: the ID is the vCPU id, LDR derives from it (SDM 10.12.10.2) */
static void lapic_enter_x2apic(struct vmxl_vcpu *vcpu)
{
	struct vmxl_lapic *l = vcpu->lapic;

	reg_set(l, APIC_ID, vcpu->id);
	reg_set(l, APIC_LDR, (vcpu->id >> 4) << 16 | BIT(vcpu->id & 15));
}

/* A CPUID.1:ECX feature (CPUID1_ECX_*) of the vCPU's table. */
static bool lapic_cpuid_has(struct vmxl_vcpu *vcpu, u32 ecx_bit)
{
	return vmxl_cpuid_leaf1_ecx(vcpu) & ecx_bit;
}

static void lapic_write_lvt(struct vmxl_vcpu *vcpu, u32 off, u32 val)
{
	static const u32 writable[] = {
		[0] = APIC_VECTOR_MASK | APIC_LVT_MASKED | LAPIC_LVT_MODE,
		[1] = APIC_VECTOR_MASK | APIC_MODE_MASK | APIC_LVT_MASKED,
		[2] = APIC_VECTOR_MASK | APIC_MODE_MASK | APIC_LVT_MASKED,
		[3] = APIC_VECTOR_MASK | APIC_MODE_MASK | APIC_INPUT_POLARITY |
		      APIC_LVT_LEVEL_TRIGGER | APIC_LVT_MASKED,
		[4] = APIC_VECTOR_MASK | APIC_MODE_MASK | APIC_INPUT_POLARITY |
		      APIC_LVT_LEVEL_TRIGGER | APIC_LVT_MASKED,
		[5] = APIC_VECTOR_MASK | APIC_LVT_MASKED,
	};
	struct vmxl_lapic *l = vcpu->lapic;
	u32 old = reg_get(l, off);

	val &= writable[(off - APIC_LVTT) >> 4];
	if (!lapic_sw_enabled(l))
		val |= APIC_LVT_MASKED;
	if (off == APIC_LVTT) {
		/* TSC-deadline only when CPUID offers it (ECX[24]) */
		if ((val & LAPIC_LVT_MODE) == APIC_LVT_TIMER_TSCDEADLINE &&
		    !lapic_cpuid_has(vcpu, CPUID1_ECX_TSC_DEADLINE))
			val &= ~LAPIC_LVT_MODE;
		/* the reserved mode 3 behaves as one-shot, as in KVM */
		if ((val & LAPIC_LVT_MODE) == LAPIC_LVT_MODE)
			val &= ~LAPIC_LVT_MODE;
		reg_set(l, off, val);
		if ((old ^ val) & LAPIC_LVT_MODE) {
			lapic_timer_stop(vcpu);
			reg_set(l, APIC_TMICT, 0);
		}
		return;
	}
	reg_set(l, off, val);
}

static void lapic_write_svr(struct vmxl_vcpu *vcpu, u32 val)
{
	struct vmxl_lapic *l = vcpu->lapic;
	u32 off;

	reg_set(l, APIC_SPIV, val & (APIC_VECTOR_MASK | APIC_SPIV_APIC_ENABLED));
	if (val & APIC_SPIV_APIC_ENABLED)
		return;
	/* Software disable masks every LVT (SDM 10.4.7.2). */
	for (off = APIC_LVTT; off <= APIC_LVTERR; off += 0x10)
		reg_set(l, off, reg_get(l, off) | APIC_LVT_MASKED);
}

/*
 * A register write, as the xAPIC page or (already checked) an x2APIC MSR
 * sees it. ICR: @val is the low half, the high half is in ICR2 (xAPIC) or
 * @hi (x2APIC).
 */
static void lapic_write(struct vmxl_vcpu *vcpu, u32 off, u32 val, u32 hi)
{
	struct vmxl_lapic *l = vcpu->lapic;

	switch (off) {
	case APIC_ID:
		reg_set(l, off, val & 0xff000000);
		break;
	case APIC_TASKPRI:
		reg_set(l, off, val & 0xff);
		set_bit(VMXL_REQ_EVENT, &vcpu->requests);
		break;
	case APIC_EOI:
		lapic_eoi(vcpu);
		break;
	case APIC_LDR:
		reg_set(l, off, val & 0xff000000);
		break;
	case APIC_DFR:
		reg_set(l, off, val | 0x0fffffff);
		break;
	case APIC_SPIV:
		lapic_write_svr(vcpu, val);
		break;
	case APIC_ESR:
		reg_set(l, off, l->esr_pending);
		l->esr_pending = 0;
		break;
	case APIC_ICR:
		reg_set(l, off, val & ~APIC_ICR_BUSY);
		if (lapic_x2apic(vcpu))
			reg_set(l, APIC_ICR2, hi);
		lapic_send_ipi(vcpu, val, reg_get(l, APIC_ICR2));
		break;
	case APIC_ICR2:
		reg_set(l, off, val & 0xff000000);
		break;
	case APIC_LVTT ... APIC_LVTERR:
		lapic_write_lvt(vcpu, off, val);
		break;
	case APIC_TMICT:
		if (lapic_timer_mode(l) == APIC_LVT_TIMER_TSCDEADLINE)
			break;
		reg_set(l, off, val);
		lapic_timer_start(vcpu);
		break;
	case APIC_TDCR:
		reg_set(l, off, val & 0xb);
		break;
	case APIC_SELF_IPI:	/* an x2APIC register only */
		if (!lapic_x2apic(vcpu))
			break;
		/* an illegal vector is a send error here, as in ICR */
		if ((val & APIC_VECTOR_MASK) < 16) {
			lapic_error(vcpu, APIC_ESR_SENDILL);
			break;
		}
		lapic_raise(vcpu, val & APIC_VECTOR_MASK);
		set_bit(VMXL_REQ_EVENT, &vcpu->requests);
		break;
	}
}

static u32 lapic_read(struct vmxl_vcpu *vcpu, u32 off)
{
	struct vmxl_lapic *l = vcpu->lapic;

	switch (off) {
	case APIC_PROCPRI:
		return lapic_ppr(l);
	case APIC_TMCCT:
		return lapic_current_count(vcpu);
	case APIC_ARBPRI:
	case APIC_EOI:
	case APIC_SELF_IPI:
		return 0;
	}
	return off < sizeof(l->regs) ? reg_get(l, off) : 0;
}

/* The xAPIC page: 32-bit registers at 16-byte boundaries (SDM 10.4.1). */
static u64 lapic_mmio_read(struct vmxl_vcpu *vcpu, void *priv, u64 off,
			   unsigned int size)
{
	u32 val;

	if (!lapic_hw_enabled(vcpu) || lapic_x2apic(vcpu))
		return ~0ULL;
	if ((off & 0xf) + size > 4)
		return 0;
	val = lapic_read(vcpu, off & ~0xfULL) >> ((off & 3) * 8);
	return size == 4 ? val : val & (BIT(size * 8) - 1);
}

static void lapic_mmio_write(struct vmxl_vcpu *vcpu, void *priv, u64 off,
			     unsigned int size, u64 val)
{
	/* Other widths and offsets are dropped, as KVM does. */
	if (!lapic_hw_enabled(vcpu) || lapic_x2apic(vcpu) || size != 4 ||
	    (off & 0xf))
		return;
	lapic_write(vcpu, off, val, 0);
}

static const struct vmxl_iodev_ops lapic_mmio_ops = {
	.read	= lapic_mmio_read,
	.write	= lapic_mmio_write,
};

int vmxl_lapic_vm_init(struct vmxl_vm *vm)
{
	return vmxl_iodev_add(vm, APIC_DEFAULT_PHYS_BASE, PAGE_SIZE,
			      &lapic_mmio_ops, NULL);
}

/* ---- MSRs: x2APIC, TSC deadline, APIC_BASE ---- */

/* x2APIC register offsets that exist as MSRs, and which are writable. */
static int x2apic_check(u32 off, bool write, u64 data)
{
	switch (off) {
	case APIC_ID:
	case APIC_LVR:
	case APIC_PROCPRI:
	case APIC_LDR:
	case APIC_ISR ... APIC_ISR + 0x70:
	case APIC_TMR ... APIC_TMR + 0x70:
	case APIC_IRR ... APIC_IRR + 0x70:
	case APIC_TMCCT:
		return write ? -EINVAL : 0;
	case APIC_EOI:
	case APIC_SELF_IPI:
		if (!write)
			return -EINVAL;
		return data & ~(u64)(off == APIC_EOI ? 0 : 0xff) ? -EINVAL : 0;
	case APIC_ESR:
		return write && data ? -EINVAL : 0;
	case APIC_TASKPRI:
		return data >> 8 ? -EINVAL : 0;
	case APIC_SPIV:
		return data & ~0x1ffULL ? -EINVAL : 0;
	case APIC_ICR:
		return data & ~(0xffffffff000cdfffULL) ? -EINVAL : 0;
	case APIC_LVTT ... APIC_LVTERR:
	case APIC_TMICT:
		return data >> 32 ? -EINVAL : 0;
	case APIC_TDCR:
		return data & ~0xbULL ? -EINVAL : 0;
	}
	return -EINVAL;		/* DFR, ICR2, APR, reserved: #GP */
}

/* -ENOENT: not an APIC MSR; -EINVAL: #GP. */
int vmxl_lapic_rdmsr(struct vmxl_vcpu *vcpu, u32 index, u64 *data)
{
	struct vmxl_lapic *l = vcpu->lapic;
	u32 off = (index - APIC_BASE_MSR) << 4;

	if (index == MSR_IA32_TSC_DEADLINE) {
		if (!lapic_cpuid_has(vcpu, CPUID1_ECX_TSC_DEADLINE))
			return -EINVAL;
		*data = lapic_timer_mode(l) == APIC_LVT_TIMER_TSCDEADLINE ?
			l->deadline : 0;
		return 0;
	}
	if (index < APIC_BASE_MSR || index > LAPIC_X2APIC_MSR_END)
		return -ENOENT;
	if (!lapic_x2apic(vcpu) || x2apic_check(off, false, 0))
		return -EINVAL;
	*data = lapic_read(vcpu, off);
	if (off == APIC_ICR)
		*data |= (u64)reg_get(l, APIC_ICR2) << 32;
	return 0;
}

int vmxl_lapic_wrmsr(struct vmxl_vcpu *vcpu, u32 index, u64 data)
{
	struct vmxl_lapic *l = vcpu->lapic;
	u32 off = (index - APIC_BASE_MSR) << 4;

	if (index == MSR_IA32_TSC_DEADLINE) {
		if (!lapic_cpuid_has(vcpu, CPUID1_ECX_TSC_DEADLINE))
			return -EINVAL;
		/* ignored outside TSC-deadline mode (SDM 10.5.4.1) */
		if (lapic_timer_mode(l) != APIC_LVT_TIMER_TSCDEADLINE)
			return 0;
		l->deadline = data;
		lapic_timer_arm(vcpu);
		return 0;
	}
	if (index < APIC_BASE_MSR || index > LAPIC_X2APIC_MSR_END)
		return -ENOENT;
	if (!lapic_x2apic(vcpu) || x2apic_check(off, true, data))
		return -EINVAL;
	lapic_write(vcpu, off, data, data >> 32);
	return 0;
}

/*
 * IA32_APIC_BASE. The guest may only take the transitions of SDM 10.12.5
 * (disabled <-> xAPIC <-> x2APIC -> disabled, never x2APIC -> xAPIC or
 * disabled -> x2APIC); userspace (@host) may set any valid state. An
 * enabled page stays at 0xfee00000. 0 or -EINVAL, nothing changed.
 */
int vmxl_lapic_check_base(struct vmxl_vcpu *vcpu, u64 data, bool host)
{
	u64 old = vcpu->apic_base, phys = (1ULL << boot_cpu_data.x86_phys_bits) - 1;
	u64 en = MSR_IA32_APICBASE_ENABLE, ext = X2APIC_ENABLE;

	if (data & ~(phys & ~0xfffULL) & ~(MSR_IA32_APICBASE_BSP | en | ext))
		return -EINVAL;
	if ((data & en) &&
	    (data & MSR_IA32_APICBASE_BASE) != APIC_DEFAULT_PHYS_BASE)
		return -EINVAL;
	if ((data & ext) && (!(data & en) || !lapic_cpuid_has(vcpu, CPUID1_ECX_X2APIC)))
		return -EINVAL;
	if (host || (old & (en | ext)) == (data & (en | ext)))
		return 0;
	if ((old & ext) && (data & en))
		return -EINVAL;		/* x2APIC -> xAPIC: disable first */
	if (!(old & en) && (data & ext))
		return -EINVAL;		/* disabled -> x2APIC: via xAPIC */
	return 0;
}

int vmxl_lapic_set_base(struct vmxl_vcpu *vcpu, u64 data, bool host)
{
	u64 old = vcpu->apic_base, en = MSR_IA32_APICBASE_ENABLE;
	u64 ext = X2APIC_ENABLE;
	int ret = vmxl_lapic_check_base(vcpu, data, host);

	if (ret)
		return ret;
	WRITE_ONCE(vcpu->apic_base, data);
	if (!(data & en)) {
		if (old & en)
			lapic_reset(vcpu, false);
	} else if (!(old & en)) {
		lapic_reset(vcpu, false);
	}
	if ((data & ext) && !(old & ext))
		lapic_enter_x2apic(vcpu);
	set_bit(VMXL_REQ_EVENT, &vcpu->requests);
	return 0;
}

/*
 * The guest TSC moved (IA32_TSC, VMXL_SET_CLOCK): the deadline stays in
 * guest TSC units, the hrtimer follows it.
 */
void vmxl_lapic_tsc_changed(struct vmxl_vcpu *vcpu)
{
	lapic_timer_arm(vcpu);
}

/* TPR and CR8 are one register: CR8 = TPR[7:4] (SDM 10.8.6.1). */
u8 vmxl_lapic_cr8(struct vmxl_vcpu *vcpu)
{
	return reg_get(vcpu->lapic, APIC_TASKPRI) >> 4;
}

void vmxl_lapic_set_cr8(struct vmxl_vcpu *vcpu, u8 cr8)
{
	if (vmxl_lapic_cr8(vcpu) == cr8)
		return;		/* keeps TPR[3:0] written through the page */
	reg_set(vcpu->lapic, APIC_TASKPRI, cr8 << 4);
	set_bit(VMXL_REQ_EVENT, &vcpu->requests);
}

/* ---- MP state: HLT, INIT, STARTUP ---- */

enum vmxl_exit_action vmxl_halt(struct vmxl_vcpu *vcpu)
{
	if (!vcpu->lapic) {
		vcpu->run->exit_reason = VMXL_EXIT_HLT;
		return VMXL_EXIT_USER;
	}
	/* A #DB trap the HLT owes is an event: it wakes at once, as KVM. */
	if (vcpu->db_pending)
		return VMXL_EXIT_RESUME;
	vcpu->mp_state = VMXL_MP_HALTED;
	return VMXL_EXIT_RESUME;
}

/* INIT (SDM 9.1, table 9-1): reset but keep APIC_BASE, MTRRs, the TSC. */
static void lapic_init(struct vmxl_vcpu *vcpu)
{
	u64 apic_base = vcpu->apic_base, def = vcpu->mtrr_def_type;
	u64 misc = vcpu->misc_enable, hwcr = vcpu->msr_hwcr;

	vmxl_backend->cancel_events(vcpu);
	memset(vcpu->regs, 0, sizeof(vcpu->regs));
	vmxl_vcpu_reset(vcpu);
	vcpu->apic_base = apic_base;
	vcpu->mtrr_def_type = def;
	vcpu->misc_enable = misc;
	vcpu->msr_hwcr = hwcr;
	vcpu->nmi_pending = false;
	vcpu->pending = VMXL_PENDING_NONE;
	lapic_reset(vcpu, true);
	if (lapic_x2apic(vcpu))
		lapic_enter_x2apic(vcpu);
	vcpu->mp_state = VMXL_MP_INIT_RECEIVED;
}

/* STARTUP: real mode at vector << 12 (SDM 10.6.1 and 8.4.4.1). */
static void lapic_sipi(struct vmxl_vcpu *vcpu)
{
	struct vmxl_sregs s;
	u16 sipi = xchg(&vcpu->lapic->sipi, 0);
	u8 vec = sipi & 0xff;

	if (!sipi || vcpu->mp_state != VMXL_MP_INIT_RECEIVED)
		return;
	memset(&s, 0, sizeof(s));
	vmxl_backend->get_sregs(vcpu, &s);
	s.cs.selector = vec << 8;
	s.cs.base = (u64)vec << 12;
	vmxl_backend->set_sregs(vcpu, &s);
	vcpu->rip = 0;
	vcpu->mp_state = VMXL_MP_RUNNABLE;
}

/*
 * Before each entry, on the vCPU's thread: take what others sent, fire
 * an expired timer, then either leave the vCPU waiting (halted, or for
 * STARTUP), or choose what to inject. True: RUN exits to userspace with
 * run->exit_reason set (the EOI of a level-triggered vector).
 */
static void lapic_take_requests(struct vmxl_vcpu *vcpu)
{
	unsigned long req = xchg(&vcpu->requests, 0);

	if (req & BIT(VMXL_REQ_INIT))
		lapic_init(vcpu);
	if (req & BIT(VMXL_REQ_SIPI))
		lapic_sipi(vcpu);
	if (req & BIT(VMXL_REQ_NMI))
		vcpu->nmi_pending = true;
	if (req & BIT(VMXL_REQ_TIMER))
		lapic_timer_expired(vcpu);
}

bool vmxl_lapic_prepare(struct vmxl_vcpu *vcpu)
{
	struct vmxl_lapic *l = vcpu->lapic;

	lapic_take_requests(vcpu);
	if (l->eoi_exit >= 0) {
		vcpu->run->exit_reason = VMXL_EXIT_EOI;
		vcpu->run->eoi.vector = l->eoi_exit;
		vcpu->run->eoi.reserved = 0;
		l->eoi_exit = -1;
		return true;
	}
	if (vcpu->mp_state == VMXL_MP_HALTED && lapic_wakes(vcpu))
		vcpu->mp_state = VMXL_MP_RUNNABLE;
	if (vcpu->mp_state == VMXL_MP_RUNNABLE)
		lapic_inject(vcpu);
	return false;
}

/* A vCPU not runnable waits for a request or a signal: -ERESTARTSYS. */
int vmxl_lapic_block(struct vmxl_vcpu *vcpu)
{
	return wait_event_interruptible(vcpu->wq, READ_ONCE(vcpu->requests));
}

/* VMXL_LAPIC_LINT: a pulse on LINT0/1, as its LVT entry says. */
static long lapic_lint(struct vmxl_vcpu *vcpu, const void __user *argp)
{
	struct vmxl_lapic *l = vcpu->lapic;
	struct vmxl_lapic_lint p;
	u32 lvt;

	if (copy_from_user(&p, argp, sizeof(p)))
		return -EFAULT;
	if (p.pin > 1 || p.flags || p.reserved || p.vector > 255)
		return -EINVAL;
	lvt = reg_get(l, p.pin ? APIC_LVT1 : APIC_LVT0);
	if ((lvt & APIC_MODE_MASK) == APIC_DM_EXTINT && p.vector < 16)
		return -EINVAL;
	if (!lapic_hw_enabled(vcpu) || (lvt & APIC_LVT_MASKED))
		return 0;
	switch (lvt & APIC_MODE_MASK) {
	case APIC_DM_FIXED:
		if ((lvt & APIC_VECTOR_MASK) < 16) {
			lapic_error(vcpu, APIC_ESR_RECVILL);
			return 0;
		}
		lapic_raise(vcpu, lvt & APIC_VECTOR_MASK);
		return 1;
	case APIC_DM_NMI:
		vcpu->nmi_pending = true;
		return 1;
	case APIC_DM_EXTINT:
		if (l->extint >= 0)
			return -EAGAIN;
		l->extint = p.vector;
		return 1;
	}
	return 0;		/* SMI, INIT, reserved: nothing modelled */
}

/* ---- state ioctls ---- */

static void lapic_get(struct vmxl_vcpu *vcpu, struct vmxl_lapic_state *s)
{
	struct vmxl_lapic *l = vcpu->lapic;

	memset(s, 0, sizeof(*s));
	memcpy(s->regs, l->regs, sizeof(s->regs));
	*(u32 *)(s->regs + APIC_PROCPRI) = lapic_ppr(l);
	*(u32 *)(s->regs + APIC_TMCCT) = lapic_current_count(vcpu);
	s->timer_deadline = l->deadline;
}

static int lapic_set(struct vmxl_vcpu *vcpu, const struct vmxl_lapic_state *s)
{
	struct vmxl_lapic *l = vcpu->lapic;
	u32 lvtt, mode;

	lvtt = *(u32 *)(s->regs + APIC_LVTT);
	mode = lvtt & LAPIC_LVT_MODE;
	if (s->flags || s->reserved0 ||
	    memchr_inv(s->reserved, 0, sizeof(s->reserved)) ||
	    mode == LAPIC_LVT_MODE ||
	    (mode == APIC_LVT_TIMER_TSCDEADLINE &&
	     !lapic_cpuid_has(vcpu, CPUID1_ECX_TSC_DEADLINE)) ||
	    (mode == APIC_LVT_TIMER_PERIODIC && s->timer_deadline &&
	     !*(u32 *)(s->regs + APIC_TMICT)))
		return -EINVAL;
	lapic_timer_stop(vcpu);
	memcpy(l->regs, s->regs, sizeof(l->regs));
	reg_set(l, APIC_LVR, LAPIC_VERSION);
	reg_set(l, APIC_TMCCT, 0);
	l->esr_pending = 0;
	l->eoi_exit = -1;
	if (lapic_x2apic(vcpu))
		lapic_enter_x2apic(vcpu);
	l->period = lapic_period(l);
	l->deadline = s->timer_deadline;
	lapic_timer_arm(vcpu);
	set_bit(VMXL_REQ_EVENT, &vcpu->requests);
	return 0;
}

static long lapic_get_user(struct vmxl_vcpu *vcpu, void __user *argp)
{
	struct vmxl_lapic_state *s;
	long ret = 0;

	s = kmalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	lapic_get(vcpu, s);
	if (copy_to_user(argp, s, sizeof(*s)))
		ret = -EFAULT;
	kfree(s);
	return ret;
}

static long lapic_set_user(struct vmxl_vcpu *vcpu, const void __user *argp)
{
	struct vmxl_lapic_state *s;
	long ret;

	s = memdup_user(argp, sizeof(*s));
	if (IS_ERR(s))
		return PTR_ERR(s);
	ret = lapic_set(vcpu, s);
	kfree(s);
	return ret;
}

/*
 * The APIC and MP state for a reset point (reset.c), as VMXL_GET_LAPIC
 * and VMXL_GET_MP_STATE read them and the SET ioctls write them.
 */
void vmxl_lapic_save(struct vmxl_vcpu *vcpu, struct vmxl_lapic_state *s,
		     u32 *mp_state)
{
	lockdep_assert_held(&vcpu->mutex);
	lapic_take_requests(vcpu);
	set_bit(VMXL_REQ_EVENT, &vcpu->requests);
	lapic_get(vcpu, s);
	*mp_state = vcpu->mp_state;
}

int vmxl_lapic_restore(struct vmxl_vcpu *vcpu,
		       const struct vmxl_lapic_state *s, u32 mp_state)
{
	int ret;

	lockdep_assert_held(&vcpu->mutex);
	lapic_take_requests(vcpu);
	ret = lapic_set(vcpu, s);
	if (ret)
		return ret;
	vcpu->mp_state = mp_state;
	set_bit(VMXL_REQ_EVENT, &vcpu->requests);
	return 0;
}

long vmxl_lapic_ioctl(struct vmxl_vcpu *vcpu, unsigned int cmd,
		      void __user *argp)
{
	struct vmxl_mp_state mp;

	lockdep_assert_held(&vcpu->mutex);
	if (!vcpu->lapic)
		return -ENXIO;
	/*
	 * What others sent while the vCPU was out of RUN (a fired timer,
	 * INIT, STARTUP, NMI) is part of the state being read or replaced.
	 */
	lapic_take_requests(vcpu);
	set_bit(VMXL_REQ_EVENT, &vcpu->requests);
	switch (cmd) {
	case VMXL_GET_LAPIC:
		return lapic_get_user(vcpu, argp);
	case VMXL_SET_LAPIC:
		return lapic_set_user(vcpu, argp);
	case VMXL_GET_MP_STATE:
		mp.state = vcpu->mp_state;
		mp.reserved = 0;
		return copy_to_user(argp, &mp, sizeof(mp)) ? -EFAULT : 0;
	case VMXL_LAPIC_LINT:
		return lapic_lint(vcpu, argp);
	case VMXL_SET_MP_STATE:
		if (copy_from_user(&mp, argp, sizeof(mp)))
			return -EFAULT;
		if (mp.reserved || mp.state > VMXL_MP_INIT_RECEIVED)
			return -EINVAL;
		vcpu->mp_state = mp.state;
		set_bit(VMXL_REQ_EVENT, &vcpu->requests);
		return 0;
	}
	return -ENOTTY;
}

/* ---- life cycle ---- */

int vmxl_lapic_create(struct vmxl_vcpu *vcpu)
{
	struct vmxl_lapic *l;

	init_waitqueue_head(&vcpu->wq);
	vcpu->irq_window_prio = -1;
	if (!(vcpu->vm->flags & VMXL_VM_LAPIC))
		return 0;
	l = kzalloc(sizeof(*l), GFP_KERNEL_ACCOUNT);
	if (!l)
		return -ENOMEM;
	l->vcpu = vcpu;
	l->advance_ns = LAPIC_ADVANCE_INIT_NS;
	hrtimer_init(&l->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
	l->timer.function = lapic_timer_fn;
	vcpu->lapic = l;
	lapic_reset(vcpu, false);
	vcpu->mp_state = vcpu->id ? VMXL_MP_INIT_RECEIVED : VMXL_MP_RUNNABLE;
	vmxl_cpuid_add_lapic(vcpu);
	return 0;
}

void vmxl_lapic_destroy(struct vmxl_vcpu *vcpu)
{
	if (!vcpu->lapic)
		return;
	hrtimer_cancel(&vcpu->lapic->timer);
	kfree(vcpu->lapic);
	vcpu->lapic = NULL;
}
