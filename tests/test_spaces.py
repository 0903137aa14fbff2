"""UnicodeText: membership, sampling, cost, pickling, flattening and exact round trips through vector envs."""

from __future__ import annotations

import copy
import json
import multiprocessing as mp
import pickle
import statistics
import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.spaces import Text
from gymnasium.spaces.utils import flatten, flatten_space, unflatten
from gymnasium.vector.utils import (
    batch_space,
    concatenate,
    create_empty_array,
    create_shared_memory,
    iterate,
    read_from_shared_memory,
    write_to_shared_memory,
)

from envs.spaces import UnicodeText

MAX = 128

IN_SPACE = [
    'get_weather_current(city="Paris")',
    'Thought: I need the weather.\nAction: get_weather\nAction Input: {"city": "Paris"}\n',
    '<tool_call>{"name": "f"}</tool_call>',
    "😀 done",
    "\ud800",
    "",
    "x" * MAX,
    "😀" * MAX,  # max_length counts code points, not bytes
    "北京天气\n\t\r\x00\u200d\U0010ffff",
]
NOT_IN_SPACE = ["x" * (MAX + 1), "😀" * (MAX + 1), b"abc", None, 5, ["a"], np.array(["a"])]


@pytest.mark.parametrize("text", IN_SPACE)
def test_contains_any_text_within_bounds(text: str) -> None:
    assert UnicodeText(MAX).contains(text)
    assert text in UnicodeText(MAX)


@pytest.mark.parametrize("value", NOT_IN_SPACE, ids=repr)
def test_rejects_non_str_and_too_long(value: object) -> None:
    assert not UnicodeText(MAX).contains(value)


def test_min_length_is_enforced() -> None:
    space = UnicodeText(MAX, min_length=2)
    assert not space.contains("")
    assert not space.contains("😀")
    assert space.contains("😀\ud800")


def test_invalid_bounds_raise_like_text() -> None:
    with pytest.raises(ValueError):
        UnicodeText(3, min_length=4)
    with pytest.raises(ValueError):
        UnicodeText(3, min_length=-1)
    with pytest.raises(TypeError):
        UnicodeText(3.5)  # type: ignore[arg-type]


def test_is_a_text_space_with_a_tiny_charset() -> None:
    space = UnicodeText(65536)
    assert isinstance(space, Text)
    assert len(space.character_set) <= 1


def test_sample_in_space_and_reproducible() -> None:
    a, b = UnicodeText(500, seed=7), UnicodeText(500, seed=7)
    samples_a = [a.sample() for _ in range(50)]
    assert samples_a == [b.sample() for _ in range(50)]
    assert all(a.contains(s) for s in samples_a)
    assert len(set(samples_a)) > 40  # not a constant
    c = UnicodeText(500)
    c.seed(7)
    assert [c.sample() for _ in range(50)] == samples_a
    assert UnicodeText(500, seed=8).sample() != samples_a[0]


def test_sample_looks_like_text() -> None:
    text = "".join(UnicodeText(4000, min_length=4000, seed=0).sample() for _ in range(5))
    ascii_letters = sum(c.isascii() and c.isalpha() for c in text)
    assert ascii_letters / len(text) > 0.4
    assert " " in text and "\n" in text
    assert any(not c.isascii() for c in text)
    assert any(ord(c) > 0xFFFF for c in text)  # astral, e.g. emoji
    text.encode("utf-8")  # samples stay encodable: no lone surrogates


def test_sample_lengths_within_bounds() -> None:
    space = UnicodeText(10, min_length=3, seed=1)
    lengths = {len(space.sample()) for _ in range(300)}
    assert lengths == set(range(3, 11))
    assert UnicodeText(0, seed=0).sample() == ""


def test_sample_mask_length_honoured_and_charset_mask_rejected() -> None:
    space = UnicodeText(100, seed=3)
    assert len(space.sample(mask=(17, None))) == 17
    assert len(space.sample(probability=(0, None))) == 0
    assert 0 <= len(space.sample(mask=(None, None))) <= 100
    with pytest.raises(ValueError, match="charset"):
        space.sample(mask=(5, np.ones(1, dtype=np.int8)))
    with pytest.raises(ValueError, match="between"):
        space.sample(mask=(101, None))
    with pytest.raises(ValueError):
        space.sample(mask=(5, None), probability=(5, None))
    with pytest.raises(ValueError):
        space.sample(mask=5)  # type: ignore[arg-type]


def test_repr_short() -> None:
    assert repr(UnicodeText(65536)) == "UnicodeText(max_length=65536)"
    assert len(repr(UnicodeText(65536, min_length=1))) < 80
    assert len(repr(UnicodeText(2**40))) < 80


def test_eq_by_class_and_bounds() -> None:
    assert UnicodeText(10) == UnicodeText(10, seed=4)
    assert UnicodeText(10) != UnicodeText(11)
    assert UnicodeText(10) != UnicodeText(10, min_length=1)
    text = Text(10, min_length=0, charset=" ")
    assert UnicodeText(10) != text and text != UnicodeText(10)


def test_construction_is_cheap() -> None:
    times = []
    for _ in range(1000):
        start = time.perf_counter()
        UnicodeText(65536, min_length=0)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 1e-3


def test_pickle_round_trip_keeps_bounds_and_rng() -> None:
    space = UnicodeText(300, min_length=2, seed=11)
    space.sample()
    clone = pickle.loads(pickle.dumps(space))
    assert clone == space and type(clone) is UnicodeText
    assert clone.sample() == space.sample()
    assert clone.contains("\ud800x") and not clone.contains("x")


def test_jsonable_round_trip() -> None:
    space = UnicodeText(MAX)
    texts = list(IN_SPACE)
    restored = space.from_jsonable(json.loads(json.dumps(space.to_jsonable(texts))))
    assert restored == texts


def test_flatten_round_trip_code_points() -> None:
    space = UnicodeText(MAX)
    for text in IN_SPACE:
        flat = flatten(space, text)
        assert flat.shape == (MAX,) and flat.dtype == np.int32
        assert flatten_space(space).contains(flat)
        assert unflatten(space, flat) == text
    assert list(flatten(space, "a😀")[:3]) == [ord("a"), ord("😀"), 0x110000]


def test_generic_vector_utilities() -> None:
    space = UnicodeText(MAX, seed=2)
    batched = batch_space(space, 3)
    items = ["😀", "\ud800", "abc"]
    out = concatenate(space, items, create_empty_array(space, 3))
    assert out == tuple(items)
    assert batched.contains(out)
    assert list(iterate(batched, out)) == items
    assert batched.contains(batched.sample())
    assert all(space.contains(t) for t in create_empty_array(UnicodeText(MAX, min_length=3), 2))


def test_shared_memory_helpers_round_trip_exactly() -> None:
    space = UnicodeText(8)
    memory = create_shared_memory(space, n=3, ctx=mp.get_context())
    view = read_from_shared_memory(space, memory, n=3)
    assert tuple(view) == ("", "", "")
    write_to_shared_memory(space, 0, "😀" * 8, memory)  # 32 UTF-8 bytes: the slot's full capacity
    write_to_shared_memory(space, 1, "\ud800\udfff\ud800", memory)
    write_to_shared_memory(space, 2, "abcdefgh", memory)
    assert view == ("😀" * 8, "\ud800\udfff\ud800", "abcdefgh")  # the view made before the writes sees them
    write_to_shared_memory(space, 2, "z", memory)  # a shorter text leaves no tail behind
    assert view[2] == "z" and view[-1] == "z" and view[1:] == ("\ud800\udfff\ud800", "z")
    snapshot = copy.deepcopy(view)
    assert type(snapshot) is tuple and pickle.loads(pickle.dumps(view)) == snapshot
    write_to_shared_memory(space, 2, "", memory)
    assert snapshot[2] == "z" and view[2] == ""
    with pytest.raises(ValueError):
        write_to_shared_memory(space, 0, "x" * 9, memory)
    with pytest.raises(TypeError):
        write_to_shared_memory(space, 0, b"x", memory)  # type: ignore[arg-type]


ACTION_MAX = 1024
needs_fork = pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs the fork start method")
SUFFIX = " 😀\ud800✅"
RESET_OBS = "ready 👋\udfff"


class EchoEnv(gym.Env):
    """Observes its own action followed by emoji and a lone surrogate; `info["obs"]` carries what it produced."""

    def __init__(self) -> None:
        self.action_space = UnicodeText(ACTION_MAX)
        self.observation_space = UnicodeText(ACTION_MAX + len(SUFFIX))

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        return RESET_OBS, {"obs": RESET_OBS}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        assert self.action_space.contains(action), repr(action)[:80]
        obs = action + SUFFIX
        return obs, float(len(action)), False, False, {"obs": obs}


def _mixed_actions(vec: gym.vector.VectorEnv, step: int) -> tuple[str, ...]:
    sources = [
        lambda i: vec.single_action_space.sample(),
        lambda i: "😀" * ACTION_MAX,  # fills the slot: 4 bytes per code point
        lambda i: "\ud800x",
        lambda i: "x" * ACTION_MAX,
        lambda i: "",
        lambda i: f'<tool_call>{{"name": "f", "arguments": {{"step": {i}}}}}</tool_call>\n北京',
    ]
    return tuple(sources[(step + k) % len(sources)](step) for k in range(vec.num_envs))


def _check_echo(vec: gym.vector.VectorEnv, steps: int) -> None:
    single_obs_space = vec.single_observation_space
    vec.single_action_space.seed(1)
    obs, info = vec.reset(seed=0)
    assert tuple(obs) == (RESET_OBS,) * vec.num_envs
    for step in range(steps):
        actions = _mixed_actions(vec, step)
        obs, rewards, _, _, info = vec.step(actions)
        assert tuple(obs) == tuple(a + SUFFIX for a in actions)
        assert tuple(obs) == tuple(info["obs"])  # what the env produced, sent by pipe
        assert all(single_obs_space.contains(o) for o in obs)
        assert vec.observation_space.contains(obs)
        assert list(rewards) == [len(a) for a in actions]


@needs_fork
def test_async_vector_env_shared_memory_round_trips_exactly() -> None:
    vec = gym.vector.AsyncVectorEnv([EchoEnv] * 4, shared_memory=True, context="fork")
    try:
        _check_echo(vec, 200)
    finally:
        vec.close()


def test_async_vector_env_shared_memory_spawned_workers() -> None:
    """Spawned workers import envs.spaces when they unpickle the space, so they get the shared memory writers."""
    vec = gym.vector.AsyncVectorEnv([EchoEnv] * 2, shared_memory=True, context="spawn")
    try:
        _check_echo(vec, 12)
    finally:
        vec.close()


@needs_fork
def test_async_vector_env_without_copy_returns_live_view() -> None:
    vec = gym.vector.AsyncVectorEnv([EchoEnv] * 2, shared_memory=True, copy=False, context="fork")
    try:
        obs, _ = vec.reset(seed=0)
        assert tuple(obs) == (RESET_OBS, RESET_OBS)
        obs2, *_ = vec.step(("a", "😀"))
        assert obs2 == ("a" + SUFFIX, "😀" + SUFFIX)
    finally:
        vec.close()


def test_sync_vector_env_round_trips_exactly() -> None:
    vec = gym.vector.SyncVectorEnv([EchoEnv] * 4)
    try:
        _check_echo(vec, 200)
    finally:
        vec.close()
