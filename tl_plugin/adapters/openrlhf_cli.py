"""Command-line entry points, and OpenRLHF's own argument parsers built without importing its CLI modules.

OpenRLHF builds each CLI's argparse parser inside `if __name__ == "__main__":` of a module that imports the GPU
stack (flash_attn, vllm) at the top. `openrlhf_parser` reads that module's source with `ast` and runs only the
statements of the block that come before `parse_args`, so the real parser, every flag and default, exists on CPU;
`openrlhf_finish_args` runs the statements after it (hierarchize, OpenRLHF's own checks), stopping before training.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
from functools import cache
from typing import Any


@cache
def _main_block(module: str) -> tuple[str, list[ast.stmt], list[ast.stmt]]:
    """(source path, statements before `args = parser.parse_args()`, statements after it) of the module's
    `if __name__ == "__main__":` block; the first part starts with the module's standard-library imports
    (`from datetime import datetime`...), the only ones its parser needs."""
    path = importlib.util.find_spec(module).origin
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    stdlib = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)) and _is_stdlib(node)]
    for node in tree.body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            for i, statement in enumerate(node.body):
                if "parse_args" in ast.unparse(statement):
                    return path, stdlib + node.body[:i], node.body[i + 1 :]
    raise RuntimeError(f"{path}: no `parse_args` in an `if __name__ == '__main__':` block")


def _run(module: str, statements: list[ast.stmt], namespace: dict[str, Any]) -> dict[str, Any]:
    path = _main_block(module)[0]
    exec(compile(ast.Module(statements, type_ignores=[]), path, "exec"), namespace)  # OpenRLHF's own source
    return namespace


def openrlhf_parser(module: str) -> argparse.ArgumentParser:
    """The argparse parser of an OpenRLHF CLI module (e.g. "openrlhf.cli.train_sft"), built on CPU."""
    return _run(module, _main_block(module)[1], {})["parser"]


def openrlhf_finish_args(module: str, args: argparse.Namespace, stop_at: str = "train") -> Any:
    """Run what the module's main block does after parse_args (hierarchize, checks, warnings) on `args`, leaving
    out its call to `stop_at` (the training); returns the final, hierarchized args."""
    after = [s for s in _main_block(module)[2] if not _calls(s, stop_at)]
    return _run(module, after, {"args": args})["args"]


def _is_stdlib(node: ast.Import | ast.ImportFrom) -> bool:
    names = [node.module] if isinstance(node, ast.ImportFrom) else [alias.name for alias in node.names]
    return all(name and name.split(".")[0] in sys.stdlib_module_names for name in names)


def _calls(statement: ast.stmt, name: str) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name for n in ast.walk(statement)
    )
