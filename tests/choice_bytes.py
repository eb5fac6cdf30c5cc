"""A :class:`~harness.generate.choices.Choices` that makes its choices at random (or as a test steers
them) and writes down the bytes :class:`~harness.generate.choices.ByteReader` reads back as the same
choices: an encoder for the atheris byte format, for tests."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

# steer(method, arguments) -> the value to choose, or None for a random one
Steer = Callable[[str, tuple[object, ...]], object]


class Recorder:
    def __init__(self, rng: random.Random, steer: Steer | None = None) -> None:
        self.rng = rng
        self.steer = steer
        self.out = bytearray()

    def _steered(self, method: str, args: tuple[object, ...]) -> object:
        return None if self.steer is None else self.steer(method, args)

    def _write_integer(self, low: int, high: int, value: int) -> None:
        span = high - low
        if span == 0:
            return
        if span < 256 and low >= 0:
            self.out.append(value - low)
            return
        size = (span.bit_length() + 7) // 8
        raw = value & ((1 << 8 * size) - 1) if low < 0 else value - low
        self.out += raw.to_bytes(size, "little")

    def integer(self, low: int, high: int) -> int:
        steered = self._steered("integer", (low, high))
        value = self.rng.randint(low, high) if steered is None else int(steered)  # type: ignore[call-overload]
        self._write_integer(low, high, value)
        return value

    def pick(self, options: Sequence[T]) -> T:
        steered = self._steered("pick", (options,))
        index = self.rng.randrange(len(options)) if steered is None else int(steered)  # type: ignore[call-overload]
        if len(options) > 1:
            if len(options) <= 256:
                self.out.append(index)
            else:
                self._write_integer(0, len(options) - 1, index)
        return options[index]

    def chance(self, hits: int, total: int) -> bool:
        steered = self._steered("chance", (hits, total))
        value = self.rng.randrange(total) >= total - hits if steered is None else bool(steered)
        self.out.append(total - 1 if value else 0)
        return value

    def binary(self, min_size: int, max_size: int) -> bytes:
        size = self.integer(min_size, max_size)
        data = self.rng.randbytes(size)
        self.out += data
        return data
