/*
 * The C runtime of every generated repro.c (scm-harness): plain libc.
 *
 * harness/fuzz/repro_c.py writes one standalone file: runtime.h, this file (without the #include
 * below) and a generated main() of builder calls (send_begin, iov_add, cmsg_rights, expect_*)
 * followed by do_send / do_recv / ... per step.  It observes what the raw back end observes and
 * compares it the way the checkers do.  The tests compile it alone with -Wall -Wextra -Werror.
 */
#include "runtime.h"

static const struct { int number; const char *name; } errnames[] = {
#ifdef E2BIG
    {E2BIG, "E2BIG"},
#endif
#ifdef EACCES
    {EACCES, "EACCES"},
#endif
#ifdef EADDRINUSE
    {EADDRINUSE, "EADDRINUSE"},
#endif
#ifdef EADDRNOTAVAIL
    {EADDRNOTAVAIL, "EADDRNOTAVAIL"},
#endif
#ifdef EADV
    {EADV, "EADV"},
#endif
#ifdef EAFNOSUPPORT
    {EAFNOSUPPORT, "EAFNOSUPPORT"},
#endif
#ifdef EAGAIN
    {EAGAIN, "EAGAIN"},
#endif
#ifdef EALREADY
    {EALREADY, "EALREADY"},
#endif
#ifdef EBADE
    {EBADE, "EBADE"},
#endif
#ifdef EBADF
    {EBADF, "EBADF"},
#endif
#ifdef EBADFD
    {EBADFD, "EBADFD"},
#endif
#ifdef EBADMSG
    {EBADMSG, "EBADMSG"},
#endif
#ifdef EBADR
    {EBADR, "EBADR"},
#endif
#ifdef EBADRQC
    {EBADRQC, "EBADRQC"},
#endif
#ifdef EBADSLT
    {EBADSLT, "EBADSLT"},
#endif
#ifdef EBFONT
    {EBFONT, "EBFONT"},
#endif
#ifdef EBUSY
    {EBUSY, "EBUSY"},
#endif
#ifdef ECANCELED
    {ECANCELED, "ECANCELED"},
#endif
#ifdef ECHILD
    {ECHILD, "ECHILD"},
#endif
#ifdef ECHRNG
    {ECHRNG, "ECHRNG"},
#endif
#ifdef ECOMM
    {ECOMM, "ECOMM"},
#endif
#ifdef ECONNABORTED
    {ECONNABORTED, "ECONNABORTED"},
#endif
#ifdef ECONNREFUSED
    {ECONNREFUSED, "ECONNREFUSED"},
#endif
#ifdef ECONNRESET
    {ECONNRESET, "ECONNRESET"},
#endif
#ifdef EDEADLOCK
    {EDEADLOCK, "EDEADLOCK"},
#endif
#ifdef EDESTADDRREQ
    {EDESTADDRREQ, "EDESTADDRREQ"},
#endif
#ifdef EDOM
    {EDOM, "EDOM"},
#endif
#ifdef EDOTDOT
    {EDOTDOT, "EDOTDOT"},
#endif
#ifdef EDQUOT
    {EDQUOT, "EDQUOT"},
#endif
#ifdef EEXIST
    {EEXIST, "EEXIST"},
#endif
#ifdef EFAULT
    {EFAULT, "EFAULT"},
#endif
#ifdef EFBIG
    {EFBIG, "EFBIG"},
#endif
#ifdef EHOSTDOWN
    {EHOSTDOWN, "EHOSTDOWN"},
#endif
#ifdef EHOSTUNREACH
    {EHOSTUNREACH, "EHOSTUNREACH"},
#endif
#ifdef EIDRM
    {EIDRM, "EIDRM"},
#endif
#ifdef EILSEQ
    {EILSEQ, "EILSEQ"},
#endif
#ifdef EINPROGRESS
    {EINPROGRESS, "EINPROGRESS"},
#endif
#ifdef EINTR
    {EINTR, "EINTR"},
#endif
#ifdef EINVAL
    {EINVAL, "EINVAL"},
#endif
#ifdef EIO
    {EIO, "EIO"},
#endif
#ifdef EISCONN
    {EISCONN, "EISCONN"},
#endif
#ifdef EISDIR
    {EISDIR, "EISDIR"},
#endif
#ifdef EISNAM
    {EISNAM, "EISNAM"},
#endif
#ifdef EKEYEXPIRED
    {EKEYEXPIRED, "EKEYEXPIRED"},
#endif
#ifdef EKEYREJECTED
    {EKEYREJECTED, "EKEYREJECTED"},
#endif
#ifdef EKEYREVOKED
    {EKEYREVOKED, "EKEYREVOKED"},
#endif
#ifdef EL2HLT
    {EL2HLT, "EL2HLT"},
#endif
#ifdef EL2NSYNC
    {EL2NSYNC, "EL2NSYNC"},
#endif
#ifdef EL3HLT
    {EL3HLT, "EL3HLT"},
#endif
#ifdef EL3RST
    {EL3RST, "EL3RST"},
#endif
#ifdef ELIBACC
    {ELIBACC, "ELIBACC"},
#endif
#ifdef ELIBBAD
    {ELIBBAD, "ELIBBAD"},
#endif
#ifdef ELIBEXEC
    {ELIBEXEC, "ELIBEXEC"},
#endif
#ifdef ELIBMAX
    {ELIBMAX, "ELIBMAX"},
#endif
#ifdef ELIBSCN
    {ELIBSCN, "ELIBSCN"},
#endif
#ifdef ELNRNG
    {ELNRNG, "ELNRNG"},
#endif
#ifdef ELOOP
    {ELOOP, "ELOOP"},
#endif
#ifdef EMEDIUMTYPE
    {EMEDIUMTYPE, "EMEDIUMTYPE"},
#endif
#ifdef EMFILE
    {EMFILE, "EMFILE"},
#endif
#ifdef EMLINK
    {EMLINK, "EMLINK"},
#endif
#ifdef EMSGSIZE
    {EMSGSIZE, "EMSGSIZE"},
#endif
#ifdef EMULTIHOP
    {EMULTIHOP, "EMULTIHOP"},
#endif
#ifdef ENAMETOOLONG
    {ENAMETOOLONG, "ENAMETOOLONG"},
#endif
#ifdef ENAVAIL
    {ENAVAIL, "ENAVAIL"},
#endif
#ifdef ENETDOWN
    {ENETDOWN, "ENETDOWN"},
#endif
#ifdef ENETRESET
    {ENETRESET, "ENETRESET"},
#endif
#ifdef ENETUNREACH
    {ENETUNREACH, "ENETUNREACH"},
#endif
#ifdef ENFILE
    {ENFILE, "ENFILE"},
#endif
#ifdef ENOANO
    {ENOANO, "ENOANO"},
#endif
#ifdef ENOBUFS
    {ENOBUFS, "ENOBUFS"},
#endif
#ifdef ENOCSI
    {ENOCSI, "ENOCSI"},
#endif
#ifdef ENODATA
    {ENODATA, "ENODATA"},
#endif
#ifdef ENODEV
    {ENODEV, "ENODEV"},
#endif
#ifdef ENOENT
    {ENOENT, "ENOENT"},
#endif
#ifdef ENOEXEC
    {ENOEXEC, "ENOEXEC"},
#endif
#ifdef ENOKEY
    {ENOKEY, "ENOKEY"},
#endif
#ifdef ENOLCK
    {ENOLCK, "ENOLCK"},
#endif
#ifdef ENOLINK
    {ENOLINK, "ENOLINK"},
#endif
#ifdef ENOMEDIUM
    {ENOMEDIUM, "ENOMEDIUM"},
#endif
#ifdef ENOMEM
    {ENOMEM, "ENOMEM"},
#endif
#ifdef ENOMSG
    {ENOMSG, "ENOMSG"},
#endif
#ifdef ENONET
    {ENONET, "ENONET"},
#endif
#ifdef ENOPKG
    {ENOPKG, "ENOPKG"},
#endif
#ifdef ENOPROTOOPT
    {ENOPROTOOPT, "ENOPROTOOPT"},
#endif
#ifdef ENOSPC
    {ENOSPC, "ENOSPC"},
#endif
#ifdef ENOSR
    {ENOSR, "ENOSR"},
#endif
#ifdef ENOSTR
    {ENOSTR, "ENOSTR"},
#endif
#ifdef ENOSYS
    {ENOSYS, "ENOSYS"},
#endif
#ifdef ENOTBLK
    {ENOTBLK, "ENOTBLK"},
#endif
#ifdef ENOTCONN
    {ENOTCONN, "ENOTCONN"},
#endif
#ifdef ENOTDIR
    {ENOTDIR, "ENOTDIR"},
#endif
#ifdef ENOTEMPTY
    {ENOTEMPTY, "ENOTEMPTY"},
#endif
#ifdef ENOTNAM
    {ENOTNAM, "ENOTNAM"},
#endif
#ifdef ENOTRECOVERABLE
    {ENOTRECOVERABLE, "ENOTRECOVERABLE"},
#endif
#ifdef ENOTSOCK
    {ENOTSOCK, "ENOTSOCK"},
#endif
#ifdef ENOTSUP
    {ENOTSUP, "ENOTSUP"},
#endif
#ifdef ENOTTY
    {ENOTTY, "ENOTTY"},
#endif
#ifdef ENOTUNIQ
    {ENOTUNIQ, "ENOTUNIQ"},
#endif
#ifdef ENXIO
    {ENXIO, "ENXIO"},
#endif
#ifdef EOVERFLOW
    {EOVERFLOW, "EOVERFLOW"},
#endif
#ifdef EOWNERDEAD
    {EOWNERDEAD, "EOWNERDEAD"},
#endif
#ifdef EPERM
    {EPERM, "EPERM"},
#endif
#ifdef EPFNOSUPPORT
    {EPFNOSUPPORT, "EPFNOSUPPORT"},
#endif
#ifdef EPIPE
    {EPIPE, "EPIPE"},
#endif
#ifdef EPROTO
    {EPROTO, "EPROTO"},
#endif
#ifdef EPROTONOSUPPORT
    {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
#endif
#ifdef EPROTOTYPE
    {EPROTOTYPE, "EPROTOTYPE"},
#endif
#ifdef ERANGE
    {ERANGE, "ERANGE"},
#endif
#ifdef EREMCHG
    {EREMCHG, "EREMCHG"},
#endif
#ifdef EREMOTE
    {EREMOTE, "EREMOTE"},
#endif
#ifdef EREMOTEIO
    {EREMOTEIO, "EREMOTEIO"},
#endif
#ifdef ERESTART
    {ERESTART, "ERESTART"},
#endif
#ifdef ERFKILL
    {ERFKILL, "ERFKILL"},
#endif
#ifdef EROFS
    {EROFS, "EROFS"},
#endif
#ifdef ESHUTDOWN
    {ESHUTDOWN, "ESHUTDOWN"},
#endif
#ifdef ESOCKTNOSUPPORT
    {ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT"},
#endif
#ifdef ESPIPE
    {ESPIPE, "ESPIPE"},
#endif
#ifdef ESRCH
    {ESRCH, "ESRCH"},
#endif
#ifdef ESRMNT
    {ESRMNT, "ESRMNT"},
#endif
#ifdef ESTALE
    {ESTALE, "ESTALE"},
#endif
#ifdef ESTRPIPE
    {ESTRPIPE, "ESTRPIPE"},
#endif
#ifdef ETIME
    {ETIME, "ETIME"},
#endif
#ifdef ETIMEDOUT
    {ETIMEDOUT, "ETIMEDOUT"},
#endif
#ifdef ETOOMANYREFS
    {ETOOMANYREFS, "ETOOMANYREFS"},
#endif
#ifdef ETXTBSY
    {ETXTBSY, "ETXTBSY"},
#endif
#ifdef EUCLEAN
    {EUCLEAN, "EUCLEAN"},
#endif
#ifdef EUNATCH
    {EUNATCH, "EUNATCH"},
#endif
#ifdef EUSERS
    {EUSERS, "EUSERS"},
#endif
#ifdef EXDEV
    {EXDEV, "EXDEV"},
#endif
#ifdef EXFULL
    {EXFULL, "EXFULL"},
#endif
    {0, NULL}};

/* msg_name: the harness's address confinement (harness/addresses.py, Target.sockaddr) restated, as a
   reproducer cannot use the harness (issue 13 will build reproducers from the harness itself).  The plan
   carries address_target() of each address (kind and data); a name is built with this run's own random
   token (getrandom) and private directory (mode 0711: an unprivileged child's lookup ends in ENOENT as in
   the harness, not EACCES) in the harness's layout, so its length stays within sockaddr_un and the
   kernel's errno is the harness's.  An address the kernel refuses before any lookup is unchanged. */
char names_dir[] = "/tmp/scm-repro-names-XXXXXX"; /* not $TMPDIR: it may be a 0700 directory */
char name_token[33];
static pid_t names_owner; /* the process that made names_dir (a child leaves it alone) */

/* The confined sockaddr of a target into `out` (sizeof(struct sockaddr_un) bytes): its length, 0 if it does not fit. */
static size_t confined_name(int kind, const unsigned char *data, size_t n, const char *token, const char *dir, unsigned char *out) {
    sa_family_t family = AF_UNIX;
    char head[sizeof(struct sockaddr_un)];
    size_t len = sizeof family;
    int k = kind == NAME_ABSTRACT ? snprintf(head, sizeof head, "scm-harness-%s-", token) : snprintf(head, sizeof head, "%s/%s-", dir, token);
    if (k < 0 || sizeof family + 1 + (size_t)k + n > sizeof(struct sockaddr_un)) return 0; /* + the name's one NUL */
    memcpy(out, &family, sizeof family);
    if (kind == NAME_ABSTRACT) out[len++] = 0;
    memcpy(out + len, head, (size_t)k);
    len += (size_t)k;
    memcpy(out + len, data, n);
    len += n;
    if (kind == NAME_PATH) out[len++] = 0;
    return len;
}

/* A pair the socket API makes (harness.model.PairOrigin): the name each end bound (index 0 = a, 1 = b; an
   accepted pair: b only, the listener's), as harness/addresses.py pair_target() names them; paths to unlink. */
enum { PAIR_ACCEPTED, PAIR_CONNECTED, PAIR_UNCONNECTED };
enum { ADDR_PATHNAME, ADDR_ABSTRACT, ADDR_AUTOBIND };
static unsigned char pair_names[2][sizeof(struct sockaddr_un)];
static socklen_t pair_namelens[2];
static char pair_paths[2][sizeof(struct sockaddr_un)];
static int unconnected; /* a send without msg_name goes to the other end's name */

/* An address as data comparable across runs (harness/addresses.py describe_name restated). */
static const char *describe_name(const unsigned char *raw, socklen_t len) {
    if (len == 0) return "none";
    if (len <= 2) return "unnamed";
    for (int i = 0; i < 2; i++)
        if (pair_namelens[i] == len && !memcmp(pair_names[i], raw, len)) return i ? "b" : "a";
    if (raw[2] == 0) {
        int hex = len == 8;
        for (socklen_t i = 3; hex && i < len; i++) hex = (raw[i] >= '0' && raw[i] <= '9') || (raw[i] >= 'a' && raw[i] <= 'f');
        return hex ? "autobind" : "abstract";
    }
    return "pathname";
}

/* Exit 2 ("cannot run here"), saying so on the last line. */
void cannot_run_exit(void) {
    printf(RESULT_LINE "unsupported\n");
    fflush(stdout);
    exit(2);
}

/* `used` entries of a table of `max` are taken: one more would not fit. */
static void room(int used, int max, const char *what) {
    if (used < 0 || used >= max) {
        printf("cannot run: more than %d %s\n", max, what);
        cannot_run_exit();
    }
}

/* A scenario's 64-bit value as a C long (32 bits on some platforms): refused, never truncated. */
static long as_long(int64_t v, const char *field) {
    if ((int64_t)(long)v != v) {
        printf("cannot run: %s = %" PRId64 " does not fit in a long here\n", field, v);
        cannot_run_exit();
    }
    return (long)v;
}

/* Text as printable ASCII: a backslash doubled, any other byte as \xNN, so that data never prints as a new line. */
void print_text(struct text t) {
    for (size_t i = 0; i < t.n; i++) {
        unsigned char c = (unsigned char)t.s[i];
        if (c == '\\') printf("\\\\");
        else if (c >= 0x20 && c < 0x7f) putchar(c);
        else printf("\\x%02x", c);
    }
}

static const char *errname(int e) {
    static char other[32];
    if (e == EAGAIN) return "EAGAIN";
    if (e == EOPNOTSUPP) return "EOPNOTSUPP";
    for (int i = 0; errnames[i].name; i++)
        if (errnames[i].number == e) return errnames[i].name;
    snprintf(other, sizeof other, "errno%d", e);
    return other;
}

static struct known { const char *name; int fd; int live; int private_fd; dev_t dev; ino_t ino; int seekable; } known[MAX_NAMES];
static int nknown, closed_number, nonblocking, deviations;
static char owned[MAX_FDS];
static char tmpdir[256]; /* $TMPDIR/scm-repro-XXXXXX, made by start() and removed on every way out */
static pid_t tmpdir_owner; /* a forked child leaving with exit() must not remove its parent's directory */
static int table_files;
static long main_ids[3]; /* the scenario's process: expected ids name it, in a child too (which has its own pid) */
static int parent_step = -1; /* while a child runs the steps of step 2: 2 */
static const char *indent = "";

static void own(int fd) { if (fd >= 0 && fd < MAX_FDS) owned[fd] = 1; }

static struct known *lookup(const char *name) {
    for (int i = 0; i < nknown; i++)
        if (!strcmp(known[i].name, name)) return &known[i];
    return NULL;
}

static int fd_of(const char *name) {
    struct known *k = lookup(name);
    return k && k->live ? k->fd : closed_number;
}

static void die(const char *what) {
    printf("cannot run: %s: %s\n", what, strerror(errno));
    cannot_run_exit();
}

unsigned char *segs_bytes(const struct seg *s, int n, size_t *len) {
    size_t total = 0, off = 0;
    for (int i = 0; i < n; i++) total += s[i].n;
    unsigned char *out = malloc(total ? total : 1);
    if (!out) die("malloc");
    for (int i = 0; i < n; i++) {
        if (s[i].lit) memcpy(out + off, s[i].lit, s[i].n);
        else memset(out + off, s[i].rep, s[i].n);
        off += s[i].n;
    }
    *len = total;
    return out;
}

/* The open descriptors (the listing's own excluded); at RLIMIT_NOFILE, asked one by one with F_GETFD. */
static int open_fds(int *out) {
    int n = 0, tmp[MAX_LIST], m = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) && m < MAX_LIST)
            if (e->d_name[0] != '.') tmp[m++] = atoi(e->d_name);
        closedir(d);
    } else if (errno == EMFILE) {
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        while ((rlim_t)m < rl.rlim_cur && m < MAX_LIST) { tmp[m] = m; m++; }
    } else die("opendir /proc/self/fd");
    for (int i = 0; i < m; i++)
        if (fcntl(tmp[i], F_GETFD) >= 0) out[n++] = tmp[i];
    return n;
}

static int contains(const int *list, int n, int v) {
    for (int i = 0; i < n; i++) if (list[i] == v) return 1;
    return 0;
}

static void print_bytes(const unsigned char *p, size_t n) {
    printf("b'");
    for (size_t i = 0; i < n && i < 64; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'' && p[i] != '\\') putchar(p[i]);
        else printf("\\x%02x", p[i]);
    }
    printf(n > 64 ? "'... (%zu bytes)" : "'", n);
}

static void print_step(int step) {
    if (parent_step >= 0) printf("step %d.%d", parent_step, step);
    else printf("step %d", step);
}

/* What the next step does, from the scenario's words. */
void announce(int step, struct text words) {
    printf("%s-- ", indent);
    print_step(step);
    printf(": ");
    print_text(words);
    printf("\n");
}

/* What the finding is: its title and details. */
void about(const struct text *lines, int n) {
    for (int i = 0; i < n; i++) {
        printf(i ? "  " : "");
        print_text(lines[i]);
        printf("\n");
    }
}

static void differ_start(int step, const char *field) {
    deviations++;
    printf("%s  DEVIATION ", indent);
    print_step(step);
    printf(" %s: ", field);
}

/* -- set-up ------------------------------------------------------------------------------ */

static void reserve_closed_number(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    long soft = (long)rl.rlim_cur, floor = soft - 1 < 4000 ? soft - 1 : 4000; /* F_DUPFD at soft: EINVAL */
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    closed_number = fcntl(probe, F_DUPFD_CLOEXEC, (int)floor);
    close(probe);
    close(closed_number);
}

static void add_known(const char *name, int fd, int private_fd, int seekable) {
    struct stat st;
    room(nknown, MAX_NAMES, "fd table entries");
    if (fstat(fd, &st)) die("fstat");
    known[nknown++] = (struct known){name, fd, 1, private_fd, st.st_dev, st.st_ino, seekable};
}

static void pair_ends(int a, int b, int nb) {
    own(a);
    own(b);
    add_known("a", a, a, 0);
    add_known("b", b, b, 0);
    if (!nb) {
        struct timeval tv = {STEP_TIMEOUT_US / 1000000, STEP_TIMEOUT_US % 1000000};
        for (int i = 0; i < 2; i++) {
            setsockopt(i ? b : a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(i ? b : a, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
    }
}

void pair(int type, int nb, int reversed) {
    int sv[2];
    nonblocking = nb;
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC | (nb ? SOCK_NONBLOCK : 0), 0, sv)) die("socketpair");
    pair_ends(reversed ? sv[1] : sv[0], reversed ? sv[0] : sv[1], nb);
}

/* poll() for `events` for at most the step timeout: connect and accept are bounded */
static int wait_for(int fd, short events) {
    struct pollfd p = {fd, events, 0};
    return poll(&p, 1, STEP_TIMEOUT_US / 1000) == 1 && (p.revents & events);
}

/* bind `fd` to the name of pair end `role` (a path: writable by all, as the harness leaves it) */
static void pair_bind(int fd, int address, int role) {
    unsigned char *out = pair_names[role];
    size_t len;
    if (address == ADDR_AUTOBIND) {
        sa_family_t family = AF_UNIX;
        memcpy(out, &family, sizeof family);
        len = sizeof family;
    } else {
        const char *leaf = role ? "pair-b" : "pair-a";
        len = confined_name(address == ADDR_ABSTRACT ? NAME_ABSTRACT : NAME_PATH, (const unsigned char *)leaf, strlen(leaf), name_token, names_dir, out);
        if (!len) { printf("cannot run: a pair's name longer than sockaddr_un\n"); cannot_run_exit(); }
    }
    if (bind(fd, (struct sockaddr *)out, (socklen_t)len)) die("bind");
    if (address == ADDR_PATHNAME) {
        memcpy(pair_paths[role], out + sizeof(sa_family_t), len - sizeof(sa_family_t));
        if (chmod(pair_paths[role], 0777)) die("chmod");
    }
    socklen_t n = sizeof pair_names[role];
    if (getsockname(fd, (struct sockaddr *)out, &n)) die("getsockname");
    pair_namelens[role] = n;
}

/* the pair through socket/bind/listen/connect/accept, as the harness makes it (backend.py _api_pair) */
void api_pair(int type, int how, int address) {
    int a, b;
    nonblocking = 0;
    if (how == PAIR_ACCEPTED) {
        int listener = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        if (listener < 0) die("socket");
        pair_bind(listener, address, 1);
        if (listen(listener, 1)) die("listen");
        a = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (a < 0) die("socket");
        if (connect(a, (struct sockaddr *)pair_names[1], pair_namelens[1]) && !((errno == EAGAIN || errno == EINPROGRESS) && wait_for(a, POLLOUT))) die("connect");
        if (!wait_for(listener, POLLIN)) die("accept: no connection within the step timeout");
        b = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (b < 0) die("accept4");
        close(listener); /* only the two ends stay: nothing listens on the name now */
        if (fcntl(a, F_SETFL, fcntl(a, F_GETFL) & ~O_NONBLOCK)) die("fcntl");
    } else {
        a = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        b = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        if (a < 0 || b < 0) die("socket");
        pair_bind(a, address, 0);
        pair_bind(b, address, 1);
        if (how == PAIR_CONNECTED) {
            if (connect(a, (struct sockaddr *)pair_names[1], pair_namelens[1])) die("connect");
            if (connect(b, (struct sockaddr *)pair_names[0], pair_namelens[0])) die("connect");
        } else {
            unconnected = 1;
        }
    }
    pair_ends(a, b, 0);
}

static const char file_content[] =
    "scm-harness regular file\nscm-harness regular file\nscm-harness regular file\nscm-harness regular file\n";

void open_fd(const char *name, const char *kind, int cloexec, int nb, int append, int tracked) {
    int fd = -1, p[2], sv[2], seekable = 0;
    char path[sizeof tmpdir + 64];
    if (!strcmp(kind, "regular-file")) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, name);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || write(fd, file_content, sizeof file_content - 1) < 0) die("regular file");
        table_files++;
        seekable = 1;
    } else if (!strcmp(kind, "memfd")) {
        snprintf(path, sizeof path, "scm-harness-%s", name);
        fd = memfd_create(path, 0);
        if (fd < 0 || write(fd, file_content, sizeof file_content - 1) < 0) die("memfd");
        seekable = 1;
    } else if (!strcmp(kind, "pipe-read") || !strcmp(kind, "pipe-write")) {
        if (pipe(p)) die("pipe");
        int keep = kind[5] == 'r' ? 0 : 1;
        fd = p[keep];
        own(p[1 - keep]);
    } else if (!strcmp(kind, "socket")) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) die("socketpair");
        fd = sv[0];
        own(sv[1]);
    } else if (!strncmp(kind, "unix-", 5)) { /* a fresh AF_UNIX socket of the table: waits bounded like the pair's */
        int type = !strcmp(kind, "unix-stream") ? SOCK_STREAM : !strcmp(kind, "unix-dgram") ? SOCK_DGRAM : SOCK_SEQPACKET;
        fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        if (fd >= 0 && !nb) {
            struct timeval tv = {STEP_TIMEOUT_US / 1000000, STEP_TIMEOUT_US % 1000000};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
    } else if (!strcmp(kind, "dev-null")) {
        fd = open("/dev/null", O_RDWR);
    } else if (!strcmp(kind, "opath-dir")) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, name); /* one directory per entry, as the harness does */
        if (mkdir(path, 0700)) die("mkdir");
        fd = open(path, O_PATH | O_DIRECTORY);
    } else if (!strcmp(kind, "eventfd")) {
        fd = eventfd(0, 0);
    } else if (!strcmp(kind, "io-uring")) {
#ifdef __NR_io_uring_setup
        static unsigned char params[120]; /* struct io_uring_params, zeroed */
        memset(params, 0, sizeof params);
        fd = (int)syscall(__NR_io_uring_setup, 1, params);
#else
        printf("cannot run: no io_uring_setup on this architecture\n");
        cannot_run_exit();
#endif
    } else {
        printf("cannot run: unknown fd kind\n");
        cannot_run_exit();
    }
    if (fd < 0) die(kind);
    own(fd);
    int flags = fcntl(fd, F_GETFL) | (nb ? O_NONBLOCK : 0) | (append ? O_APPEND : 0);
    if (strcmp(kind, "opath-dir")) fcntl(fd, F_SETFL, flags);
    fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0);
    if (seekable) lseek(fd, 5, SEEK_SET);
    /* an untracked entry keeps no private duplicate: once closed, it is identified by inode only */
    int private_fd = tracked ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    own(private_fd);
    add_known(name, fd, private_fd, seekable);
}

/* -- expectations of the next step ------------------------------------------------------ */

#define MAX_CMSGS 64
#define MAX_EFDS 300
static struct {
    int nout, kinds[MAX_EXP]; long values[MAX_EXP]; const char *names[MAX_EXP];
    int sigpipe, sigurg;
    int has_data; unsigned char *data; size_t data_len;
    int nbufs, has_bufs; unsigned char *bufs[MAX_LIST]; size_t buf_lens[MAX_LIST];
    int has_flags; long flags; int has_controllen; long controllen; long stray; int cloexec;
    int ncmsgs; int levels[MAX_CMSGS], types[MAX_CMSGS]; size_t lengths[MAX_CMSGS];
    int has_creds[MAX_CMSGS]; long creds[MAX_CMSGS][3]; int creds_self[MAX_CMSGS][3];
    int nfds[MAX_CMSGS]; int fd_cmsg[MAX_EFDS]; const char *fd_names[MAX_EFDS], *fd_types[MAX_EFDS], *fd_flags[MAX_EFDS];
    int nefds;
    int has_range; long range_lo, range_hi;
    int has_events; long events;
    int has_peercred; long peercred[3]; int peercred_self[3];
    const char *address; /* recvmsg's msg_name, as describe_name() says it; NULL: not compared */
} want;

void expect_begin(void) {
    free(want.data);
    for (int i = 0; i < want.nbufs; i++) free(want.bufs[i]);
    memset(&want, 0, sizeof want);
}
void expect_returned(int64_t v) {
    room(want.nout, MAX_EXP, "allowed outcomes");
    want.kinds[want.nout] = OUT_RETURNED; want.values[want.nout++] = as_long(v, "expected return value");
}
void expect_failed(int e, const char *name) {
    room(want.nout, MAX_EXP, "allowed outcomes");
    want.kinds[want.nout] = OUT_FAILED; want.values[want.nout] = e; want.names[want.nout++] = name;
}
void expect_blocked(void) { room(want.nout, MAX_EXP, "allowed outcomes"); want.kinds[want.nout++] = OUT_BLOCKED; }
void expect_range(int64_t lo, int64_t hi) {
    want.has_range = 1; want.range_lo = as_long(lo, "expected range"); want.range_hi = as_long(hi, "expected range");
}
void expect_events(int64_t mask) { want.has_events = 1; want.events = as_long(mask, "expected revents"); }
void expect_peercred(int pid_self, int64_t pid, int uid_self, int64_t uid, int gid_self, int64_t gid) {
    want.has_peercred = 1;
    want.peercred_self[0] = pid_self; want.peercred[0] = as_long(pid, "expected SO_PEERCRED");
    want.peercred_self[1] = uid_self; want.peercred[1] = as_long(uid, "expected SO_PEERCRED");
    want.peercred_self[2] = gid_self; want.peercred[2] = as_long(gid, "expected SO_PEERCRED");
}
void expect_signal(int sig) { if (sig == SIGNAL_PIPE) want.sigpipe = 1; else want.sigurg = 1; }
void expect_data(const struct seg *s, int n) { want.has_data = 1; want.data = segs_bytes(s, n, &want.data_len); }
void expect_buffers_known(void) { want.has_bufs = 1; }
void expect_buffer(const struct seg *s, int n) {
    room(want.nbufs, MAX_LIST, "expected buffers");
    want.has_bufs = 1;
    want.bufs[want.nbufs] = segs_bytes(s, n, &want.buf_lens[want.nbufs]);
    want.nbufs++;
}
void expect_msg_flags(uint32_t f) { want.has_flags = 1; want.flags = (long)f; }
void expect_address(const char *address) { want.address = address; }
void expect_controllen(int64_t n) { want.has_controllen = 1; want.controllen = as_long(n, "expected msg_controllen"); }
void expect_stray(int64_t n) { want.stray = as_long(n, "expected stray bytes"); }
void expect_cloexec(int c) { want.cloexec = c; }
void expect_cmsg(int level, int type, int64_t length) {
    room(want.ncmsgs, MAX_CMSGS, "expected control messages");
    if (length < 0 || (uint64_t)length > SIZE_MAX) { printf("cannot run: expected cmsg_len out of range\n"); cannot_run_exit(); }
    want.levels[want.ncmsgs] = level; want.types[want.ncmsgs] = type; want.lengths[want.ncmsgs] = (size_t)length;
    want.ncmsgs++;
}
/* self: 1 = the process's own pid/uid/gid, resolved at run time */
void expect_creds(int pid_self, int64_t pid, int uid_self, int64_t uid, int gid_self, int64_t gid) {
    int i = want.ncmsgs - 1;
    room(i, MAX_CMSGS, "expected control messages");
    want.has_creds[i] = 1;
    want.creds_self[i][0] = pid_self; want.creds[i][0] = as_long(pid, "expected credentials");
    want.creds_self[i][1] = uid_self; want.creds[i][1] = as_long(uid, "expected credentials");
    want.creds_self[i][2] = gid_self; want.creds[i][2] = as_long(gid, "expected credentials");
}
void expect_fd(const char *name, const char *type, const char *flags) {
    room(want.nefds, MAX_EFDS, "expected fds");
    room(want.ncmsgs - 1, MAX_CMSGS, "expected control messages");
    int i = want.nefds++;
    want.fd_cmsg[i] = want.ncmsgs - 1; want.fd_names[i] = name; want.fd_types[i] = type; want.fd_flags[i] = flags;
    want.nfds[want.ncmsgs - 1]++;
}

/* -- observing ---------------------------------------------------------------------------- */

static void expected_ids(const int self[3], const long given[3], long out[3]) {
    for (int i = 0; i < 3; i++) out[i] = self[i] ? main_ids[i] : given[i];
}

struct outcome { int kind; long value; const char *name; /* a failure without an errno, or NULL */ };

static void print_outcome(int kind, long value, const char *name) {
    if (kind == OUT_RETURNED) printf("returned %ld", value);
    else if (kind == OUT_FAILED) printf("failed with %s", name ? name : errname((int)value));
    else printf("blocked");
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct outcome outcome(long value, int err, double started, int may_block) {
    if (value >= 0) return (struct outcome){OUT_RETURNED, value, NULL};
    if (err == EAGAIN && may_block && now() - started >= STEP_TIMEOUT_US / 1e6 * 0.9) return (struct outcome){OUT_BLOCKED, 0, NULL};
    return (struct outcome){OUT_FAILED, err, NULL};
}

void take_signals(int *pipe_seen, int *urg_seen) {
    sigset_t pending, one;
    struct timespec zero = {0, 0};
    int sigs[2] = {SIGPIPE, SIGURG};
    sigpending(&pending);
    for (int i = 0; i < 2; i++) {
        int seen = sigismember(&pending, sigs[i]);
        if (seen) {
            sigemptyset(&one);
            sigaddset(&one, sigs[i]);
            while (sigtimedwait(&one, NULL, &zero) > 0) {}
        }
        if (i == 0 && pipe_seen) *pipe_seen = seen;
        if (i == 1 && urg_seen) *urg_seen = seen;
    }
}

static void check_common(int step, const char *op, struct outcome got) {
    int sp = 0, su = 0, ok = 0;
    take_signals(&sp, &su);
    printf("%s", indent);
    print_step(step);
    printf(" %s: expected ", op);
    if (want.has_range) {
        printf("returned a value within %ld..%ld", want.range_lo, want.range_hi);
        ok = got.kind == OUT_RETURNED && want.range_lo <= got.value && got.value <= want.range_hi;
    } else for (int i = 0; i < want.nout; i++) {
        if (i) printf(" or ");
        print_outcome(want.kinds[i], want.values[i], want.names[i]);
        if (want.kinds[i] == got.kind && (got.kind == OUT_BLOCKED || want.values[i] == got.value)) ok = 1;
    }
    printf("; observed ");
    print_outcome(got.kind, got.value, got.name);
    printf("\n");
    if (!ok) {
        differ_start(step, "outcome");
        if (want.has_range) printf("a value within %ld..%ld", want.range_lo, want.range_hi);
        else print_outcome(want.kinds[0], want.values[0], want.names[0]);
        printf(" expected, observed ");
        print_outcome(got.kind, got.value, got.name);
        printf("\n");
    }
    if (sp != want.sigpipe || su != want.sigurg) {
        differ_start(step, "signals");
        printf("expected SIGPIPE=%d SIGURG=%d, observed SIGPIPE=%d SIGURG=%d\n", want.sigpipe, want.sigurg, sp, su);
    }
}

/* -- sendmsg ------------------------------------------------------------------------------ */

static struct iovec send_iov[MAX_LIST];
static unsigned char *send_parts[MAX_LIST];
static int send_niov;
unsigned char *send_name;
size_t send_namelen;
static unsigned char send_ctl[1 << 18];
static size_t send_ctl_len;

void send_begin(void) {
    for (int i = 0; i < send_niov; i++) free(send_parts[i]);
    free(send_name);
    send_name = NULL;
    send_namelen = 0;
    send_niov = 0;
    send_ctl_len = 0;
    memset(send_ctl, 0, sizeof send_ctl);
}

void iov_add(const struct seg *s, int n) {
    size_t len;
    room(send_niov, MAX_LIST, "iovecs");
    send_parts[send_niov] = segs_bytes(s, n, &len);
    send_iov[send_niov].iov_base = send_parts[send_niov];
    send_iov[send_niov].iov_len = len;
    send_niov++;
}

/* msg_name: a target of the harness's address confinement (see confined_name) */
void msg_name(int kind, const struct seg *s, int n) {
    size_t len;
    unsigned char *data = segs_bytes(s, n, &len);
    if (kind == NAME_UNCHANGED) {
        send_name = data;
        send_namelen = len;
        return;
    }
    send_name = malloc(sizeof(struct sockaddr_un));
    if (!send_name) die("malloc");
    send_namelen = confined_name(kind, data, len, name_token, names_dir, send_name);
    free(data);
    if (!send_namelen) { printf("cannot run: a confined msg_name longer than sockaddr_un\n"); cannot_run_exit(); }
}

void iov_empty(int count) {
    for (int i = 0; i < count; i++) iov_add(NOSEGS);
}

/* One control message: header (cmsg_len may be a lie) + data, cut or padded to `space` bytes. */
static void cmsg_put(int64_t length, int level, int type, const unsigned char *data, size_t n, int64_t space) {
    struct cmsghdr h;
    size_t sp = space < 0 ? CMSG_SPACE(n) : (size_t)space;
    unsigned char *body = calloc(HEADER + n, 1);
    if (!body) die("calloc");
    memset(&h, 0, sizeof h);
    h.cmsg_len = length < 0 ? CMSG_LEN(n) : (size_t)length;
    h.cmsg_level = level;
    h.cmsg_type = type;
    memcpy(body, &h, sizeof h);
    memcpy(body + HEADER, data, n);
    if (sp > sizeof send_ctl || send_ctl_len + sp > sizeof send_ctl) { printf("cannot run: control buffer too large\n"); cannot_run_exit(); }
    memcpy(send_ctl + send_ctl_len, body, sp < HEADER + n ? sp : HEADER + n);
    send_ctl_len += sp;
    free(body);
}

void cmsg_rights(int64_t length, const struct ref *refs, int n) {
    int fds[SCM_MAX_FD_PLUS];
    if (n > SCM_MAX_FD_PLUS) { printf("cannot run: more than %d fds in one SCM_RIGHTS\n", SCM_MAX_FD_PLUS); cannot_run_exit(); }
    for (int i = 0; i < n; i++)
        fds[i] = refs[i].kind == REF_NAMED ? fd_of(refs[i].name) : refs[i].kind == REF_RAWNUM ? refs[i].number : closed_number;
    cmsg_put(length, SOL_SOCKET, SCM_RIGHTS, (unsigned char *)fds, sizeof(int) * n, -1);
}

/* pid fits pid_t and uid/gid 32 bits (the generator checks): a negative id is its two's complement, as the harness packs it */
void cmsg_creds(int pid_self, int64_t pid, int uid_self, int64_t uid, int gid_self, int64_t gid) {
    struct ucred c;
    c.pid = pid_self ? getpid() : (pid_t)pid;
    c.uid = uid_self ? getuid() : (uid_t)uid;
    c.gid = gid_self ? getgid() : (gid_t)gid;
    cmsg_put(-1, SOL_SOCKET, SCM_CREDENTIALS, (unsigned char *)&c, sizeof c, -1);
}

void cmsg_raw(int level, int type, const struct seg *s, int n, int64_t length, int64_t space) {
    size_t len;
    unsigned char *data = segs_bytes(s, n, &len);
    cmsg_put(length, level, type, data, len, space);
    free(data);
}

static int may_block(int flags) { return !nonblocking && !(flags & MSG_DONTWAIT); }

void do_send(int step, const char *on, int flags, int64_t controllen, int control, int fault) {
    struct msghdr msg;
    static unsigned char ctl[1 << 18];
    if (controllen > (int64_t)sizeof ctl) { printf("cannot run: msg_controllen above %zu\n", sizeof ctl); cannot_run_exit(); }
    size_t cl = controllen < 0 ? send_ctl_len : (size_t)controllen;
    memset(ctl, 0, sizeof ctl);
    memcpy(ctl, send_ctl, send_ctl_len);
    if (fault == FAULT_IOV_BASE) {
        int first = 0;
        for (int i = 0; i < send_niov; i++) if (send_iov[i].iov_len) { first = i; break; }
        send_iov[first].iov_base = BAD_ADDRESS;
    }
    memset(&msg, 0, sizeof msg);
    msg.msg_name = send_name;
    msg.msg_namelen = send_namelen;
    if (!send_name && unconnected) { /* the other end's name */
        int other = strcmp(on, "b") ? 1 : 0;
        msg.msg_name = pair_names[other];
        msg.msg_namelen = pair_namelens[other];
    }
    msg.msg_iov = fault == FAULT_IOV ? BAD_ADDRESS : send_iov;
    msg.msg_iovlen = send_niov;
    msg.msg_control = control == PTR_BUFFER ? (void *)ctl : control == PTR_NULL ? NULL : BAD_ADDRESS;
    msg.msg_controllen = cl;
    double started = now();
    errno = 0;
    long r = sendmsg(fd_of(on), fault == FAULT_MSGHDR ? BAD_ADDRESS : &msg, flags);
    check_common(step, "sendmsg", outcome(r, errno, started, may_block(flags)));
}

/* -- recvmsg ------------------------------------------------------------------------------ */

static void file_type(int fd, mode_t mode, char *out, size_t size) {
    char link[256], path[64];
    if (S_ISREG(mode)) snprintf(out, size, "regular");
    else if (S_ISFIFO(mode)) snprintf(out, size, "fifo");
    else if (S_ISSOCK(mode)) snprintf(out, size, "socket");
    else if (S_ISCHR(mode)) snprintf(out, size, "char");
    else if (S_ISDIR(mode)) snprintf(out, size, "directory");
    else {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, link, sizeof link - 1);
        link[n < 0 ? 0 : n] = 0;
        if (!strncmp(link, "anon_inode:", 11)) {
            char *name = link + 11;
            if (*name == '[') name++;
            size_t len = strlen(name);
            if (len && name[len - 1] == ']') name[len - 1] = 0;
            snprintf(out, size, "%s", name);
        } else snprintf(out, size, "unknown");
    }
}

static void status_names(int fl, char *out, size_t size) {
    static const char *modes[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
    const char *mode = modes[fl & O_ACCMODE];
    out[0] = 0;
    /* alphabetical, like sorted() in the harness */
#define ADD(name) snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? " " : "", name)
    if (mode == modes[3]) ADD("O_ACCMODE");
    if (fl & O_APPEND) ADD("O_APPEND");
    if (fl & O_DIRECT) ADD("O_DIRECT");
    if (fl & O_NOATIME) ADD("O_NOATIME");
    if (fl & O_NONBLOCK) ADD("O_NONBLOCK");
    if (fl & O_PATH) ADD("O_PATH");
    if (mode == modes[0]) ADD("O_RDONLY");
    if (mode == modes[2]) ADD("O_RDWR");
    if (mode == modes[1]) ADD("O_WRONLY");
#undef ADD
}

static int kcmp_file(int a, int b) {
#ifdef SYS_kcmp
    long r = syscall(SYS_kcmp, (long)getpid(), (long)getpid(), 0L /* KCMP_FILE */, (long)a, (long)b);
    return r < 0 ? -1 : r == 0;
#else
    (void)a; (void)b;
    return -1;
#endif
}

static void check_fd(int step, int ci, int j, int fd, int e) {
    char where[96], ftype[64], flags[160];
    struct stat st;
    snprintf(where, sizeof where, "cmsgs[%d].fds[%d]", ci, j);
    int fdfl = fcntl(fd, F_GETFD), fl = fcntl(fd, F_GETFL);
    if (fdfl < 0 || fl < 0 || fstat(fd, &st)) {
        differ_start(step, where);
        printf("expected an open descriptor for '%s', observed %d is not open\n", want.fd_names[e], fd);
        return;
    }
    struct known *k = lookup(want.fd_names[e]);
    if (!k || k->dev != st.st_dev || k->ino != st.st_ino) {
        differ_start(step, where);
        printf("expected the file of '%s', observed another file\n", want.fd_names[e]);
        return;
    }
    int original = -1;
    if (k->private_fd >= 0 && (k->live || (strcmp(k->name, "a") && strcmp(k->name, "b")))) {
        int same = kcmp_file(fd, k->private_fd);
        if (same == 0) {
            differ_start(step, where);
            printf("expected the open file description of '%s' (kcmp), observed another one\n", want.fd_names[e]);
        } else if (same == 1) original = k->private_fd;
    }
    file_type(fd, st.st_mode, ftype, sizeof ftype);
    if (strcmp(ftype, want.fd_types[e])) {
        differ_start(step, where);
        printf(".type: expected %s, observed %s\n", want.fd_types[e], ftype);
    }
    status_names(fl, flags, sizeof flags);
    if (strcmp(flags, want.fd_flags[e])) {
        differ_start(step, where);
        printf(".status_flags: expected {%s}, observed {%s}\n", want.fd_flags[e], flags);
    }
    if (original >= 0 && k->seekable) {
        off_t start = lseek(original, 0, SEEK_CUR);
        lseek(fd, start + 7, SEEK_SET);
        int shared = lseek(original, 0, SEEK_CUR) == start + 7;
        lseek(fd, start, SEEK_SET);
        if (!shared) { differ_start(step, where); printf(".offset: expected shared with the sent fd, observed not shared\n"); }
    }
    if (original >= 0 && !(fl & O_PATH) && fcntl(fd, F_SETFL, fl ^ O_NONBLOCK) == 0) {
        int shared = ((fcntl(original, F_GETFL) ^ fl) & O_NONBLOCK) != 0;
        fcntl(fd, F_SETFL, fl);
        if (!shared) { differ_start(step, where); printf(".status_flags: expected shared with the sent fd (F_SETFL), observed not shared\n"); }
    }
    if (((fdfl & FD_CLOEXEC) != 0) != want.cloexec) {
        differ_start(step, where);
        printf(".FD_CLOEXEC: expected %d, observed %d\n", want.cloexec, (fdfl & FD_CLOEXEC) != 0);
    }
}

void do_recv(int step, const char *on, const size_t *sizes, int nbufs, size_t control, int flags, int pointer, int fault) {
    static struct iovec iov[MAX_LIST];
    unsigned char *bufs[MAX_LIST];
    unsigned char *ctl = malloc(control ? control : 1);
    struct msghdr msg;
    int before[MAX_LIST], nbefore, after[MAX_LIST], nafter;
    if (nbufs > MAX_LIST) { printf("cannot run: more than %d receive buffers\n", MAX_LIST); cannot_run_exit(); }
    if (!ctl) die("malloc");
    memset(ctl, FILL, control ? control : 1);
    for (int i = 0; i < nbufs; i++) {
        bufs[i] = malloc(sizes[i] ? sizes[i] : 1);
        if (!bufs[i]) die("malloc");
        memset(bufs[i], FILL, sizes[i]);
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = sizes[i];
    }
    if (fault == FAULT_IOV_BASE && nbufs) iov[0].iov_base = BAD_ADDRESS;
    unsigned char sender[128];
    memset(sender, FILL, sizeof sender);
    memset(&msg, 0, sizeof msg);
    msg.msg_name = sender;
    msg.msg_namelen = sizeof sender;
    msg.msg_iov = fault == FAULT_IOV ? BAD_ADDRESS : iov;
    msg.msg_iovlen = nbufs;
    msg.msg_control = pointer == PTR_BUFFER ? (void *)ctl : pointer == PTR_NULL ? NULL : BAD_ADDRESS;
    msg.msg_controllen = control;
    msg.msg_flags = FLAGS_SEED;
    nbefore = open_fds(before);
    double started = now();
    errno = 0;
    long r = recvmsg(fd_of(on), fault == FAULT_MSGHDR ? BAD_ADDRESS : &msg, flags);
    int err = errno;
    struct outcome got = outcome(r, err, started, may_block(flags));
    /* the control messages, walked the way CMSG_FIRSTHDR / CMSG_NXTHDR do */
    int nfound = 0, levels[MAX_CMSGS], types[MAX_CMSGS];
    size_t lens[MAX_CMSGS], offs[MAX_CMSGS], plens[MAX_CMSGS];
    long stray = -1;
    int received[MAX_CMSGS][SCM_MAX_FD_PLUS], nreceived[MAX_CMSGS];
    if (pointer == PTR_BUFFER) {
        char *covered = calloc(control ? control : 1, 1);
        if (r >= 0) {
            size_t valid = msg.msg_controllen < control ? msg.msg_controllen : control, off = 0;
            while (off + HEADER <= valid && nfound < MAX_CMSGS) {
                struct cmsghdr h;
                memcpy(&h, ctl + off, sizeof h);
                if (h.cmsg_len < HEADER) break;
                size_t end = off + h.cmsg_len, stop = end < valid ? end : valid;
                levels[nfound] = h.cmsg_level; types[nfound] = h.cmsg_type; lens[nfound] = h.cmsg_len;
                offs[nfound] = off; plens[nfound] = stop - off - HEADER;
                for (size_t i = off; i < off + HEADER + plens[nfound] && i < control; i++) covered[i] = 1;
                nfound++;
                off += CMSG_ALIGN(h.cmsg_len);
            }
        }
        stray = 0;
        for (size_t i = 0; i < control; i++) if (!covered[i] && ctl[i] != FILL) stray++;
        free(covered);
    }
    for (int c = 0; c < nfound; c++) {
        nreceived[c] = 0;
        if (levels[c] == SOL_SOCKET && types[c] == SCM_RIGHTS)
            for (size_t i = 0; i + 4 <= plens[c] && nreceived[c] < SCM_MAX_FD_PLUS; i += 4) {
                memcpy(&received[c][nreceived[c]], ctl + offs[c] + HEADER + i, 4);
                own(received[c][nreceived[c]]);
                nreceived[c]++;
            }
    }
    nafter = open_fds(after);
    check_common(step, "recvmsg", got);
    /* bytes */
    size_t total = 0;
    for (int i = 0; i < nbufs; i++) total += sizes[i];
    size_t got_len = r < 0 ? 0 : (size_t)r < total ? (size_t)r : total;
    unsigned char *flat = malloc(total ? total : 1);
    for (int i = 0, off = 0; i < nbufs; off += sizes[i], i++) memcpy(flat + off, bufs[i], sizes[i]);
    if (want.has_data && (got_len != want.data_len || memcmp(flat, want.data, got_len))) {
        differ_start(step, "data");
        printf("expected "); print_bytes(want.data, want.data_len); printf(", observed "); print_bytes(flat, got_len); printf("\n");
    }
    if (want.has_bufs) {
        if (want.nbufs != nbufs) { differ_start(step, "buffers"); printf("expected %d buffers, observed %d\n", want.nbufs, nbufs); }
        else for (int i = 0; i < nbufs; i++)
            if (want.buf_lens[i] != sizes[i] || memcmp(want.bufs[i], bufs[i], sizes[i])) {
                differ_start(step, "buffers");
                printf("[%d] expected ", i); print_bytes(want.bufs[i], want.buf_lens[i]);
                printf(", observed "); print_bytes(bufs[i], sizes[i]); printf("\n");
            }
    }
    unsigned int fl = (unsigned int)msg.msg_flags;
    if (want.has_flags && fl != (unsigned long)want.flags) {
        differ_start(step, "msg_flags");
        printf("expected %#lx, observed %#x\n", want.flags, fl);
    }
    if (r >= 0 && want.address) {
        const char *named = describe_name(sender, msg.msg_namelen < sizeof sender ? msg.msg_namelen : (socklen_t)sizeof sender);
        if (strcmp(named, want.address)) {
            differ_start(step, "msg_name");
            printf("expected %s, observed %s\n", want.address, named);
        }
    }
    if (want.has_controllen && (long)msg.msg_controllen != want.controllen) {
        differ_start(step, "msg_controllen");
        printf("expected %ld, observed %zu\n", want.controllen, (size_t)msg.msg_controllen);
    }
    if (stray >= 0 && stray != want.stray) {
        differ_start(step, "control buffer");
        printf("expected %ld stray bytes, observed %ld\n", want.stray, stray);
    }
    int same = nfound == want.ncmsgs;
    for (int c = 0; same && c < nfound; c++)
        same = levels[c] == want.levels[c] && types[c] == want.types[c] && lens[c] == want.lengths[c];
    if (!same) {
        differ_start(step, "cmsgs");
        printf("expected [");
        for (int c = 0; c < want.ncmsgs; c++) printf("%s%d/%d len %zu", c ? ", " : "", want.levels[c], want.types[c], want.lengths[c]);
        printf("], observed [");
        for (int c = 0; c < nfound; c++) printf("%s%d/%d len %zu", c ? ", " : "", levels[c], types[c], lens[c]);
        printf("]\n");
    } else {
        int e = 0;
        for (int c = 0; c < nfound; c++) {
            if (want.has_creds[c]) {
                long v[3];
                expected_ids(want.creds_self[c], want.creds[c], v);
                struct { int32_t pid; uint32_t uid, gid; } packed = {(int32_t)v[0], (uint32_t)v[1], (uint32_t)v[2]};
                size_t n = plens[c] < 12 ? plens[c] : 12;
                if (memcmp(ctl + offs[c] + HEADER, &packed, n)) {
                    differ_start(step, "credentials");
                    printf("expected %ld/%ld/%ld, observed ", v[0], v[1], v[2]);
                    print_bytes(ctl + offs[c] + HEADER, n);
                    printf("\n");
                }
            }
            if (nreceived[c] != want.nfds[c] && (nreceived[c] || want.nfds[c])) {
                differ_start(step, "fds");
                printf("cmsgs[%d]: expected %d fds, observed %d\n", c, want.nfds[c], nreceived[c]);
                e += want.nfds[c];
                continue;
            }
            for (int j = 0; j < nreceived[c]; j++, e++) check_fd(step, c, j, received[c][j], e);
        }
    }
    for (int i = 0; i < nafter; i++) {
        int reported = 0;
        for (int c = 0; c < nfound; c++) reported |= contains(received[c], nreceived[c], after[i]);
        if (!contains(before, nbefore, after[i]) && !reported) {
            own(after[i]);
            differ_start(step, "fd table");
            printf("expected only the fds reported in control messages, observed also %d\n", after[i]);
        }
    }
    for (int i = 0; i < nbufs; i++) free(bufs[i]);
    free(flat);
    free(ctl);
}

/* -- the other steps ---------------------------------------------------------------------- */

static void simple(int step, const char *op, long r) {
    check_common(step, op, outcome(r, errno, 0, 0));
}

void do_setsockopt(int step, const char *on, int option, int value) {
    errno = 0;
    simple(step, "setsockopt", setsockopt(fd_of(on), SOL_SOCKET, option, &value, sizeof value));
}

void do_setsockopt_timeval(int step, const char *on, int option, int64_t seconds, int64_t microseconds) {
    /* struct timeval (the _OLD options: native longs), any values that fit */
    struct { long s, us; } tv = {as_long(seconds, "timeval seconds"), as_long(microseconds, "timeval microseconds")};
    errno = 0;
    simple(step, "setsockopt", setsockopt(fd_of(on), SOL_SOCKET, option, &tv, sizeof tv));
}

void do_getsockopt(int step, const char *on, int option, int peercred) {
    int value[3] = {0, 0, 0};
    socklen_t size = peercred ? 12 : 4;
    errno = 0;
    int r = getsockopt(fd_of(on), SOL_SOCKET, option, value, &size);
    int err = errno;
    check_common(step, "getsockopt", r == 0 ? (struct outcome){OUT_RETURNED, peercred ? 0 : value[0], NULL} : (struct outcome){OUT_FAILED, err, NULL});
    if (r == 0 && want.has_peercred) {
        long v[3];
        expected_ids(want.peercred_self, want.peercred, v);
        if ((long)value[0] != v[0] || (unsigned)value[1] != (unsigned long)v[1] || (unsigned)value[2] != (unsigned long)v[2]) {
            differ_start(step, "SO_PEERCRED");
            printf("expected %ld/%ld/%ld, observed %d/%u/%u\n", v[0], v[1], v[2], value[0], (unsigned)value[1], (unsigned)value[2]);
        }
    }
}

void do_poll(int step, const char *on, int events, int timeout_ms) {
    struct pollfd p = {fd_of(on), (short)events, 0};
    errno = 0;
    int r = poll(&p, 1, timeout_ms);
    check_common(step, "poll", r >= 0 ? (struct outcome){OUT_RETURNED, r, NULL} : (struct outcome){OUT_FAILED, errno, NULL});
    /* every bit of revents, as the harness records it (a bit nobody asked for is a difference too) */
    if (want.has_events && (unsigned short)p.revents != want.events) {
        differ_start(step, "revents");
        printf("expected %#lx, observed %#x\n", want.events, (unsigned short)p.revents);
    }
}

void do_ioctl(int step, const char *on, unsigned long request) {
    int value = 0;
    errno = 0;
    int r = ioctl(fd_of(on), request, &value);
    check_common(step, "ioctl", r >= 0 ? (struct outcome){OUT_RETURNED, value, NULL} : (struct outcome){OUT_FAILED, errno, NULL});
}

void do_set_owner(int step, const char *on) {
    struct { int type; int pid; } owner = {0 /* F_OWNER_TID */, (int)syscall(SYS_gettid)};
    errno = 0;
    simple(step, "set_owner", fcntl(fd_of(on), 15 /* F_SETOWN_EX */, &owner));
}

void do_fill(int step, const char *on, size_t chunk, int64_t limit) {
    char *data = malloc(chunk);
    struct iovec iov = {data, chunk};
    struct msghdr msg;
    int64_t sent = 0;
    if (!data) die("malloc");
    memset(data, 'F', chunk);
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    while (sent < limit && sendmsg(fd_of(on), &msg, MSG_DONTWAIT) >= 0) sent++;
    free(data);
    check_common(step, "fill", (struct outcome){OUT_RETURNED, as_long(sent, "sends"), NULL});
}

void do_shutdown(int step, const char *on, int how) {
    errno = 0;
    simple(step, "shutdown", shutdown(fd_of(on), how));
}

void do_listen(int step, const char *on, int backlog) {
    errno = 0;
    simple(step, "listen", listen(fd_of(on), backlog));
}

void do_close(int step, const char *name) {
    struct known *k = lookup(name);
    if (!k || !k->live) { check_common(step, "close", (struct outcome){OUT_FAILED, EBADF, NULL}); return; }
    k->live = 0;
    if (k->fd < MAX_FDS) owned[k->fd] = 0;
    errno = 0;
    simple(step, "close", close(k->fd));
}

void do_reopen(int step, const char *on, int mode) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd_of(on));
    errno = 0;
    int fd = open(path, mode | O_CLOEXEC);
    if (fd >= 0) close(fd);
    check_common(step, "reopen", fd >= 0 ? (struct outcome){OUT_RETURNED, 0, NULL} : (struct outcome){OUT_FAILED, errno, NULL});
}

/* -- a child process --------------------------------------------------------------------- */

static pid_t child_pid;

/* The RLIMIT_NOFILE under which exactly `headroom` more descriptors can be opened. */
static long limit_with_headroom(long headroom) {
    long free_slots = 0;
    for (int fd = 0;; fd++)
        if (fcntl(fd, F_GETFD) < 0) {
            if (free_slots == headroom) return fd;
            free_slots++;
        }
}

static void child_cannot(const char *what) {
    printf("cannot run: the child cannot become its identity: %s: %s\n", what, strerror(errno));
    fflush(stdout);
    _exit(CHILD_CANNOT_RUN);
}

/* fork; 1 in the child, which has become the identity (as harness.execute.child.become does) and
   runs its steps on the inherited pair and fd table next; 0 in the parent (do_child waits). */
int child_begin(int step, int64_t uid_base, int64_t nofile, int64_t headroom) {
    struct rlimit rl;
    fflush(stdout); /* or the child would print the parent's buffered lines again */
    child_pid = fork();
    if (child_pid < 0) die("fork");
    if (child_pid) return 0;
    parent_step = step;
    indent = "    ";
    deviations = 0;
    if (nofile >= 0) {
        rl.rlim_cur = rl.rlim_max = (rlim_t)nofile;
        if (setrlimit(RLIMIT_NOFILE, &rl)) child_cannot("setrlimit");
    }
    if (headroom >= 0) {
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = (rlim_t)limit_with_headroom(as_long(headroom, "fd headroom"));
        if (setrlimit(RLIMIT_NOFILE, &rl)) child_cannot("setrlimit");
    }
    if (uid_base >= 0) {
        uid_t uid = (uid_t)(uid_base + getppid() % 10000); /* distinct for reproducers run at once */
        if (setgroups(0, NULL)) child_cannot("setgroups");
        if (setresgid(uid, uid, uid)) child_cannot("setresgid");
        if (setresuid(uid, uid, uid)) child_cannot("setresuid");
    }
    /* die with the parent (its hang alarm may end it first); set after setresuid, which clears it */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    return 1;
}

void child_end(void) {
    fflush(stdout);
    _exit(deviations ? 1 : 0);
}

/* The parent: waitpid with a deadline (a child that overstays is a hang, killed and reported). */
void do_child(int step) {
    static char killed[64];
    struct timespec ms = {0, 1000000};
    double deadline = now() + CHILD_TIMEOUT_S;
    int status = 0;
    pid_t done;
    while ((done = waitpid(child_pid, &status, WNOHANG)) == 0 && now() < deadline) nanosleep(&ms, NULL);
    if (done == 0) {
        printf("%s  the child did not finish within %d s (hang): killed\n", indent, CHILD_TIMEOUT_S);
        kill(child_pid, SIGKILL);
        waitpid(child_pid, &status, 0);
    }
    struct outcome got = {OUT_RETURNED, 0, NULL};
    if (WIFSIGNALED(status)) {
        snprintf(killed, sizeof killed, "killed by signal %d", WTERMSIG(status));
        got = (struct outcome){OUT_FAILED, 0, killed};
    }
    check_common(step, "child", got);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    if (code == CHILD_CANNOT_RUN) {
        printf("cannot run: the child could not run its steps (above)\n");
        cannot_run_exit();
    }
    if (code) {
        differ_start(step, "child's steps");
        printf("expected no deviation, observed %s\n", code == 1 ? "deviations (above)" : "another exit status");
    }
}

/* -- start and finish --------------------------------------------------------------------- */

static int baseline[MAX_LIST], nbaseline;

/* The private directory and the entries made in it (files, O_PATH directories), at exit(), at the end and on a hang. */
static void remove_tmpdir(void) {
    char path[sizeof tmpdir + 64];
    if (!tmpdir[0] || getpid() != tmpdir_owner) return;
    for (int i = 0; i < nknown; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, known[i].name);
        if (unlink(path)) rmdir(path);
    }
    rmdir(tmpdir);
    tmpdir[0] = 0;
    if (names_owner == getpid()) {
        for (int i = 0; i < 2; i++) if (pair_paths[i][0]) unlink(pair_paths[i]);
        rmdir(names_dir);
    }
}

static void on_alarm(int sig) {
    (void)sig;
    static const char text[] = "DEVIATION: the scenario did not complete in time (hang)\n" RESULT_LINE "reproduced\n";
    fflush(stdout);
    if (write(1, text, sizeof text - 1) < 0) {}
    remove_tmpdir();
    _exit(1);
}

static void start_names(void) {
    unsigned char bytes[16];
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes) die("getrandom");
    for (size_t i = 0; i < sizeof bytes; i++) snprintf(name_token + 2 * i, 3, "%02x", bytes[i]);
    if (!mkdtemp(names_dir)) die("mkdtemp");
    names_owner = getpid();
    if (chmod(names_dir, 0711)) die("chmod");
}

void start(void) {
    struct utsname u;
    sigset_t set;
    uname(&u);
    printf("kernel: %s %s (%s)\n", u.sysname, u.release, u.machine);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, on_alarm);
    alarm(HANG_SECONDS);
    nbaseline = open_fds(baseline);
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigaddset(&set, SIGURG);
    sigprocmask(SIG_BLOCK, &set, NULL);
    const char *base = getenv("TMPDIR");
    if (!base || !*base || strlen(base) > sizeof tmpdir - 32) base = "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/scm-repro-XXXXXX", base);
    if (!mkdtemp(tmpdir)) { tmpdir[0] = 0; die("mkdtemp"); }
    tmpdir_owner = getpid();
    atexit(remove_tmpdir); /* cannot_run_exit() and the return from main */
    start_names();
    reserve_closed_number();
    main_ids[0] = getpid();
    main_ids[1] = (long)getuid();
    main_ids[2] = (long)getgid();
}

int finish(void) {
    int now_open[MAX_LIST], n;
    for (int fd = 0; fd < MAX_FDS; fd++) if (owned[fd]) close(fd);
    remove_tmpdir();
    n = open_fds(now_open);
    for (int i = 0; i < n; i++)
        if (!contains(baseline, nbaseline, now_open[i])) {
            differ_start(-1, "fd table");
            printf("expected every descriptor closed after the scenario, observed %d still open\n", now_open[i]);
        }
    alarm(0);
    if (deviations) {
        printf("REPRODUCED: %d deviation(s) from the expected behaviour\n", deviations);
        printf(RESULT_LINE "reproduced\n");
        return 1;
    }
    printf("CONFORMS: every step behaved as expected\n");
    printf(RESULT_LINE "conforms\n");
    return 0;
}

