/* rlimits: prlimit64 calls for record mode's "trap only when set" filter.
 *
 *   rlimits
 *
 * In order: a read that works, a read that fails (resource 999: EINVAL),
 * a set that fails (soft above hard: EINVAL), and the same failing set
 * through a pointer whose low 32 bits are zero (the filter must look at
 * both halves). Prints the four results and "rlimits ok".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	struct rlimit old, bad = { 10, 5 };
	long a = syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &old);
	long b = syscall(SYS_prlimit64, 0, 999, NULL, &old);
	long c = syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &bad, NULL);
	void *at = mmap((void *)0x700000000UL, 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (at != (void *)0x700000000UL) {
		printf("no mapping at 0x700000000\n");
		return 1;
	}
	memcpy(at, &bad, sizeof(bad));
	long d = syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, at, NULL);
	printf("%ld %ld %ld %ld\n", a, b, c, d);
	if (a != 0 || b != -1 || c != -1 || d != -1)
		return 1;
	printf("rlimits ok\n");
	return 0;
}
