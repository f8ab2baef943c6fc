/*
 * floor.c - the cost floor of a seccomp+ptrace path redirector.
 *
 * Part of the sysfake benchmark harness; compiled at run time with cc -O2.
 *
 *   floor [-m floor|r|x] [-s SRC -d DST] [-c COUNTFILE] -- CMD [ARGS...]
 *
 * Modes (see docs/performance.md):
 *   floor  install a seccomp filter that traps the path syscalls, continue
 *          at each stop and do nothing else.
 *   r      floor, plus read the registers and the path at each stop.
 *   x      r, plus a full redirect of paths equal to SRC or below SRC/: the
 *          new path is written into a scratch page mapped in the tracee (an
 *          mmap injected once per thread, never below the stack pointer), the
 *          argument register is rewritten, and it is restored at the
 *          syscall-exit stop (a second stop).
 *
 * With -c, the number of seccomp stops is written to COUNTFILE at the end
 * (with -c -, as a SFBENCH_STOPS= line on stderr).
 * Handles both stop orders: Linux >= 4.8 (seccomp stop, then the exit stop)
 * and gVisor (seccomp stop, then a syscall-enter stop, then the exit stop).
 * Memory access: process_vm_readv/writev, falling back to pread of
 * /proc/TID/mem and PTRACE_PEEKDATA/POKEDATA where they do not exist.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_EVENT_SECCOMP
#define PTRACE_EVENT_SECCOMP 7
#endif
#ifndef PTRACE_O_TRACESECCOMP
#define PTRACE_O_TRACESECCOMP (1 << PTRACE_EVENT_SECCOMP)
#endif
#ifndef PTRACE_O_EXITKILL
#define PTRACE_O_EXITKILL (1 << 20)
#endif

#define PATH_BUF 4096

/* x86_64 path syscalls and the index of their (first) path argument. */
struct psys {
    int nr;
    int arg;
};
static const struct psys PATH_SYSCALLS[] = {
    {2, 0},   /* open */
    {4, 0},   /* stat */
    {6, 0},   /* lstat */
    {21, 0},  /* access */
    {59, 0},  /* execve */
    {76, 0},  /* truncate */
    {80, 0},  /* chdir */
    {82, 0},  /* rename */
    {83, 0},  /* mkdir */
    {84, 0},  /* rmdir */
    {85, 0},  /* creat */
    {86, 0},  /* link */
    {87, 0},  /* unlink */
    {88, 1},  /* symlink: the link path */
    {89, 0},  /* readlink */
    {90, 0},  /* chmod */
    {92, 0},  /* chown */
    {94, 0},  /* lchown */
    {132, 0}, /* utime */
    {133, 0}, /* mknod */
    {137, 0}, /* statfs */
    {161, 0}, /* chroot */
    {165, 1}, /* mount: the target */
    {166, 0}, /* umount2 */
    {188, 0}, /* setxattr */
    {189, 0}, /* lsetxattr */
    {191, 0}, /* getxattr */
    {192, 0}, /* lgetxattr */
    {194, 0}, /* listxattr */
    {195, 0}, /* llistxattr */
    {197, 0}, /* removexattr */
    {198, 0}, /* lremovexattr */
    {235, 0}, /* utimes */
    {254, 1}, /* inotify_add_watch */
    {257, 1}, /* openat */
    {258, 1}, /* mkdirat */
    {259, 1}, /* mknodat */
    {260, 1}, /* fchownat */
    {261, 1}, /* futimesat */
    {262, 1}, /* newfstatat */
    {263, 1}, /* unlinkat */
    {264, 1}, /* renameat */
    {265, 1}, /* linkat */
    {266, 2}, /* symlinkat: the link path */
    {267, 1}, /* readlinkat */
    {268, 1}, /* fchmodat */
    {269, 1}, /* faccessat */
    {280, 1}, /* utimensat */
    {303, 1}, /* name_to_handle_at */
    {316, 1}, /* renameat2 */
    {322, 1}, /* execveat */
    {332, 1}, /* statx */
    {437, 1}, /* openat2 */
    {439, 1}, /* faccessat2 */
};
#define N_PATH_SYSCALLS ((int)(sizeof(PATH_SYSCALLS) / sizeof(PATH_SYSCALLS[0])))

enum mode { MODE_FLOOR, MODE_R, MODE_X };
enum phase { PH_NONE, PH_INJECT, PH_REDIRECT };

struct tstate {
    pid_t tid;       /* 0: free slot */
    int seen;        /* the initial SIGSTOP of a new child was handled */
    int phase;
    int saw_entry;   /* gVisor order: the syscall-enter stop was seen */
    int memfd;       /* /proc/TID/mem, -1 when not open */
    uint64_t scratch; /* 0: none yet; UINT64_MAX: mapping failed */
    int arg;
    uint64_t orig_arg;
    struct user_regs_struct saved;
};

#define TABLE_SIZE 8192 /* power of two */
static struct tstate table[TABLE_SIZE];

static enum mode g_mode = MODE_FLOOR;
static const char *g_src;
static const char *g_dst;
static size_t g_src_len;
static unsigned long long g_stops;
static unsigned long long g_redirects;
static int g_have_vm_readv = 1;
static int g_have_vm_writev = 1;
static long g_page;

static void die(const char *what) {
    perror(what);
    exit(125);
}

static struct tstate *lookup(pid_t tid, int create) {
    unsigned h = ((unsigned)tid * 2654435761u) & (TABLE_SIZE - 1);
    for (unsigned i = 0; i < TABLE_SIZE; i++) {
        struct tstate *t = &table[(h + i) & (TABLE_SIZE - 1)];
        if (t->tid == tid)
            return t;
        if (t->tid == 0) {
            if (!create)
                return NULL;
            memset(t, 0, sizeof(*t));
            t->tid = tid;
            t->memfd = -1;
            return t;
        }
    }
    fprintf(stderr, "floor: thread table full\n");
    exit(125);
}

/* Remove with backward-shift deletion so that probing stays correct. */
static void forget(pid_t tid) {
    unsigned h = ((unsigned)tid * 2654435761u) & (TABLE_SIZE - 1);
    unsigned i = h;
    while (table[i].tid != tid) {
        if (table[i].tid == 0)
            return;
        i = (i + 1) & (TABLE_SIZE - 1);
    }
    if (table[i].memfd >= 0)
        close(table[i].memfd);
    table[i].tid = 0;
    unsigned j = i;
    for (;;) {
        j = (j + 1) & (TABLE_SIZE - 1);
        if (table[j].tid == 0)
            return;
        unsigned k = ((unsigned)table[j].tid * 2654435761u) & (TABLE_SIZE - 1);
        /* move j to i if k is cyclically outside (i, j] */
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            table[i] = table[j];
            table[j].tid = 0;
            i = j;
        }
    }
}

static int syscall_arg_index(long nr) {
    for (int i = 0; i < N_PATH_SYSCALLS; i++)
        if (PATH_SYSCALLS[i].nr == nr)
            return PATH_SYSCALLS[i].arg;
    return -1;
}

static uint64_t *arg_reg(struct user_regs_struct *r, int idx) {
    switch (idx) {
    case 0: return (uint64_t *)&r->rdi;
    case 1: return (uint64_t *)&r->rsi;
    case 2: return (uint64_t *)&r->rdx;
    case 3: return (uint64_t *)&r->r10;
    case 4: return (uint64_t *)&r->r8;
    default: return (uint64_t *)&r->r9;
    }
}

static ssize_t mem_read(struct tstate *t, uint64_t addr, char *buf, size_t len) {
    if (g_have_vm_readv) {
        struct iovec l = {buf, len}, r = {(void *)(uintptr_t)addr, len};
        ssize_t n = process_vm_readv(t->tid, &l, 1, &r, 1, 0);
        if (n >= 0 || errno != ENOSYS)
            return n;
        g_have_vm_readv = 0;
    }
    if (t->memfd < 0) {
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d/mem", (int)t->tid);
        t->memfd = open(p, O_RDONLY | O_CLOEXEC);
    }
    if (t->memfd >= 0) {
        ssize_t n = pread(t->memfd, buf, len, (off_t)addr);
        if (n >= 0)
            return n;
    }
    size_t done = 0;
    while (done < len) {
        errno = 0;
        long w = ptrace(PTRACE_PEEKDATA, t->tid, (void *)(uintptr_t)(addr + done), NULL);
        if (errno)
            return done ? (ssize_t)done : -1;
        size_t n = len - done < sizeof(w) ? len - done : sizeof(w);
        memcpy(buf + done, &w, n);
        done += n;
    }
    return (ssize_t)done;
}

/* Read a NUL-terminated string, page by page. Returns its length or -1. */
static ssize_t read_path(struct tstate *t, uint64_t addr, char *buf, size_t cap) {
    size_t got = 0;
    while (got < cap - 1) {
        size_t chunk = (size_t)g_page - ((addr + got) & (uint64_t)(g_page - 1));
        if (chunk > cap - 1 - got)
            chunk = cap - 1 - got;
        ssize_t n = mem_read(t, addr + got, buf + got, chunk);
        if (n <= 0)
            return -1;
        char *z = memchr(buf + got, 0, (size_t)n);
        if (z)
            return z - buf;
        got += (size_t)n;
    }
    buf[cap - 1] = 0;
    return -1; /* too long */
}

static int mem_write(pid_t tid, uint64_t addr, const char *buf, size_t len) {
    if (g_have_vm_writev) {
        struct iovec l = {(void *)buf, len}, r = {(void *)(uintptr_t)addr, len};
        ssize_t n = process_vm_writev(tid, &l, 1, &r, 1, 0);
        if (n == (ssize_t)len)
            return 0;
        if (n < 0 && errno == ENOSYS)
            g_have_vm_writev = 0;
        else
            return -1;
    }
    /* the scratch page is ours: writing whole words past the end is fine */
    for (size_t done = 0; done < len; done += sizeof(long)) {
        long w = 0;
        memcpy(&w, buf + done, len - done < sizeof(w) ? len - done : sizeof(w));
        if (ptrace(PTRACE_POKEDATA, tid, (void *)(uintptr_t)(addr + done), (void *)w) < 0)
            return -1;
    }
    return 0;
}

static int matches(const char *p, size_t n) {
    if (n < g_src_len || memcmp(p, g_src, g_src_len) != 0)
        return 0;
    return n == g_src_len || p[g_src_len] == '/';
}

/* Returns the ptrace request to resume with. */
static int on_seccomp(pid_t tid) {
    g_stops++;
    if (g_mode == MODE_FLOOR)
        return PTRACE_CONT;
    struct tstate *t = lookup(tid, 1);
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) < 0)
        return PTRACE_CONT;
    int idx = syscall_arg_index((long)regs.orig_rax);
    if (idx < 0)
        return PTRACE_CONT;
    uint64_t addr = *arg_reg(&regs, idx);
    if (!addr)
        return PTRACE_CONT;
    char path[PATH_BUF];
    ssize_t n = read_path(t, addr, path, sizeof(path));
    if (g_mode == MODE_R || n < 0 || !matches(path, (size_t)n))
        return PTRACE_CONT;
    if (t->scratch == UINT64_MAX)
        return PTRACE_CONT;
    if (t->scratch == 0) {
        /* inject mmap(NULL, page, RW, PRIVATE|ANON, -1, 0), then re-execute */
        t->saved = regs;
        regs.orig_rax = SYS_mmap;
        regs.rdi = 0;
        regs.rsi = (uint64_t)g_page;
        regs.rdx = PROT_READ | PROT_WRITE;
        regs.r10 = MAP_PRIVATE | MAP_ANONYMOUS;
        regs.r8 = (uint64_t)-1;
        regs.r9 = 0;
        if (ptrace(PTRACE_SETREGS, tid, NULL, &regs) < 0)
            return PTRACE_CONT;
        t->phase = PH_INJECT;
        t->saw_entry = 0;
        return PTRACE_SYSCALL;
    }
    char np[PATH_BUF];
    size_t dl = strlen(g_dst), rest = (size_t)n - g_src_len;
    if (dl + rest + 1 > (size_t)g_page)
        return PTRACE_CONT;
    memcpy(np, g_dst, dl);
    memcpy(np + dl, path + g_src_len, rest + 1);
    if (mem_write(tid, t->scratch, np, dl + rest + 1) < 0)
        return PTRACE_CONT;
    t->arg = idx;
    t->orig_arg = addr;
    *arg_reg(&regs, idx) = t->scratch;
    if (ptrace(PTRACE_SETREGS, tid, NULL, &regs) < 0)
        return PTRACE_CONT;
    g_redirects++;
    t->phase = PH_REDIRECT;
    t->saw_entry = 0;
    return PTRACE_SYSCALL;
}

static int on_syscall_stop(pid_t tid) {
    struct tstate *t = lookup(tid, 1);
    struct user_regs_struct regs;
    if (t->phase == PH_NONE || ptrace(PTRACE_GETREGS, tid, NULL, &regs) < 0)
        return PTRACE_CONT;
    if (!t->saw_entry && regs.rax == (uint64_t)-ENOSYS) {
        /* gVisor: the syscall-enter stop comes after the seccomp stop */
        t->saw_entry = 1;
        return PTRACE_SYSCALL;
    }
    if (t->phase == PH_INJECT) {
        int64_t r = (int64_t)regs.rax;
        t->scratch = (r < 0 && r > -4096) ? UINT64_MAX : regs.rax;
        regs = t->saved;
        regs.rip -= 2; /* back onto the syscall instruction */
        regs.rax = t->saved.orig_rax;
    } else {
        *arg_reg(&regs, t->arg) = t->orig_arg;
    }
    t->phase = PH_NONE;
    if (ptrace(PTRACE_SETREGS, tid, NULL, &regs) < 0)
        return PTRACE_CONT;
    return PTRACE_CONT;
}

static void usage(void) {
    fprintf(stderr, "usage: floor [-m floor|r|x] [-s SRC -d DST] [-c COUNTFILE] -- CMD [ARGS...]\n");
    exit(125);
}

int main(int argc, char **argv) {
    const char *countfile = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "+m:s:d:c:")) != -1) {
        switch (opt) {
        case 'm':
            if (!strcmp(optarg, "floor"))
                g_mode = MODE_FLOOR;
            else if (!strcmp(optarg, "r"))
                g_mode = MODE_R;
            else if (!strcmp(optarg, "x"))
                g_mode = MODE_X;
            else
                usage();
            break;
        case 's': g_src = optarg; break;
        case 'd': g_dst = optarg; break;
        case 'c': countfile = optarg; break;
        default: usage();
        }
    }
    if (optind >= argc)
        usage();
    if (g_mode == MODE_X && (!g_src || !g_dst))
        usage();
    if (g_src) {
        g_src_len = strlen(g_src);
        while (g_src_len > 1 && g_src[g_src_len - 1] == '/')
            g_src_len--;
    }
    g_page = sysconf(_SC_PAGESIZE);

    /* the filter: trap the path syscalls, allow everything else */
    struct sock_filter f[4 + N_PATH_SYSCALLS + 2];
    int k = 0;
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (int i = 0; i < N_PATH_SYSCALLS; i++) {
        /* on a match jump to the TRACE return, which sits after ALLOW */
        unsigned char to_trace = (unsigned char)(N_PATH_SYSCALLS - i);
        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)PATH_SYSCALLS[i].nr, to_trace, 0);
    }
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
    struct sock_fprog prog = {(unsigned short)k, f};

    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
            die("PTRACE_TRACEME");
        raise(SIGSTOP);
        if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            die("PR_SET_NO_NEW_PRIVS");
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
            die("PR_SET_SECCOMP");
        execvp(argv[optind], argv + optind);
        perror(argv[optind]);
        _exit(127);
    }
    int st;
    if (waitpid(child, &st, 0) < 0 || !WIFSTOPPED(st))
        die("waitpid");
    long opts = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
                PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL |
                PTRACE_O_TRACESYSGOOD;
    if (ptrace(PTRACE_SETOPTIONS, child, NULL, (void *)opts) < 0)
        die("PTRACE_SETOPTIONS");
    lookup(child, 1)->seen = 1;
    if (ptrace(PTRACE_CONT, child, NULL, NULL) < 0)
        die("PTRACE_CONT");

    int exit_code = 0;
    for (;;) {
        pid_t tid = waitpid(-1, &st, __WALL);
        if (tid < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECHILD)
                break;
            die("waitpid");
        }
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            if (tid == child)
                exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            if (g_mode != MODE_FLOOR)
                forget(tid);
            continue;
        }
        if (!WIFSTOPPED(st))
            continue;
        int sig = WSTOPSIG(st), event = st >> 16, req = PTRACE_CONT;
        long deliver = 0;
        if (event == PTRACE_EVENT_SECCOMP) {
            req = on_seccomp(tid);
        } else if (event == PTRACE_EVENT_EXEC) {
            if (g_mode != MODE_FLOOR) {
                unsigned long former = 0;
                ptrace(PTRACE_GETEVENTMSG, tid, NULL, &former);
                if ((pid_t)former != tid)
                    forget((pid_t)former);
                forget(tid);
                lookup(tid, 1)->seen = 1;
            }
        } else if (event) {
            /* fork/vfork/clone: the new child starts with a SIGSTOP */
        } else if (sig == (SIGTRAP | 0x80)) {
            req = on_syscall_stop(tid);
        } else {
            struct tstate *t = lookup(tid, 1);
            if (sig == SIGSTOP && !t->seen)
                t->seen = 1; /* the initial stop of an auto-attached child */
            else
                deliver = sig;
            if (g_mode == MODE_FLOOR)
                forget(tid); /* keep the table small in the plain mode */
        }
        ptrace((enum __ptrace_request)req, tid, NULL, (void *)deliver);
    }
    if (countfile && !strcmp(countfile, "-")) {
        fprintf(stderr, "\nSFBENCH_STOPS=%llu REDIRECTS=%llu\n", g_stops, g_redirects);
    } else if (countfile) {
        FILE *fp = fopen(countfile, "w");
        if (fp) {
            fprintf(fp, "stops=%llu redirects=%llu\n", g_stops, g_redirects);
            fclose(fp);
        }
    }
    return exit_code;
}
