"""The one definition of rewards and of "the model's error", checked against the paper written down as data.

Oracles: the IRM values of TL-Training Section 3.3 as printed, our decision on whose fault each category is (see
Category.is_model_error), and rewards of worked examples computed by hand. Every consumer of the two definitions
(MAE, the agent's RL masking, the env's step reward, DE/CE) is checked against the same table of decisions.
"""

import pytest
from helpers import PAPER_IRM

from tl_plugin.adapters.agent import mask_error_turns
from tl_plugin.core.rewards import IRM_TABLE, pooled_reward, reward_bounds, step_reward
from tl_plugin.core.taxonomy import Category
from tl_plugin.core.weights import Turn, mae

# Our decision, per category: (the model's error?, documentation error (DE)?, call error (CE)?, env step reward).
# A timeout or a tool that crashed is the tool's doing; a request the tool cannot satisfy is the model's.
DECISIONS = {
    "ok": (False, False, False, 0.0),
    "format_error": (True, False, True, -2.0),
    "tool_hallucination": (True, True, False, -2.0),
    "parameter_hallucination": (True, True, False, -0.8),
    "parameter_missing": (True, True, False, -0.5),
    "parameter_invalid": (True, False, True, -0.25),
    "tool_call_failure": (True, False, True, -0.25),
    "tool_instability": (False, False, False, 0.0),
    "other": (False, False, False, 0.0),
}


def test_the_table_is_the_papers():
    assert IRM_TABLE == PAPER_IRM


def test_every_category_has_a_decision():
    assert set(DECISIONS) == {c.value for c in Category}


@pytest.mark.parametrize("category", sorted(DECISIONS))
def test_mae_agent_env_and_de_ce_agree_on(category):
    model_error, de, ce, reward = DECISIONS[category]
    c = Category(category)
    assert (c.is_model_error, c.is_documentation_error, c.is_call_error) == (model_error, de, ce)
    turn = Turn({"role": "assistant", "content": "x"}, [c], [], [1.0, 1.0], lambda i: None)
    mae(turn)
    assert turn.weights == ([0.0, 0.0] if model_error else [1.0, 1.0])  # MAE
    assert mask_error_turns([(0, 5), (9, 12)], [model_error, False]) == (
        [(9, 12)] if model_error else [(0, 5), (9, 12)]
    )
    assert step_reward([c]) == reward  # the env's step reward


def test_a_response_pools_its_calls_instead_of_summing_them():
    # one correct call and one wrong value: the worst part counts (-0.25); the paper's per-call sum would give +0.75
    assert step_reward([Category.OK, Category.PARAMETER_INVALID]) == -0.25
    assert pooled_reward({"content_mismatch"}) == -0.25
    # parameter findings of different kinds add up: -0.8 - 0.5
    assert pooled_reward({"parameter_hallucination", "parameter_missing"}) == pytest.approx(-1.3)
    assert step_reward([Category.PARAMETER_HALLUCINATION, Category.PARAMETER_MISSING]) == pytest.approx(-1.3)
    # a tool-level finding decides alone
    assert pooled_reward({"wrong_tool", "parameter_missing", "content_mismatch"}) == -1.5
    assert step_reward([Category.TOOL_HALLUCINATION, Category.PARAMETER_MISSING]) == -2.0
    assert pooled_reward(set()) == 1.0 and step_reward([Category.OK, Category.TOOL_INSTABILITY]) == 0.0


def test_bounds_follow_the_table():
    assert reward_bounds() == (-2.0, 1.0)
    # hallucinated + redundant + missing = -1.8 with the paper's values; with -1.0 each it is -3.0, the new lowest
    assert reward_bounds({**PAPER_IRM, **dict.fromkeys(PAPER_IRM, -1.0), "correct": 2.0}) == (-3.0, 2.0)
