"""`UnicodeText`: a Gymnasium space for any text a language model can emit.

Gymnasium's `Text` is defined by a finite charset, and both membership and flattening go through it. A model's
output can hold any code point (emoji, CJK, even a lone surrogate such as "\\ud800" after a bad decode), so the env
used to build a `Text` whose charset is the whole BMP, which costs ~95 ms per space and still misses astral code
points. `UnicodeText` subclasses `Text`, so Gymnasium's vector helpers that dispatch on `Text` (batch_space,
concatenate, iterate, create_empty_array) keep working, but it holds only a one-character placeholder charset and
admits every `str` whose length lies in [min_length, max_length].

Importing this module also registers `UnicodeText` implementations of:
- `flatten`, `unflatten`, `flatten_space`: code points (int32) padded with 0x110000, instead of charset indexes;
- `create_shared_memory`, `read_from_shared_memory`, `write_to_shared_memory` (for
  `AsyncVectorEnv(shared_memory=True)`): each env's text is stored exactly as UTF-8 with errors="surrogatepass"
  behind a little-endian uint64 byte count. Gymnasium's own `Text` versions do not round-trip: their reader
  returns a tuple of strings decoded once, when the vector env is built, so every later observation would be the
  stale initial one. Ours returns a `SharedTextBatch`, a live read-only view that decodes on access; the vector
  env's default `copy=True` deep-copies it into a plain tuple of str.
"""

from __future__ import annotations

import multiprocessing as mp
import string
from collections.abc import Iterable, Iterator, Sequence
from ctypes import c_uint8
from types import ModuleType
from typing import Any, SupportsIndex, overload

import numpy as np
from gymnasium.spaces import Box, Text
from gymnasium.spaces.utils import flatten, flatten_space, is_space_dtype_shape_equiv, unflatten
from gymnasium.vector.utils.shared_memory import (
    create_shared_memory,
    read_from_shared_memory,
    write_to_shared_memory,
)
from numpy.typing import NDArray

__all__ = ["UnicodeText", "SharedTextBatch", "BYTES_PER_CHAR", "HEADER_BYTES", "FLAT_PAD"]

# UTF-8 takes at most 4 bytes per code point (a surrogate written with "surrogatepass" takes 3).
BYTES_PER_CHAR = 4
# Each env's slot in shared memory starts with its text's UTF-8 byte count, a little-endian uint64.
HEADER_BYTES = 8
# One past the last code point: pads flattened text up to max_length.
FLAT_PAD = 0x110000

# Text.__init__ wants a charset; a single character keeps construction cheap. Only Text's generic helpers see it
# (create_empty_array fills with it); membership, sampling and flattening never consult it.
_PLACEHOLDER_CHARSET = " "


def _code_points(chars: str) -> NDArray[np.int32]:
    return np.frombuffer(chars.encode("utf-32-le"), dtype="<u4").astype(np.int32)


def _code_range(first: int, last: int) -> NDArray[np.int32]:
    return np.arange(first, last + 1, dtype=np.int32)


# What sample() draws from, as (code points, weight): mostly English-like ASCII with some accented Latin, Greek,
# Cyrillic, CJK and emoji. No lone surrogates: contains() admits them, but a model's tokenizer never emits them and
# downstream code (JSON over HTTP, logging) often cannot encode them.
_POOLS: tuple[tuple[NDArray[np.int32], float], ...] = (
    (_code_points(string.ascii_lowercase), 0.50),
    (_code_points(string.ascii_uppercase), 0.06),
    (_code_points(string.digits), 0.05),
    (_code_points(" "), 0.16),
    (_code_points("\n"), 0.03),
    (_code_points(string.punctuation), 0.07),
    (_code_range(0x00C0, 0x00FF), 0.03),  # Latin-1 letters (and × ÷)
    (np.concatenate([_code_range(0x0391, 0x03A9), _code_range(0x03B1, 0x03C9), _code_range(0x0410, 0x044F)]), 0.02),
    (_code_range(0x4E00, 0x9FFF), 0.05),  # CJK unified ideographs
    (_code_range(0x1F300, 0x1F64F), 0.03),  # pictographs and emoticons
)
_POOL_TABLE: NDArray[np.int32] = np.concatenate([pool for pool, _ in _POOLS])
_POOL_SIZES: NDArray[np.int64] = np.array([len(pool) for pool, _ in _POOLS], dtype=np.int64)
_POOL_STARTS: NDArray[np.int64] = np.concatenate([[0], np.cumsum(_POOL_SIZES)[:-1]]).astype(np.int64)
_POOL_WEIGHTS: NDArray[np.float64] = np.array([weight for _, weight in _POOLS], dtype=np.float64)
_POOL_WEIGHTS /= _POOL_WEIGHTS.sum()


class UnicodeText(Text):
    """Any Python `str` (any code point, lone surrogates included) of length min_length..max_length.

    Lengths count code points (`len(x)`), as `Text` does. `min_length` defaults to 0: a model may emit nothing.
    `character_set`/`characters` hold a one-character placeholder for Text's generic helpers only.
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=_PLACEHOLDER_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        """True for every `str` whose length lies in [min_length, max_length]."""
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def sample(
        self,
        mask: tuple[int | None, NDArray[np.int8] | None] | None = None,
        probability: tuple[int | None, NDArray[np.float64] | None] | None = None,
    ) -> str:
        """Random text from the space's RNG: letters, spaces, newlines, punctuation, some non-ASCII and emoji.

        As with `Text`, `mask` or `probability` is a `(length, charlist_mask)` tuple; the length (if not None) is
        honoured, but there is no finite charset to mask, so `charlist_mask` must be None.
        """
        if mask is not None and probability is not None:
            raise ValueError(
                f"Only one of `mask` or `probability` can be provided, actual values: mask={mask}, "
                f"probability={probability}"
            )
        length: int | None = None
        for name, spec in (("mask", mask), ("probability", probability)):
            if spec is None:
                continue
            if not (isinstance(spec, tuple) and len(spec) == 2):
                raise ValueError(f"UnicodeText.sample expects `{name}` to be a (length, None) tuple, got {spec!r}")
            length, char_mask = spec
            if char_mask is not None:
                raise ValueError(
                    f"UnicodeText has no finite charset, so a per-character `{name}` is not supported; "
                    f"pass ({length!r}, None) to fix only the length"
                )
            if length is not None:
                if not np.issubdtype(type(length), np.integer):
                    raise ValueError(f"Expects the sample length to be an integer, actual type: {type(length)}")
                if not self.min_length <= length <= self.max_length:
                    raise ValueError(
                        f"Expects the sample length to be between {self.min_length} and {self.max_length}, "
                        f"actual length: {length}"
                    )
        rng = self.np_random
        if length is None:
            length = int(rng.integers(self.min_length, self.max_length + 1))
        pools = rng.choice(len(_POOL_SIZES), size=int(length), p=_POOL_WEIGHTS)
        offsets = (rng.random(int(length)) * _POOL_SIZES[pools]).astype(np.int64)
        chars = _POOL_TABLE[_POOL_STARTS[pools] + offsets]
        return chars.astype("<u4").tobytes().decode("utf-32-le")

    def __repr__(self) -> str:
        """Short: `UnicodeText(max_length=65536)`, with min_length only when it is not 0."""
        if self.min_length == 0:
            return f"UnicodeText(max_length={self.max_length})"
        return f"UnicodeText(min_length={self.min_length}, max_length={self.max_length})"

    def __eq__(self, other: object, /) -> bool:
        """Equal to a space of the same class with the same bounds."""
        return (
            isinstance(other, UnicodeText)
            and type(other) is type(self)
            and self.min_length == other.min_length
            and self.max_length == other.max_length
        )

    def __hash__(self) -> int:
        return hash((type(self), self.min_length, self.max_length))

    def to_jsonable(self, sample_n: Iterable[str]) -> list[str]:
        """Strings are JSON already (`json.dumps` escapes lone surrogates as \\udXXX and loads them back)."""
        return list(sample_n)

    def from_jsonable(self, sample_n: list[str]) -> list[str]:
        """Inverse of `to_jsonable`."""
        return list(sample_n)


# Flattening: Text's version maps characters to charset indexes, which a placeholder charset cannot do.


@flatten.register(UnicodeText)
def _flatten_unicode_text(space: UnicodeText, x: str) -> NDArray[np.int32]:
    if len(x) > space.max_length:
        raise ValueError(f"{space} cannot flatten a string of length {len(x)}")
    out = np.full((space.max_length,), FLAT_PAD, dtype=np.int32)
    out[: len(x)] = np.frombuffer(x.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    return out


@unflatten.register(UnicodeText)
def _unflatten_unicode_text(space: UnicodeText, x: NDArray[np.integer]) -> str:
    x = np.asarray(x)
    return x[(x >= 0) & (x < FLAT_PAD)].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


@flatten_space.register(UnicodeText)
def _flatten_space_unicode_text(space: UnicodeText) -> Box:
    return Box(low=0, high=FLAT_PAD, shape=(space.max_length,), dtype=np.int32)


@is_space_dtype_shape_equiv.register(UnicodeText)
def _is_space_unicode_text_dtype_shape_equiv(space_1: UnicodeText, space_2: Any) -> bool:
    return isinstance(space_2, UnicodeText) and space_1.max_length == space_2.max_length


# Shared memory: one byte array, n slots of HEADER_BYTES + BYTES_PER_CHAR * max_length bytes.


def _slot_bytes(space: UnicodeText) -> int:
    return HEADER_BYTES + BYTES_PER_CHAR * space.max_length


def _as_bytes(shared_memory: Any) -> NDArray[np.uint8]:
    raw = shared_memory.get_obj() if hasattr(shared_memory, "get_obj") else shared_memory
    return np.frombuffer(raw, dtype=np.uint8)


class SharedTextBatch(Sequence[str]):
    """A live, read-only view of n texts in shared memory: each access decodes the slot's current bytes.

    `copy.copy`, `copy.deepcopy` and pickling give a plain tuple of str (a snapshot); compares equal to any
    sequence of the same strings.
    """

    __slots__ = ("_data", "_n", "_slot")

    def __init__(self, shared_memory: Any, n: int, slot_bytes: int) -> None:
        self._data = _as_bytes(shared_memory)
        if self._data.size < n * slot_bytes:
            raise ValueError(f"shared memory holds {self._data.size} bytes, {n} slots need {n * slot_bytes}")
        self._n = n
        self._slot = slot_bytes

    def __len__(self) -> int:
        return self._n

    def _read(self, index: int) -> str:
        start = index * self._slot
        size = int(self._data[start : start + HEADER_BYTES].view("<u8")[0])
        if size > self._slot - HEADER_BYTES:
            raise ValueError(f"corrupt shared text slot {index}: byte count {size}")
        body = start + HEADER_BYTES
        return self._data[body : body + size].tobytes().decode("utf-8", "surrogatepass")

    @overload
    def __getitem__(self, index: SupportsIndex) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...

    def __getitem__(self, index: SupportsIndex | slice) -> str | tuple[str, ...]:
        if isinstance(index, slice):
            return tuple(self._read(i) for i in range(*index.indices(self._n)))
        i = index.__index__()
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"index {index} out of range for {self._n} texts")
        return self._read(i)

    def __iter__(self) -> Iterator[str]:
        return (self._read(i) for i in range(self._n))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (SharedTextBatch, tuple, list)):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # contents change under it

    def __repr__(self) -> str:
        return f"SharedTextBatch({tuple(self)!r})"

    def __copy__(self) -> tuple[str, ...]:
        return tuple(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __reduce__(self) -> tuple[type[tuple[str, ...]], tuple[tuple[str, ...]]]:
        return tuple, (tuple(self),)


@create_shared_memory.register(UnicodeText)
def _create_unicode_text_shared_memory(space: UnicodeText, n: int = 1, ctx: ModuleType = mp) -> Any:
    return ctx.Array(c_uint8, n * _slot_bytes(space))


@read_from_shared_memory.register(UnicodeText)
def _read_unicode_text_from_shared_memory(space: UnicodeText, shared_memory: Any, n: int = 1) -> SharedTextBatch:
    return SharedTextBatch(shared_memory, n, _slot_bytes(space))


@write_to_shared_memory.register(UnicodeText)
def _write_unicode_text_to_shared_memory(space: UnicodeText, index: int, value: str, shared_memory: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{space} can only write str to shared memory, got {type(value).__name__}")
    if len(value) > space.max_length:
        raise ValueError(f"{space} cannot hold a string of length {len(value)} in shared memory")
    encoded = value.encode("utf-8", "surrogatepass")
    slot = _slot_bytes(space)
    data = _as_bytes(shared_memory)
    start = index * slot
    data[start + HEADER_BYTES : start + HEADER_BYTES + len(encoded)] = np.frombuffer(encoded, dtype=np.uint8)
    data[start : start + HEADER_BYTES] = np.frombuffer(len(encoded).to_bytes(HEADER_BYTES, "little"), dtype=np.uint8)
