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
/* PTRACE_POKEUSER offset of the i-th word of sf_regs (struct user starts with it) */
#define SF_USER_REG_OFFSET(i) ((i) * 8)

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

/* ---- the return trampoline (tramp.c) ----
 * Per scratch slot: "syscall" (where a restarted call lands: the kernel
 * rewinds the return address by its length), then the entry, which stores
 * the result in the word at `result` (for record mode), loads the six
 * argument registers and the return address from the slot's data words and
 * jumps back. Data word i (8 bytes at slot offset 8 * i) holds the register
 * loaded by the i-th mov; word 6 the return address, word 7 is unused. */
#define SF_TRAMP_STRIDE 64
#define SF_TRAMP_WORDS 8

static inline void sf_tramp_code(unsigned char *out, uint64_t at, uint64_t data, uint64_t result)
{
	/* mov disp32(%rip), reg: REX, 8b, modrm (mod 00, rm 101) */
	static const unsigned char mov[6][3] = {
		{ 0x48, 0x8b, 0x3d }, { 0x48, 0x8b, 0x35 }, { 0x48, 0x8b, 0x15 }, /* rdi rsi rdx */
		{ 0x4c, 0x8b, 0x15 }, { 0x4c, 0x8b, 0x05 }, { 0x4c, 0x8b, 0x0d }, /* r10 r8 r9 */
	};
	unsigned char *p = out;
	*p++ = 0x0f;
	*p++ = 0x05;
	/* mov %rax, disp32(%rip) */
	*p++ = 0x48;
	*p++ = 0x89;
	*p++ = 0x05;
	uint64_t after = at + (uint64_t)(p - out) + 4;
	int32_t rd = (int32_t)(int64_t)(result - after);
	for (int b = 0; b < 4; b++)
		*p++ = (unsigned char)((uint32_t)rd >> (8 * b));
	for (int i = 0; i <= 6; i++) {
		if (i < 6) {
			*p++ = mov[i][0];
			*p++ = mov[i][1];
			*p++ = mov[i][2];
		} else { /* jmp *disp32(%rip) */
			*p++ = 0xff;
			*p++ = 0x25;
		}
		uint64_t next = at + (uint64_t)(p - out) + 4;
		int32_t d = (int32_t)(int64_t)(data + 8u * (uint64_t)i - next);
		for (int b = 0; b < 4; b++)
			*p++ = (unsigned char)((uint32_t)d >> (8 * b));
	}
	while (p < out + SF_TRAMP_STRIDE)
		*p++ = 0xcc; /* int3 */
}

/* The data words for a call made with registers o. */
static inline void sf_tramp_data(uint64_t w[SF_TRAMP_WORDS], const sf_regs *o)
{
	for (int i = 0; i < 6; i++)
		w[i] = sf_arg(o, i);
	w[6] = o->rip;
	w[7] = 0;
}

/* What the trampoline does, done by the tracer: registers as after it ran. */
static inline void sf_tramp_finish(sf_regs *r, const sf_regs *o)
{
	for (int i = 0; i < 6; i++)
		sf_set_arg(r, i, sf_arg(o, i));
	r->rip = o->rip;
}

#endif
