/* uring_open: open PATH with plain openat and with io_uring's IORING_OP_OPENAT
 * (raw io_uring_setup/io_uring_enter, no liburing), read what each gives.
 *
 *   uring_open PATH
 *
 * Prints "openat: ok <first line>" / "openat: ERR <NAME>", then the same for
 * "io_uring:", then for "int80:" (the i386 open, syscall 5, through int 0x80,
 * with the path copied below 4 GiB). Exits 77 when io_uring is not available.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *what, int fd, int err)
{
    if (fd < 0) {
        printf("%s: ERR %s\n", what, strerrorname_np(err));
        return;
    }
    char buf[128] = { 0 };
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? strcspn(buf, "\n") : 0] = 0;
    printf("%s: ok %s\n", what, buf);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = openat(AT_FDCWD, argv[1], O_RDONLY);
    show("openat", fd, errno);

    char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
                     -1, 0);
    if (low != MAP_FAILED && strlen(argv[1]) < 4000) {
        strcpy(low, argv[1]);
        long r;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(5L), "b"((long)low), "c"((long)O_RDONLY),
                         "d"(0L) : "memory");
        show("int80", r < 0 ? -1 : (int)r, r < 0 ? (int)-r : 0);
    }

    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int ring = (int)syscall(SYS_io_uring_setup, 4, &p);
    if (ring < 0) {
        printf("io_uring: unavailable %s\n", strerrorname_np(errno));
        return 77;
    }
    size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP && cq_sz > sq_sz)
        sq_sz = cq_sz;
    char *sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
                    IORING_OFF_SQ_RING);
    char *cq = (p.features & IORING_FEAT_SINGLE_MMAP) ? sq
               : mmap(NULL, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
                      IORING_OFF_CQ_RING);
    struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
                                     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
                                     IORING_OFF_SQES);
    if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
        return 3;
    unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
    unsigned *mask = (unsigned *)(sq + p.sq_off.ring_mask);
    unsigned *array = (unsigned *)(sq + p.sq_off.array);
    unsigned idx = *tail & *mask;
    struct io_uring_sqe *e = &sqes[idx];
    memset(e, 0, sizeof *e);
    e->opcode = IORING_OP_OPENAT;
    e->fd = AT_FDCWD;
    e->addr = (unsigned long)argv[1];
    e->open_flags = O_RDONLY;
    array[idx] = idx;
    __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
    if (syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
        printf("io_uring: enter ERR %s\n", strerrorname_np(errno));
        return 3;
    }
    unsigned *chead = (unsigned *)(cq + p.cq_off.head);
    unsigned *cmask = (unsigned *)(cq + p.cq_off.ring_mask);
    struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    struct io_uring_cqe *c = &cqes[*chead & *cmask];
    int res = c->res;
    __atomic_store_n(chead, *chead + 1, __ATOMIC_RELEASE);
    show("io_uring", res, res < 0 ? -res : 0);
    return 0;
}
