"""Gymnasium environments for tool use.

`gymnasium.make("envs:ToolUse-v0")` imports this package and registers ToolUse-v0 in one go (or `import envs`).
"""

from gymnasium.envs.registration import register

# The paper's VA metric counts answers given within 9 turns: the TimeLimit wrapper truncates there.
register(id="ToolUse-v0", entry_point="envs.tool_use:ToolUseEnv", max_episode_steps=9)
