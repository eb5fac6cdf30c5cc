"""``scm-harness bench``: how fast the harness turns scenarios into verdicts, against a C loop.

The canonical scenario of ARCHITECTURE.md ("Speed"): sendmsg with 3 iovecs, 2 fds and
credentials; recvmsg; fstat of the received fds; close them.  It is timed three ways:

- ``c``: the same syscalls in a C loop (compiled with ``cc`` when one is installed): the floor;
- ``raw`` / ``pysock``: ``execute()`` of the scenario through each back end (pair creation, fd
  table, every inspection the checkers need);
- ``verdict``: oracle + execute + every checker, what a conformance case or a fuzz example costs.

Results are medians over ``--rounds`` rounds of ``--iterations`` iterations, with the peak RSS.
Nothing here is a test: numbers are reported, never asserted.
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.catalogue.build import FDS_SPACE, FILE, FILE2, SPACE, passcred, recv, scenario, send
from harness.catalogue.case import Variant
from harness.execute.run import execute
from harness.host import probe
from harness.model import PairKind, SockType
from harness.runner import RunConfig, run_variant

CANONICAL = scenario(
    PairKind(SockType.DGRAM, nonblocking=True),
    passcred(),
    send(iov=(b"abc", b"defgh", b"ij"), fds=["f", "g"], creds=True),
    recv(64, control=SPACE(12) + FDS_SPACE(2)),
    fds=(FILE, FILE2),
)

C_LOOP = r"""
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = atol(argv[1]);
    int sv[2], files[2];
    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv);
    int on = 1;
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    files[0] = dup(0); files[1] = dup(1);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        char d1[] = "abc", d2[] = "defgh", d3[] = "ij", in[64];
        struct iovec out_iov[3] = {{d1, 3}, {d2, 5}, {d3, 2}}, in_iov = {in, sizeof in};
        union { char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(2 * sizeof(int))]; struct cmsghdr align; } c;
        memset(&c, 0, sizeof c);
        struct msghdr m = {0};
        m.msg_iov = out_iov; m.msg_iovlen = 3; m.msg_control = c.buf; m.msg_controllen = sizeof c.buf;
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET; h->cmsg_type = SCM_CREDENTIALS; h->cmsg_len = CMSG_LEN(sizeof(struct ucred));
        struct ucred u = {getpid(), getuid(), getgid()};
        memcpy(CMSG_DATA(h), &u, sizeof u);
        h = CMSG_NXTHDR(&m, h);
        h->cmsg_level = SOL_SOCKET; h->cmsg_type = SCM_RIGHTS; h->cmsg_len = CMSG_LEN(2 * sizeof(int));
        memcpy(CMSG_DATA(h), files, sizeof files);
        if (sendmsg(sv[0], &m, 0) < 0) { perror("sendmsg"); return 1; }
        struct msghdr r = {0};
        union { char buf[256]; struct cmsghdr align; } rc;
        r.msg_iov = &in_iov; r.msg_iovlen = 1; r.msg_control = rc.buf; r.msg_controllen = sizeof rc.buf;
        if (recvmsg(sv[1], &r, 0) < 0) { perror("recvmsg"); return 1; }
        for (h = CMSG_FIRSTHDR(&r); h; h = CMSG_NXTHDR(&r, h))
            if (h->cmsg_type == SCM_RIGHTS) {
                int got[2]; struct stat st;
                memcpy(got, CMSG_DATA(h), sizeof got);
                for (int k = 0; k < 2; k++) { fstat(got[k], &st); close(got[k]); }
            }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.3f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n);
    return 0;
}
"""


@dataclass(frozen=True, slots=True)
class Measurement:
    name: str
    microseconds: float  # per scenario, median of the rounds
    per_second: float

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "us_per_scenario": round(self.microseconds, 2), "per_second": round(self.per_second)}


def _time(fn: Callable[[], object], iterations: int, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(iterations):
            fn()
        samples.append((time.perf_counter() - started) / iterations * 1e6)
    return statistics.median(samples)


def c_loop(iterations: int, rounds: int) -> float | None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    with tempfile.TemporaryDirectory(prefix="scm-harness-bench-") as tmp:
        source = Path(tmp) / "loop.c"
        source.write_text(C_LOOP)
        binary = Path(tmp) / "loop"
        subprocess.run([cc, "-O2", "-o", str(binary), str(source)], check=True, capture_output=True)
        samples = [
            float(
                subprocess.run([str(binary), str(iterations * 10)], check=True, capture_output=True, text=True).stdout
            )
            for _ in range(rounds)
        ]
    return statistics.median(samples)


def run_bench(iterations: int, rounds: int) -> dict[str, object]:
    platform = probe()
    variant = Variant("canonical", CANONICAL)
    config = RunConfig()
    measurements = []
    floor = c_loop(iterations, rounds)
    if floor is not None:
        measurements.append(Measurement("c", floor, 1e6 / floor))
    for backend in ("raw", "pysock"):
        us = _time(lambda b=backend: execute(CANONICAL, b), iterations, rounds)  # type: ignore[misc]
        measurements.append(Measurement(backend, us, 1e6 / us))
    us = _time(lambda: run_variant(variant, "raw", platform, config), iterations, rounds)
    measurements.append(Measurement("verdict", us, 1e6 / us))
    return {
        "platform": f"{platform.system} {platform.release} {platform.arch}",
        "iterations": iterations,
        "rounds": rounds,
        "measurements": [m.as_json() for m in measurements],
        "ratio_to_c": {m.name: round(m.microseconds / floor, 1) for m in measurements} if floor else {},
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def render(result: dict[str, object]) -> str:
    lines = [f"scm-harness bench on {result['platform']} ({result['rounds']} rounds x {result['iterations']})"]
    ratios = result.get("ratio_to_c") or {}
    assert isinstance(ratios, dict)
    for m in result["measurements"]:  # type: ignore[attr-defined]
        ratio = f"  {ratios[m['name']]}x C" if m["name"] in ratios else ""
        lines.append(f"  {m['name']:8} {m['us_per_scenario']:10.2f} us/scenario {m['per_second']:10} /s{ratio}")
    lines.append(f"  peak RSS {result['peak_rss_kib']} KiB")
    return "\n".join(lines)


def to_json(result: dict[str, object]) -> str:
    return json.dumps(result, indent=2, sort_keys=True) + "\n"
