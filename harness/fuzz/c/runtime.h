/*
 * The interface of the repro.c runtime (runtime.c): the types, macros and builders a generated
 * main() uses.  The limits below are harness.fuzz.repro_plan's (MAX_TABLE + 2, MAX_RIGHTS,
 * MAX_OUTCOMES): harness/fuzz/repro_c.py checks that they agree.
 */
#ifndef SCM_HARNESS_REPRO_RUNTIME_H
#define SCM_HARNESS_REPRO_RUNTIME_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#define FILL 0xA5
#define FLAGS_SEED 0x00800000
#define STEP_TIMEOUT_US 500000L /* SO_RCVTIMEO / SO_SNDTIMEO on blocking pairs, as the harness sets them */
#define HANG_SECONDS 20
#define CHILD_TIMEOUT_S 10 /* the harness's child_timeout: a child still running then is killed (a hang) */
#define CHILD_CANNOT_RUN 2 /* a child's exit status: it could not run its steps (0 = conforms, 1 = deviated) */
#define BAD_ADDRESS ((void *)0x10) /* inside page 0, never mapped: the kernel's copy faults */
#define HEADER CMSG_ALIGN(sizeof(struct cmsghdr))
#define MAX_NAMES 66
#define MAX_EXP 8 /* allowed outcomes of one step */
#define MAX_FDS 8192
#define MAX_LIST 2048
#define SCM_MAX_FD_PLUS 1024 /* ints of one SCM_RIGHTS message the reproducer sends or looks at */
#define RESULT_LINE "SCM-HARNESS-REPRO-RESULT: " /* + reproduced | conforms | unsupported: the last line printed */

enum { PTR_BUFFER, PTR_NULL, PTR_BAD };
enum { FAULT_NONE, FAULT_MSGHDR, FAULT_IOV, FAULT_IOV_BASE };
enum { OUT_RETURNED, OUT_FAILED, OUT_BLOCKED };

struct seg { const char *lit; size_t n; int rep; };
/* text of the scenario (names, words): bytes with their length, never pasted into the source unescaped */
struct text { const char *s; size_t n; };
#define T(s) {s, sizeof(s) - 1}
#define TEXT(s) ((struct text)T(s))
#define LIT(s) {s, sizeof(s) - 1, 0}
#define REP(b, k) {NULL, (k), (b)}
#define SEGS(...) (const struct seg[]){__VA_ARGS__}, (int)(sizeof((const struct seg[]){__VA_ARGS__}) / sizeof(struct seg))
#define NOSEGS NULL, 0
struct ref { int kind; const char *name; int number; };
enum { REF_NAMED, REF_RAWNUM, REF_CLOSEDFD };
#define REF_FD(n) {REF_NAMED, n, 0}
#define REF_RAW(v) {REF_RAWNUM, NULL, v}
#define REF_CLOSED {REF_CLOSEDFD, NULL, 0}
#define REFS(...) (const struct ref[]){__VA_ARGS__}, (int)(sizeof((const struct ref[]){__VA_ARGS__}) / sizeof(struct ref))
#define NOREFS NULL, 0
#define SIZES(...) (const size_t[]){__VA_ARGS__}, (int)(sizeof((const size_t[]){__VA_ARGS__}) / sizeof(size_t))
#define NOSIZES NULL, 0

enum { NAME_UNCHANGED, NAME_ABSTRACT, NAME_PATH };
enum { SIGNAL_PIPE, SIGNAL_URG };

/* state the tests look at */
extern char names_dir[sizeof "/tmp/scm-repro-names-XXXXXX"];
extern char name_token[33];
extern unsigned char *send_name;
extern size_t send_namelen;

/* the builders and steps a generated main() calls */
void cannot_run_exit(void);
void print_text(struct text t);
unsigned char *segs_bytes(const struct seg *s, int n, size_t *len);
void announce(int step, struct text words);
void about(const struct text *lines, int n);
void pair(int type, int nb, int reversed);
void api_pair(int type, int how, int address);
void open_fd(const char *name, const char *kind, int cloexec, int nb, int append, int tracked);
void expect_begin(void);
void expect_returned(int64_t v);
void expect_failed(int e, const char *name);
void expect_blocked(void);
void expect_range(int64_t lo, int64_t hi);
void expect_events(int64_t mask);
void expect_peercred(int pid_self, int64_t pid, int uid_self, int64_t uid, int gid_self, int64_t gid);
void expect_signal(int sig);
void expect_data(const struct seg *s, int n);
void expect_buffers_known(void);
void expect_buffer(const struct seg *s, int n);
void expect_msg_flags(uint32_t f);
void expect_address(const char *address);
void expect_controllen(int64_t n);
void expect_stray(int64_t n);
void expect_cloexec(int c);
void expect_cmsg(int level, int type, int64_t length);
void expect_creds(int pid_self, int64_t pid, int uid_self, int64_t uid, int gid_self, int64_t gid);
void expect_fd(const char *name, const char *type, const char *flags);
void take_signals(int *pipe_seen, int *urg_seen);
void send_begin(void);
void iov_add(const struct seg *s, int n);
void msg_name(int kind, const struct seg *s, int n);
void iov_empty(int count);
void cmsg_rights(int64_t length, const struct ref *refs, int n);
void cmsg_creds(int pid_self, int64_t pid, int uid_self, int64_t uid, int gid_self, int64_t gid);
void cmsg_raw(int level, int type, const struct seg *s, int n, int64_t length, int64_t space);
void do_send(int step, const char *on, int flags, int64_t controllen, int control, int fault);
void do_recv(int step, const char *on, const size_t *sizes, int nbufs, size_t control, int flags, int pointer, int fault);
void do_setsockopt(int step, const char *on, int option, int value);
void do_setsockopt_timeval(int step, const char *on, int option, int64_t seconds, int64_t microseconds);
void do_getsockopt(int step, const char *on, int option, int peercred);
void do_poll(int step, const char *on, int events, int timeout_ms);
void do_ioctl(int step, const char *on, unsigned long request);
void do_set_owner(int step, const char *on);
void do_fill(int step, const char *on, size_t chunk, int64_t limit);
void do_shutdown(int step, const char *on, int how);
void do_listen(int step, const char *on, int backlog);
void do_close(int step, const char *name);
void do_reopen(int step, const char *on, int mode);
int child_begin(int step, int64_t uid_base, int64_t nofile, int64_t headroom);
void child_end(void);
void do_child(int step);
void start(void);
int finish(void);

#endif
