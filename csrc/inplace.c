/* A path rewrite written over the program's own path string, for the first
 * rewrite of an address space that has no scratch mapping yet. Mapping one
 * costs an injected mmap and two stops more; a process whose only rewrite is
 * this one (a `cat` of a redirected or virtual file) never needs it.
 *
 * Only where nothing but this call can see the string changed until the
 * exit stop puts the old bytes back:
 *  - the new path (with its NUL) fits in the old one's bytes;
 *  - no other thread shares the memory (the mm's only user: no threads, no
 *    vfork child, no clone still on its way);
 *  - the call has one path argument (two could share a buffer) and is not
 *    an exec (which would replace the memory);
 *  - process_vm_writev writes it, which honours page protections: a string
 *    in read-only memory is left alone. Where only /proc/PID/mem or POKEDATA
 *    write (gVisor), each word costs a tracer syscall of ~50 us and the
 *    protections need a read of /proc/PID/maps: the mapping is cheaper.
 * Anything else, and every later rewrite, uses the scratch mapping. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "core.h"

int inplace_write(struct sf_tracee *t, const struct sf_sysent *e, const sf_regs *orig, int arg,
		  const char *data, size_t len, const char *old)
{
	struct sf_mm *m = t->mm;
	if (!(sf_mech & SF_MECH_VM_WRITEV) || m->scratch != 0 || m->refs != 1 || m->inplace_used ||
	    !e || e->cls == SC_EXEC || e->path[1] >= 0 || arg != e->path[0] ||
	    len > strlen(old) + 1)
		return 0;
	if (!t->inplace_old && !(t->inplace_old = malloc(SF_PATH_MAX)))
		return 0;
	uint64_t addr = sf_arg(orig, arg);
	if (mem_write_user(t, addr, data, len)) {
		/* part of it may be written (a later page read-only): undo */
		mem_write_user(t, addr, old, len);
		return 0;
	}
	memcpy(t->inplace_old, old, len);
	t->inplace_at = addr;
	t->inplace_len = len;
	m->inplace_used = 1;
	t->pf |= PF_INPLACE;
	DBG("%d: %s rewritten in place", t->tid, e->name);
	return 1;
}

void inplace_restore(struct sf_tracee *t)
{
	if (mem_write(t, t->inplace_at, t->inplace_old, t->inplace_len))
		DBG("%d: the path written in place could not be put back", t->tid);
}
