"""Per-sample randomness: sample i of template t under seed s depends on (s, t, params, i) alone.

``SampleRandom`` is a ``random.Random`` whose bits come from a counter-based generator
(SplitMix64 over a 64-bit key), so creating one per sample is cheap and bulk draws can be
vectorised with numpy while staying byte-identical on every machine.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class KeyMaker:
    """Derives the 64-bit key of each sample from a (seed, template, params) prefix."""

    def __init__(self, seed: int, template: str, params: dict[str, Any]) -> None:
        prefix = f"{seed}\x00{template}\x00{canonical_json(params)}\x00".encode()
        self._hasher = hashlib.blake2b(prefix, digest_size=8)

    def key(self, index: int) -> int:
        h = self._hasher.copy()
        h.update(index.to_bytes(8, "little", signed=False))
        return int.from_bytes(h.digest(), "little")


class SampleRandom(random.Random):
    """A ``random.Random`` over a SplitMix64 stream: cheap to create, same bits everywhere."""

    def __init__(self, key: int) -> None:
        super().__init__(key)

    def seed(self, a: Any = None, version: int = 2) -> None:  # noqa: D102 - random.Random API
        self._state = int(a or 0) & _MASK

    def next64(self) -> int:
        """The next 64 random bits."""
        self._state = (self._state + _GOLDEN) & _MASK
        return _mix(self._state)

    def getrandbits(self, k: int) -> int:  # noqa: D102 - random.Random API
        if k <= 64:
            return self.next64() >> (64 - k)
        words = (k + 63) // 64
        value = 0
        for _ in range(words):
            value = (value << 64) | self.next64()
        return value >> (words * 64 - k)

    def random(self) -> float:  # noqa: D102 - random.Random API
        return (self.next64() >> 11) * (1.0 / 9007199254740992.0)

    def integers(self, high: int, size: int) -> Any:
        """``size`` integers in ``[0, high)`` as a numpy array, drawn in one vectorised step."""
        np_ = _numpy_consts()
        start = self._state
        self._state = (start + _GOLDEN * size) & _MASK
        z = np_.steps(size) + np_.uint64(start)
        z ^= z >> np_.s30
        z *= np_.m1
        z ^= z >> np_.s27
        z *= np_.m2
        z ^= z >> np_.s31
        return z % np_.uint64(high)

    def getstate(self) -> Any:  # noqa: D102 - random.Random API
        return self._state

    def setstate(self, state: Any) -> None:  # noqa: D102 - random.Random API
        self._state = state


class _NumpyConsts:
    """numpy scalars and the step table for ``integers``, built once (numpy is imported lazily)."""

    def __init__(self) -> None:
        import numpy as np

        self.uint64 = np.uint64
        self.s30, self.s27, self.s31 = np.uint64(30), np.uint64(27), np.uint64(31)
        self.m1, self.m2 = np.uint64(_M1), np.uint64(_M2)
        self._arange, self._golden = np.arange, np.uint64(_GOLDEN)
        self._steps = self._arange(1, 4097, dtype=np.uint64) * self._golden

    def steps(self, size: int) -> Any:
        """``GOLDEN * [1..size]`` as uint64 (a view: do not modify)."""
        if size > len(self._steps):
            self._steps = self._arange(1, 2 * size + 1, dtype=self.uint64) * self._golden
        return self._steps[:size]


_CONSTS: _NumpyConsts | None = None


def _numpy_consts() -> _NumpyConsts:
    global _CONSTS
    if _CONSTS is None:
        _CONSTS = _NumpyConsts()
    return _CONSTS
