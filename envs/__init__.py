"""Gymnasium environments for tool use.

`import envs` registers ToolUse-v0; `gymnasium.make("envs:ToolUse-v0")` imports and registers in one go.
"""

from gymnasium.envs.registration import register

register(id="ToolUse-v0", entry_point="envs.tool_use:ToolUseEnv")
