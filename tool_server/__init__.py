"""The mock tool server: a catalog of tools, validated calls, feedback in the one error taxonomy, over HTTP or
in-process. `ToolServer().call(name, arguments)` answers `{"ok": True, "output": ...}` or categorised feedback."""

from tool_server.builtin import builtin_catalog
from tool_server.catalog import Catalog, Tool, ToolCallFailure, load_catalog
from tool_server.server import ToolServer

__all__ = ["Catalog", "Tool", "ToolCallFailure", "ToolServer", "builtin_catalog", "load_catalog"]
