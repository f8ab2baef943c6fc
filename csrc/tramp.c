/* Path rewrites in one stop. A rewritten call must get its argument registers
 * back before the program runs on (the kernel keeps them across a syscall, and
 * compiled code relies on it). Without this file that takes the exit stop.
 * Here the call's return address is pointed at a trampoline in the scratch
 * mapping instead: a few movs that load the original registers from the
 * slot's data words and a jump back to where the call came from. The tracer
 * sets it up at the seccomp stop and lets the call run with PTRACE_CONT
 * (docs/core.md, "Rewrites in one stop").
 *
 * The slot stays held until the thread has surely run its trampoline: at its
 * next seccomp stop, a fork event, its exit stop, or a signal-delivery stop,
 * where the tracer does the trampoline's work itself if it has not run (so
 * a handler never runs with the rewritten registers and never reuses the
 * slot). A call the kernel restarts without a signal (-ERESTART* with
 * nothing to deliver) returns to the trampoline minus the length of
 * "syscall", where one sits: it runs again as rewritten and stops at the
 * seccomp stop again, told apart by its return address.
 *
 * Record mode wants the call's result: the trampoline stores it in the
 * address space's results array first (a word per slot, in the page after
 * the code), and when the slot is let go the record waits for it in
 * rec_batch.c, which reads several at once. A thread that arms a
 * trampoline for a record gets PTRACE_O_TRACEEXIT, so that its last calls
 * before it exits are not lost; other threads exit without a stop.
 *
 * The code page is mprotect'ed read+exec by the tracee itself (an injected
 * call, like the scratch mmap); never writable and executable at once.
 * Where one tracer syscall writes any length, all 64 trampolines are written
 * before that, while the page is still writable. Where only POKEDATA writes
 * (gVisor), the whole page would be 512 pokes: each slot's trampoline is
 * poked in at the slot's first use instead, after the mprotect (POKEDATA
 * writes a read-only page, as a debugger's breakpoint does). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include "core.h"

#define CODE_LEN (TRAMP_SLOTS * SF_TRAMP_STRIDE)
/* The kernel's restart codes (include/linux/errno.h, not in its uapi). */
#define ERESTARTSYS 512
#define ERESTART_RESTARTBLOCK 516

static uint64_t code_base(const struct sf_mm *m)
{
	return m->scratch + (uint64_t)SCRATCH_CODE_SLOT * SCRATCH_SLOT;
}

static uint64_t entry(const struct sf_mm *m, int slot)
{
	return code_base(m) + (uint64_t)slot * SF_TRAMP_STRIDE + SF_SYSCALL_INSN_LEN;
}

/* Set up after this many two-stop rewrites in one address space: the set-up
 * costs two stops, about what those rewrites' exit stops cost. */
#define SETUP_AFTER 3

uint64_t tramp_result_at(const struct sf_mm *m, int slot)
{
	return code_base(m) + CODE_LEN + 8 * (uint64_t)slot;
}

static void code_of(const struct sf_mm *m, int slot, unsigned char *out)
{
	sf_tramp_code(out, code_base(m) + (uint64_t)slot * SF_TRAMP_STRIDE,
		      m->scratch + (uint64_t)slot * SCRATCH_SLOT, tramp_result_at(m, slot));
}

/* Is the slot's trampoline in the page? Pokes it in at the slot's first use
 * where it was not written with the page. */
static int slot_code(struct sf_tracee *t, int slot)
{
	struct sf_mm *m = t->mm;
	if (m->tramp_code >> slot & 1)
		return 1;
	unsigned char code[SF_TRAMP_STRIDE];
	code_of(m, slot, code);
	if (mem_write(t, code_base(m) + (uint64_t)slot * SF_TRAMP_STRIDE, code, sizeof(code))) {
		m->tramp = TR_FAILED;
		return 0;
	}
	m->tramp_code |= 1ull << slot;
	DBG("%d: trampoline of slot %d written", t->tid, slot);
	return 1;
}

int tramp_possible(const struct sf_tracee *t)
{
	const struct sf_mm *m = t->mm;
	return (sf_mech & SF_MECH_SET_RETURN) && m->tramp != TR_FAILED &&
	       m->scratch != (uint64_t)-1;
}

/* The thread and its mapping allow a trampoline at this stop (its slot, if
 * it has one yet, is one of those with a trampoline). */
static int usable(const struct sf_tracee *t)
{
	return sf_at_seccomp && tramp_possible(t) && !t->pf && t->slot < TRAMP_SLOTS &&
	       t->tramp_slot < 0 && t->mm->scratch != 0;
}

/* Held slots wait for a stop or a result: keep some free. */
static int slots_to_spare(const struct sf_mm *m)
{
	return mm_slot_free_count(m) >= SCRATCH_SLOTS / 8;
}

int tramp_ready(const struct sf_tracee *t)
{
	return usable(t) && t->mm->tramp == TR_READY && slots_to_spare(t->mm);
}

int tramp_want(struct sf_tracee *t)
{
	struct sf_mm *m = t->mm;
	if (!usable(t) || t->slot < 0)
		return 0;
	/* t->magic: an open of the tracer's memfd. Its failure is replayed at
	 * the exit stop, so only where it cannot fail: the tracer's /proc (root
	 * and mount namespace) and credentials (which let it open our fds). */
	if (t->magic && !(t->proc->hostview && tracer_same_creds(t)))
		return 0;
	if (m->tramp == TR_READY)
		return slots_to_spare(m) && slot_code(t, t->slot);
	if (m->tramp != TR_NONE || ++m->tramp_count < SETUP_AFTER)
		return 0;
	if (!mem_write_bulk())
		return -1; /* each slot's code at its first use */
	unsigned char code[CODE_LEN];
	for (int i = 0; i < TRAMP_SLOTS; i++)
		code_of(m, i, code + i * SF_TRAMP_STRIDE);
	if (mem_write(t, code_base(m), code, sizeof(code))) {
		m->tramp = TR_FAILED;
		return 0;
	}
	m->tramp_code = ~0ull;
	return -1;
}

int tramp_setup(struct sf_tracee *t, const sf_regs *orig)
{
	sf_regs r = *orig;
	r.orig_rax = SYS_mprotect;
	r.rdi = code_base(t->mm);
	r.rsi = CODE_LEN;
	r.rdx = PROT_READ | PROT_EXEC;
	if (sf_setregs(t, &r))
		return 0;
	t->saved = *orig;
	t->pf = PF_TRAMP;
	t->mm->tramp = TR_BUSY;
	return 1;
}

void tramp_setup_done(struct sf_tracee *t, long ret)
{
	t->mm->tramp = ret == 0 ? TR_READY : TR_FAILED;
	DBG("%d: trampolines %s: %ld", t->tid, ret == 0 ? "ready" : "refused", ret);
}

void tramp_arm(struct sf_tracee *t, sf_regs *r, const sf_regs *orig)
{
	t->tramp_slot = t->slot;
	t->slot = -1;
	t->tramp_orig = *orig;
	t->tramp_at = entry(t->mm, t->tramp_slot);
	r->rip = t->tramp_at;
}

/* The trampoline ran: its record waits for its result with the slot held
 * (rec_batch.c); any other slot is free again. */
void tramp_release(struct sf_tracee *t)
{
	if (t->rec_tramp && batch_hold(t))
		return;
	tramp_drop(t);
}

int tramp_next_stop(struct sf_tracee *t, const sf_regs *r)
{
	if (r->rip == t->tramp_at) {
		DBG("%d: restart of a call armed with a trampoline", t->tid);
		return 1;
	}
	tramp_release(t);
	return 0;
}

/* Is rip inside the thread's trampoline (its syscall instruction on)? */
static int in_tramp(const struct sf_tracee *t, uint64_t rip)
{
	uint64_t at = t->tramp_at - SF_SYSCALL_INSN_LEN;
	return rip >= at && rip < at + SF_TRAMP_STRIDE;
}

/* The thread stopped (signal delivery, exit) with its slot held: if rip is
 * still in the trampoline, rax is the call's result and the trampoline's
 * work is done here (registers put back only if fix_regs); else it ran. */
static void settle(struct sf_tracee *t, int fix_regs)
{
	sf_regs r;
	if (sf_getregs(t, &r)) {
		tramp_drop(t);
		return;
	}
	if (!in_tramp(t, r.rip)) {
		tramp_release(t); /* it ran */
		return;
	}
	long ret = (long)r.rax;
	if (fix_regs) {
		sf_tramp_finish(&r, &t->tramp_orig);
		sf_setregs(t, &r);
		DBG("%d: signal before its trampoline ran: registers put back here", t->tid);
	}
	/* -ERESTART*: the call runs again after the signal and is recorded then
	 * (at an exit stop it never completes: no record) */
	if (t->rec_tramp && (ret < -ERESTART_RESTARTBLOCK || ret > -ERESTARTSYS))
		rec_finish(t, ret);
	tramp_drop(t);
}

void tramp_signal(struct sf_tracee *t)
{
	settle(t, 1);
}

/* A SIGSEGV at the trampoline itself: its page is gone (the program
 * unmapped our mapping, before the call, where the slot's words were not
 * written again, or during it). A rewritten call that got EFAULT from its
 * lost path, or one the kernel was restarting, runs again as the program
 * made it; any other call is finished here as the trampoline would have.
 * The signal is not delivered, and the next rewrite maps a new mapping. */
int tramp_fault(struct sf_tracee *t, int sig)
{
	sf_regs r;
	uint64_t at = t->tramp_at - SF_SYSCALL_INSN_LEN;
	if (sig != SIGSEGV || t->tramp_slot < 0 || sf_getregs(t, &r) || !in_tramp(t, r.rip) ||
	    mem_mapped(t, at))
		return 0;
	const sf_regs *o = &t->tramp_orig;
	int rewritten = 0;
	for (int i = 0; i < 6; i++)
		rewritten |= sf_arg(&r, i) != sf_arg(o, i);
	DBG("%d: SIGSEGV at its trampoline: the mapping is gone", t->tid);
	if (r.rip == at || (rewritten && (long)r.rax == -EFAULT)) {
		sysrule_uncount(t); /* the call runs again: count it once */
		sf_run_again(t, o);
		tramp_drop(t); /* and its record with it: the replay is recorded */
	} else {
		settle(t, 1); /* it completed: the trampoline's work, done here */
	}
	if (t->mm->scratch && !mem_mapped(t, t->mm->scratch + (uint64_t)SCRATCH_CODE_SLOT * SCRATCH_SLOT))
		mm_scratch_set(t->mm, 0);
	return 1;
}

void tramp_watch_exit(struct sf_tracee *t)
{
	if (t->exit_watched)
		return;
	t->exit_watched = 1; /* its children inherit it (a stop more at their exit) */
	if (ptrace(PTRACE_SETOPTIONS, t->tid, 0, (void *)(sf_trace_opts | PTRACE_O_TRACEEXIT)))
		DBG("%d: PTRACE_O_TRACEEXIT: %s", t->tid, strerror(errno));
}

void tramp_exit(struct sf_tracee *t)
{
	settle(t, 0);
}

void tramp_drop(struct sf_tracee *t)
{
	if (t->rec_tramp) { /* gone before its result could be read */
		t->rec_tramp = 0;
		if (t->rec)
			t->rec->active = 0;
	}
	if (t->tramp_slot >= 0)
		mm_slot_free(t->mm, t->tramp_slot);
	t->tramp_slot = -1;
}
