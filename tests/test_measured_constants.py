"""Constants the oracle took from measurement still hold on the kernel running the tests."""

from __future__ import annotations

import fcntl
import socket
import struct
import termios

import pytest

from harness.oracle.state import truesize_ceiling

SIZES = (1, 100, 190, 1000, 1024, 1730, 2048, 3777, 4096, 8192, 16384, 16385, 65536)


@pytest.mark.parametrize("sock_type", [socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET])
def test_skb_truesize_lies_between_the_bytes_and_the_ceiling(sock_type: int) -> None:
    a, b = socket.socketpair(socket.AF_UNIX, sock_type)
    with a, b:
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        for size in SIZES:
            a.send(b"x" * size)
            # SIOCOUTQ on AF_UNIX is sk_wmem_alloc: the truesize of what is in flight
            (in_flight,) = struct.unpack("i", fcntl.ioctl(a, termios.TIOCOUTQ, b"\0" * 4))
            skbs = -(-size // 32768) if sock_type == socket.SOCK_STREAM else 1  # stream skbs carry <= 32 KiB
            assert size < in_flight <= truesize_ceiling(size) * skbs, (size, in_flight)
            b.setblocking(False)
            while True:
                try:
                    b.recv(1 << 17)
                except BlockingIOError:
                    break
