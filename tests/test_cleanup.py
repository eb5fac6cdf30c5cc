"""Running the whole catalogue leaves no process, no descriptor and no socket behind.

Sockets that only in-flight messages hold have no descriptor, so they are counted the way the
kselftest scm_rights.c does: in a fresh network namespace, whose /proc/net/protocols "sockets"
column for UNIX counts only this namespace's AF_UNIX sockets.  The run happens in a forked child
that unshares CLONE_NEWNET (root only; without it the descriptor and process checks still run).
"""

from __future__ import annotations

import ctypes
import os
import pickle
import time

import pytest

from harness.catalogue import CASES
from harness.execute.inspect import open_fds
from harness.platform import Platform
from harness.report.schema import Verdict
from harness.runner import RunConfig, run_case

pytestmark = pytest.mark.kernel
CLONE_NEWNET = 0x40000000
PYSOCK_KINDS = ("/blocking/as-created", "/pathname/accepted", "/pathname/connected", "/pathname/unconnected")


def unix_sockets_in_this_netns() -> int:
    with open("/proc/net/protocols") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == "UNIX":
                return int(fields[2])
    raise AssertionError("no UNIX line in /proc/net/protocols")


def run_everything(platform: Platform, backends: tuple[str, ...]) -> dict[str, object]:
    netns = ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) == 0
    before_sockets = unix_sockets_in_this_netns() if netns else None
    before_fds = open_fds()
    bad = []
    for case in sorted(CASES.values(), key=lambda c: c.id):
        for kind in case.kinds():
            # the raw back end on every kind; pysock on the blocking socketpair() kinds and one socket-API kind
            # per type (what it does differently is how it calls, not what it opens)
            for backend in backends if kind.name.endswith(PYSOCK_KINDS) else ("raw",):
                result = run_case(case, kind, backend, platform, RunConfig())
                if result.verdict in (Verdict.FAIL, Verdict.ERROR):
                    bad.append(f"{case.id} {kind.name} {backend}: {result.verdict.value}")
    deadline = time.monotonic() + 5  # unix_gc() runs asynchronously
    after_sockets = unix_sockets_in_this_netns() if netns else None
    while netns and after_sockets != before_sockets and time.monotonic() < deadline:
        time.sleep(0.05)
        after_sockets = unix_sockets_in_this_netns()
    try:
        os.waitpid(-1, os.WNOHANG)
        children_left = True
    except ChildProcessError:
        children_left = False
    return {
        "netns": netns,
        "sockets": (before_sockets, after_sockets),
        "fds": sorted(open_fds() - before_fds),
        "children_left": children_left,
        "bad": bad,
    }


def test_the_whole_catalogue_leaves_nothing_behind(platform: Platform) -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        try:
            payload = pickle.dumps(run_everything(platform, ("raw", "pysock")))
        except BaseException as exc:
            payload = pickle.dumps({"crash": repr(exc)})
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as incoming:
        report = pickle.loads(incoming.read())
    os.waitpid(pid, 0)
    assert "crash" not in report, report
    assert report["bad"] == []
    assert report["fds"] == []
    assert report["children_left"] is False
    if platform.privileged:
        assert report["netns"] is True
        before, after = report["sockets"]
        assert after == before, f"AF_UNIX sockets in the namespace: {before} before, {after} after"
