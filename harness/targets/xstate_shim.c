/*
 * LD_PRELOAD fix for user-mode Linux on hosts whose xstate is larger than the kernel expects.
 *
 * The host accepts PTRACE_SETREGSET(NT_X86_XSTATE) only with a buffer of its full xstate size
 * (11008 bytes on a CPU with AMX, measured on Linux 6.18.44); Debian's UML 6.1.176 passes 2696
 * bytes, gets EFAULT and dies right after "Run /init" ("userspace - ptrace set fp regs failed,
 * errno = 14").  This wrapper of ptrace() reads the tracee's whole xstate, lays the caller's
 * shorter buffer over its start (the legacy area and the xsave header included, so the components
 * the caller does not know stay as the header says), and sets the whole buffer.  GETREGSET with
 * a short buffer already works (the kernel truncates).  scm-harness compiles this file with cc
 * only when a boot shows that console line (harness/targets/uml.py).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif
#define LARGEST_XSTATE (1 << 16)

typedef long (*ptrace_function)(int, pid_t, void *, void *);

static ptrace_function real_ptrace(void) {
    static ptrace_function real;
    if (real == NULL)
        real = (ptrace_function)dlsym(RTLD_NEXT, "ptrace");
    return real;
}

static long set_whole_xstate(pid_t pid, struct iovec *caller) {
    ptrace_function call = real_ptrace();
    unsigned char *whole = malloc(LARGEST_XSTATE);
    if (whole == NULL) {
        errno = ENOMEM;
        return -1;
    }
    struct iovec full = {whole, LARGEST_XSTATE};
    long result = call(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &full);
    if (result == 0 && full.iov_len > caller->iov_len) {
        memcpy(whole, caller->iov_base, caller->iov_len);
        result = call(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &full);
    } else if (result == 0) {
        result = call(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, caller);
    }
    int saved = errno;
    free(whole);
    errno = saved;
    return result;
}

long ptrace(enum __ptrace_request request, ...) {
    va_list arguments;
    va_start(arguments, request);
    pid_t pid = va_arg(arguments, pid_t);
    void *address = va_arg(arguments, void *);
    void *data = va_arg(arguments, void *);
    va_end(arguments);
    if (request == PTRACE_SETREGSET && (long)address == NT_X86_XSTATE && data != NULL)
        return set_whole_xstate(pid, (struct iovec *)data);
    return real_ptrace()((int)request, pid, address, data);
}
