"""The layers the folders show, read from every module's imports with `ast`:
tl_plugin.core -> tool_server -> envs -> tl_plugin's data tools and OpenRLHF adapters, each importing only those
before it (the core imports no other package of ours). A failure names the module, the line and the import."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# package prefix -> the prefixes of ours it may import (itself included)
ALLOWED = {
    "tl_plugin.core": {"tl_plugin.core"},
    "tool_server": {"tl_plugin.core", "tool_server"},
    "envs": {"tl_plugin.core", "tool_server", "envs"},
    "tl_plugin.data": {"tl_plugin.core", "tool_server", "envs", "tl_plugin.data"},
    "tl_plugin.adapters": {"tl_plugin.core", "tool_server", "envs", "tl_plugin.adapters"},
    "tl_plugin.eval": {"tl_plugin.core", "tool_server", "envs", "tl_plugin.data", "tl_plugin.eval"},
    # the main job sits on top: it runs the method through the very pieces the OpenRLHF path uses
    "tl_plugin.demo": {
        "tl_plugin.core",
        "tool_server",
        "envs",
        "tl_plugin.data",
        "tl_plugin.adapters",
        "tl_plugin.eval",
        "tl_plugin.demo",
    },
}
OURS = ("tl_plugin", "tool_server", "envs")


def layer(module: str) -> str | None:
    return next((prefix for prefix in ALLOWED if module == prefix or module.startswith(prefix + ".")), None)


def imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of the file, relative ones resolved."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found += [(node.lineno, f"{base}.{alias.name}" if base in OURS else base) for alias in node.names]
    return found


def violations(root: Path = REPO) -> list[str]:
    bad = []
    for path in sorted(p for package in OURS for p in (root / package).rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        own = layer(module)
        if own is None:  # tl_plugin/__init__.py: the namespace itself
            continue
        for line, name in imports(path, root):
            if name.split(".")[0] not in OURS:
                continue
            target = layer(name)
            if target is None or target not in ALLOWED[own]:
                bad.append(f"{path.relative_to(root)}:{line}: {own} imports {name}")
    return bad


def test_every_module_belongs_to_a_layer():
    modules = [p for package in OURS for p in (REPO / package).rglob("*.py")]
    assert len(modules) > 20
    homeless = [p for p in modules if layer(".".join(p.relative_to(REPO).with_suffix("").parts)) is None]
    assert [p.relative_to(REPO).as_posix() for p in homeless] == ["tl_plugin/__init__.py"]


def test_imports_follow_the_layers():
    assert violations() == []


@pytest.mark.parametrize(
    "module, planted",
    [
        ("tl_plugin/core/weights.py", "from tl_plugin.data.converters import CONVERTERS"),
        ("tool_server/server.py", "import envs.tool_use"),
        ("envs/tasks.py", "from tl_plugin.adapters import reward"),
        ("tl_plugin/core/judge.py", "from tool_server import ToolServer"),
    ],
)
def test_a_planted_import_against_the_layers_is_caught(tmp_path, module, planted):
    for package in OURS:
        for path in (REPO / package).rglob("*.py"):
            target = tmp_path / path.relative_to(REPO)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(path.read_text())
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{planted}\n")
    assert [v for v in violations(tmp_path) if v.startswith(module)] != []
