/* The floor of `scm-harness bench`: the canonical scenario with the SAME observations the raw back end
 * makes, written in C.  Per iteration: a fresh SOCK_DGRAM|SOCK_NONBLOCK socketpair, SO_PASSCRED on the
 * receiver, two files made as the raw back end makes them (harness/execute/fdtable.py), each with 100
 * bytes written, its offset at 5, a private duplicate and an fstat: memfds, or (argv[2] "regular")
 * regular files without a name, O_TMPFILE on /dev/shm and else in $TMPDIR, and where no filesystem
 * offers O_TMPFILE named files in a fresh private directory,
 * a /proc/self/fd listing before, sendmsg of 3 iovecs + SCM_CREDENTIALS + SCM_RIGHTS(2), recvmsg into
 * 0xA5-filled buffers, the cmsg list parsed, per received fd F_GETFD, fstat and F_GETFL, kcmp(KCMP_FILE)
 * against the sent file, an offset probe and a status-flag probe (both put back), a /proc/self/fd listing
 * just before and just after the recvmsg (fds installed but not reported) and after the scenario,
 * everything closed (and the directory removed).
 *
 * Usage: floor ITERATIONS memfd|regular   prints microseconds per iteration.  Shipped as package data and
 * compiled by harness/bench.py with -O2 -Wall -Wextra -Werror.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef KCMP_FILE
#define KCMP_FILE 0
#endif

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int count_open_fds(void) {
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL) die("opendir");
    int count = 0;
    for (struct dirent *entry = readdir(dir); entry != NULL; entry = readdir(dir))
        if (entry->d_name[0] != '.') count++;
    closedir(dir);
    return count;
}

/* The place where O_TMPFILE works, looked for once in the back end's order: NULL when none does, and
 * regular files then get names in a fresh private directory (a non-empty dir). */
static const char *tmpfile_place(const char *tmp) {
    const char *places[2] = {"/dev/shm", tmp};
    for (int k = 0; k < 2; k++) {
        int fd = open(places[k], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            return places[k];
        }
    }
    return NULL;
}

static int open_file(int regular, const char *place, const char *dir, int index) {
    static const char content[100] = "scm-harness regular file\n";
    int fd;
    if (!regular) {
        fd = memfd_create(index ? "g" : "f", 0);
        if (fd < 0) die("memfd_create");
    } else if (dir[0] == '\0') {
        fd = open(place, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) die("O_TMPFILE");
    } else {
        char path[4200];
        snprintf(path, sizeof path, "%s/%c", dir, index ? 'g' : 'f');
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) die("open");
    }
    struct stat st;
    if (write(fd, content, sizeof content) != (ssize_t)sizeof content || lseek(fd, 5, SEEK_SET) != 5) die("content");
    if (fstat(fd, &st) < 0) die("fstat");
    return fd;
}

static void close_files(const char *dir, const int files[2], const int privates[2]) {
    for (int k = 0; k < 2; k++) {
        close(files[k]);
        close(privates[k]);
    }
    if (dir[0] == '\0') return;
    char path[4200];
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%c", dir, k ? 'g' : 'f');
        if (unlink(path) < 0) die("unlink");
    }
    if (rmdir(dir) < 0) die("rmdir");
}

static void inspect(int received, int sent) {
    struct stat st;
    if (fcntl(received, F_GETFD) < 0 || fstat(received, &st) < 0) die("inspect");
    int flags = fcntl(received, F_GETFL);
    if (flags < 0) die("F_GETFL");
    pid_t pid = getpid();
    if (syscall(SYS_kcmp, pid, pid, KCMP_FILE, received, sent) < 0) die("kcmp");
    /* offset probe: move one, read the other, put it back */
    off_t start = lseek(received, 0, SEEK_CUR);
    if (lseek(received, start + 7919, SEEK_SET) < 0 || lseek(sent, 0, SEEK_CUR) != start + 7919) die("offset");
    lseek(received, start, SEEK_SET);
    /* status-flag probe: toggle O_NONBLOCK on one, read the other, put it back */
    if (fcntl(received, F_SETFL, flags ^ O_NONBLOCK) < 0 || !((fcntl(sent, F_GETFL) ^ flags) & O_NONBLOCK))
        die("status flags");
    fcntl(received, F_SETFL, flags);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: floor ITERATIONS memfd|regular\n");
        return 2;
    }
    long n = atol(argv[1]);
    int regular = strcmp(argv[2], "regular") == 0;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *place = regular ? tmpfile_place(tmp) : NULL;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        char dir[4096] = "";
        if (regular && place == NULL) {
            snprintf(dir, sizeof dir, "%s/scm-harness-floor-XXXXXX", tmp);
            if (mkdtemp(dir) == NULL) die("mkdtemp");
        }
        int before = count_open_fds();
        int sv[2], files[2], privates[2];
        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) die("socketpair");
        int on = 1;
        if (setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0) die("SO_PASSCRED");
        for (int k = 0; k < 2; k++) {
            files[k] = open_file(regular, place, dir, k);
            privates[k] = fcntl(files[k], F_DUPFD_CLOEXEC, 0); /* the back end's private duplicate */
            if (privates[k] < 0) die("F_DUPFD_CLOEXEC");
        }

        char d1[] = "abc", d2[] = "defgh", d3[] = "ij", in[64];
        struct iovec out_iov[3] = {{d1, 3}, {d2, 5}, {d3, 2}}, in_iov = {in, sizeof in};
        union {
            char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(2 * sizeof(int))];
            struct cmsghdr align;
        } control;
        memset(&control, 0, sizeof control);
        struct msghdr m = {0};
        m.msg_iov = out_iov;
        m.msg_iovlen = 3;
        m.msg_control = control.buf;
        m.msg_controllen = sizeof control.buf;
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_CREDENTIALS;
        h->cmsg_len = CMSG_LEN(sizeof(struct ucred));
        struct ucred creds = {getpid(), getuid(), getgid()};
        memcpy(CMSG_DATA(h), &creds, sizeof creds);
        h = CMSG_NXTHDR(&m, h);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(2 * sizeof(int));
        memcpy(CMSG_DATA(h), files, sizeof files);
        if (sendmsg(sv[0], &m, 0) != 10) die("sendmsg");

        union {
            char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(2 * sizeof(int))];
            struct cmsghdr align;
        } received;
        memset(in, 0xA5, sizeof in);
        memset(&received, 0xA5, sizeof received);
        struct msghdr r = {0};
        r.msg_iov = &in_iov;
        r.msg_iovlen = 1;
        r.msg_control = received.buf;
        r.msg_controllen = sizeof received.buf;
        int before_receive = count_open_fds(); /* the back end's fds installed but not reported */
        if (recvmsg(sv[1], &r, MSG_CMSG_CLOEXEC) != 10) die("recvmsg");
        if (count_open_fds() != before_receive + 2) die("unreported fds");
        int got = 0;
        for (h = CMSG_FIRSTHDR(&r); h != NULL; h = CMSG_NXTHDR(&r, h)) {
            if (h->cmsg_level != SOL_SOCKET) die("cmsg_level");
            if (h->cmsg_type == SCM_RIGHTS) {
                int fds[2];
                if (h->cmsg_len != CMSG_LEN(sizeof fds)) die("cmsg_len");
                memcpy(fds, CMSG_DATA(h), sizeof fds);
                for (int k = 0; k < 2; k++) {
                    inspect(fds[k], files[k]);
                    close(fds[k]);
                }
                got++;
            } else if (h->cmsg_type == SCM_CREDENTIALS) {
                struct ucred seen;
                memcpy(&seen, CMSG_DATA(h), sizeof seen);
                if (seen.pid != creds.pid || seen.uid != creds.uid || seen.gid != creds.gid) die("creds");
            }
        }
        if (got != 1) die("no SCM_RIGHTS");
        close(sv[0]);
        close(sv[1]);
        close_files(dir, files, privates);
        if (count_open_fds() != before) die("leak");
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.3f\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / (double)n);
    return 0;
}
