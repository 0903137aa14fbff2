import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The public benchmark data (../shared/data by default; TL_DATA_DIR overrides). Tests that read it fail
    loudly when it is absent: CI always has it beside the clone."""
    path = Path(os.environ.get("TL_DATA_DIR", REPO.parent / "shared" / "data"))
    assert path.is_dir(), f"benchmark data not found at {path}; set TL_DATA_DIR"
    return path


@pytest.fixture
def loopback_tool_server():
    """A real `tl-tool-server` process on a free loopback port: yields (url, process); killed afterwards."""
    from tool_server.process import start_server_process

    url, process = start_server_process()
    yield url, process
    process.kill()
    process.wait()


@pytest.fixture(scope="session")
def rest_and_mcp_server():
    """One real `tl-tool-server --mcp http` process for the session (REST, and MCP at /mcp): yields its base URL."""
    from tool_server.process import start_server_process

    url, process = start_server_process("--mcp", "http")
    yield url
    process.kill()
    process.wait()
