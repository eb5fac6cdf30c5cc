"""harness.execute.asleep: a background party acts once the scenario's thread sleeps in its call,
and the unprivileged uid of each harness process (run -j workers) is its own."""

from __future__ import annotations

import os
import platform
import socket
import threading
import time

import pytest

from harness.execute import asleep, child
from harness.execute.asleep import Sleeper, asleep_in_call, wait_until_asleep
from harness.model import UNPRIVILEGED_UID
from harness.native.constants import linux

CALLS = linux(platform.machine()).waiting_syscalls


def blocked_receiver() -> tuple[threading.Thread, Sleeper, socket.socket]:
    """A thread blocked in recv on a socketpair (woken by a send on the returned end)."""
    a, b = socket.socketpair()
    b.settimeout(5)
    ids: list[int] = []

    def body() -> None:
        ids.append(threading.get_native_id())
        with a, b:
            b.recv(1)

    thread = threading.Thread(target=body)
    thread.start()
    while not ids:
        time.sleep(0.001)
    return thread, Sleeper(pid=os.getpid(), tid=ids[0]), a


@pytest.mark.skipif(not CALLS, reason="no table of waiting system calls for this architecture")
def test_a_thread_blocked_in_recv_is_seen_asleep_at_once() -> None:
    thread, sleeper, waker = blocked_receiver()
    started = time.monotonic()
    wait_until_asleep(sleeper, CALLS, limit=5.0)
    waited = time.monotonic() - started
    assert asleep_in_call(sleeper, CALLS) is True
    waker.send(b"x")
    thread.join(5)
    assert waited < 4.0  # well before the limit: the thread was seen asleep, not waited out


def test_a_running_thread_is_not_asleep() -> None:
    me = Sleeper(pid=os.getpid(), tid=threading.get_native_id())
    assert asleep_in_call(me, CALLS) is False  # this thread is running (it reads its own /proc entry)


def test_a_thread_asleep_in_another_call_is_not_taken_for_the_step() -> None:
    thread, sleeper, waker = blocked_receiver()
    wait_until_asleep(sleeper, CALLS, limit=5.0)
    assert asleep_in_call(sleeper, frozenset({-5})) is False  # asleep, but not in one of the calls given
    waker.send(b"x")
    thread.join(5)


def test_without_proc_or_a_table_the_whole_delay_is_waited() -> None:
    gone = Sleeper(pid=os.getpid(), tid=2**22 + 12345)  # no such thread: /proc cannot tell
    assert asleep_in_call(gone, CALLS) is None
    for sleeper, calls in ((gone, CALLS), (Sleeper(pid=os.getpid(), tid=threading.get_native_id()), frozenset())):
        started = time.monotonic()
        wait_until_asleep(sleeper, calls, limit=0.05)
        assert time.monotonic() - started >= 0.05


def test_each_worker_process_gets_an_unprivileged_uid_of_its_own() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker forked after import, as run -j forks them
        try:
            before = child.unprivileged_uid()
            child.become_harness_process()
            os.write(write_end, f"{before} {child.unprivileged_uid()}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    before, after = map(int, os.read(read_end, 64).split())
    os.close(read_end)
    os.waitpid(pid, 0)
    assert before == child.unprivileged_uid()  # inherited: the bug (workers shared one user's fd-in-flight count)
    assert after == UNPRIVILEGED_UID + pid % 10000 != child.unprivileged_uid()


@pytest.mark.skipif(not CALLS, reason="no table of waiting system calls for this architecture")
def test_where_proc_tells_a_party_watches_past_a_short_delay() -> None:
    """A thread kept off its waiting call for longer than delay_ms (a loaded machine) is still waited
    for: the party acts once it sleeps in the call, not when the short delay is over."""
    a, b = socket.socketpair()
    b.settimeout(5)
    ready = threading.Event()
    ids: list[int] = []

    def late_receiver() -> None:
        ids.append(threading.get_native_id())
        ready.set()
        time.sleep(0.3)  # asleep, but in no call of CALLS: not the step's wait
        b.recv(1)

    thread = threading.Thread(target=late_receiver, daemon=True)
    thread.start()
    ready.wait(5)
    sleeper = Sleeper(pid=os.getpid(), tid=ids[0])
    assert 0.05 < 0.3 < asleep.WATCH_LIMIT
    wait_until_asleep(sleeper, CALLS, limit=0.05)
    assert asleep_in_call(sleeper, CALLS) is True  # watched past the 50 ms delay until the receive slept
    a.send(b"x")
    thread.join(5)
    a.close()
    b.close()
