"""A socket's receive queue as the oracle keeps it: a list of Skb compared by identity."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.oracle.state import Model, Skb


def index_of(queue: list[Skb], skb: Skb) -> int:
    for i, item in enumerate(queue):
        if item is skb:
            return i
    raise AssertionError("skb not in its queue")


def next_skb(queue: list[Skb], skb: Skb) -> Skb | None:
    """skb_peeknext_skb()."""
    i = index_of(queue, skb) + 1
    return queue[i] if i < len(queue) else None


def unlink(m: Model, queue: list[Skb], skb: Skb) -> None:
    """__skb_unlink() and free: files still attached to the skb are released with it."""
    queue.pop(index_of(queue, skb))
    if skb.fds and m.proc.is_main:
        m.settle()
