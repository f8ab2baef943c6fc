/* x86_64 register access and the table of syscalls that take paths.
 * A new architecture adds a header like this one and nothing else. */
#ifndef SF_ARCH_X86_64_H
#define SF_ARCH_X86_64_H

#include <stdint.h>
#include <sys/user.h>
#include <linux/audit.h>
#include <sys/syscall.h>

typedef struct user_regs_struct sf_regs;

#define SF_AUDIT_ARCH AUDIT_ARCH_X86_64
#define SF_REG_NR(r) ((r)->orig_rax)
#define SF_REG_RET(r) ((r)->rax)
#define SF_REG_PC(r) ((r)->rip)
#define SF_REG_SP(r) ((r)->rsp)
#define SF_SYSCALL_INSN_LEN 2 /* "syscall" is 0f 05 */

static inline uint64_t sf_arg(const sf_regs *r, int i)
{
	switch (i) {
	case 0: return r->rdi;
	case 1: return r->rsi;
	case 2: return r->rdx;
	case 3: return r->r10;
	case 4: return r->r8;
	default: return r->r9;
	}
}

static inline void sf_set_arg(sf_regs *r, int i, uint64_t v)
{
	switch (i) {
	case 0: r->rdi = v; break;
	case 1: r->rsi = v; break;
	case 2: r->rdx = v; break;
	case 3: r->r10 = v; break;
	case 4: r->r8 = v; break;
	default: r->r9 = v; break;
	}
}

/* Prepare registers to re-execute the syscall instruction the tracee is stopped in. */
static inline void sf_rewind_syscall(sf_regs *r, long nr)
{
	r->rip -= SF_SYSCALL_INSN_LEN;
	r->rax = (uint64_t)nr;
	r->orig_rax = (uint64_t)nr;
}

#endif
