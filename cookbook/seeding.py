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
        steps = _steps(size)
        start = self._state
        self._state = (start + _GOLDEN * size) & _MASK
        z = steps + _np_const(start)
        z ^= z >> _np_const(30)
        z *= _np_const(_M1)
        z ^= z >> _np_const(27)
        z *= _np_const(_M2)
        z ^= z >> _np_const(31)
        return z % _np_const(high)

    def getstate(self) -> Any:  # noqa: D102 - random.Random API
        return self._state

    def setstate(self, state: Any) -> None:  # noqa: D102 - random.Random API
        self._state = state


_STEPS: Any = None


_CONSTS: dict[int, Any] = {}


def _np_const(value: int) -> Any:
    """``numpy.uint64(value)``, cached (creating numpy scalars is slow on the hot path)."""
    const = _CONSTS.get(value)
    if const is None:
        import numpy as np

        const = np.uint64(value)
        if len(_CONSTS) < 1024:
            _CONSTS[value] = const
    return const


def _steps(size: int) -> Any:
    """``GOLDEN * [1..size]`` as uint64, cached and grown on demand."""
    global _STEPS
    if _STEPS is None or len(_STEPS) < size:
        import numpy as np

        n = max(size, 4096)
        _STEPS = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(_GOLDEN)
    return _STEPS[:size]
