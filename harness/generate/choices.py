"""The choice interface the scenario grammar is written against, and its byte adapter.

:mod:`harness.generate.grammar` makes every decision through a :class:`Choices`: one of a
sequence, an integer in a range, a byte string, a biased coin.  Two adapters drive it:

- :class:`ByteReader` (here, stdlib-only): libFuzzer's bytes for the atheris engine
  (:func:`harness.generate.decode.decode`);
- ``DrawChoices`` in :mod:`harness.generate.strategies`: Hypothesis' ``draw``, one cached
  strategy per shape of choice, so that Hypothesis shrinks every choice towards its simplest
  value (index 0 of a pick, ``False`` of a chance, the short end of a byte string).

The grammar orders its tables simplest first and weights them by repetition (:func:`table`),
so both adapters see the same weights.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Protocol, TypeVar

__all__ = ["ByteReader", "Choices", "Exhausted", "table"]

T = TypeVar("T")


class Choices(Protocol):
    """Where the grammar's decisions come from."""

    def integer(self, low: int, high: int) -> int:
        """An int in ``low..high`` (both included; ``low <= high``)."""
        ...

    def pick(self, options: Sequence[T]) -> T:
        """One element of a non-empty ``options``; repeat an element to make it more likely."""
        ...

    def chance(self, hits: int, total: int) -> bool:
        """True about ``hits`` times in ``total``."""
        ...

    def binary(self, min_size: int, max_size: int) -> bytes:
        """A byte string of ``min_size..max_size`` bytes."""
        ...


def table(*entries: tuple[T, int]) -> tuple[T, ...]:
    """A pick table: each value repeated as often as its weight (the first value is the simplest)."""
    return tuple(value for value, weight in entries for _ in range(weight))


class Exhausted(Exception):
    """The input ended before the value being decoded did."""


class ByteReader:
    """:class:`Choices` over a byte string, like libFuzzer's FuzzedDataProvider.

    Every number takes the fewest whole bytes that cover its range, little-endian, modulo the
    range size; a range that includes negative numbers reads those bytes as a signed number
    first (so the dictionary's ``ff ff ff ff`` is -1 in an int32 range).  A pick of at most 256
    options is one byte, a chance one byte, a byte string its length then its bytes.

    Unlike ``FuzzedDataProvider`` it never invents defaults: running out of data raises
    :class:`Exhausted`, so a truncated input is rejected instead of decoding to another value.
    """

    __slots__ = ("_data", "_offset")

    def __init__(self, data: builtins.bytes) -> None:
        self._data = builtins.bytes(data)
        self._offset = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._offset

    @property
    def consumed(self) -> int:
        return self._offset

    def _byte(self) -> int:
        offset = self._offset
        if offset >= len(self._data):
            raise Exhausted(f"wanted 1 byte at offset {offset}, none left")
        self._offset = offset + 1
        return self._data[offset]

    def integer(self, low: int, high: int) -> int:
        if low > high:
            raise ValueError(f"empty range {low}..{high}")
        span = high - low
        if span == 0:
            return low
        if span < 256 and low >= 0:
            return low + self._byte() % (span + 1)
        size = (span.bit_length() + 7) // 8
        raw = int.from_bytes(self.bytes(size), "little")
        if low < 0:
            signed = raw - (1 << 8 * size) if raw >> (8 * size - 1) else raw
            if low <= signed <= high:
                return signed
        return low + raw % (span + 1)

    def pick(self, options: Sequence[T]) -> T:
        count = len(options)
        if count == 1:
            return options[0]
        if count <= 256:
            return options[self._byte() % count]
        return options[self.integer(0, count - 1)]

    def chance(self, hits: int, total: int) -> bool:
        return self._byte() % total >= total - hits

    def binary(self, min_size: int, max_size: int) -> builtins.bytes:
        return self.bytes(self.integer(min_size, max_size))

    def bytes(self, count: int) -> builtins.bytes:
        """Exactly ``count`` bytes."""
        if count < 0:
            raise ValueError(f"count={count} must not be negative")
        end = self._offset + count
        if end > len(self._data):
            raise Exhausted(f"wanted {count} bytes at offset {self._offset}, {self.remaining} left")
        out = self._data[self._offset : end]
        self._offset = end
        return out
