"""The import contract: nothing under alakazam/engine/ imports Textual or the TUI."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import alakazam.engine

ENGINE = pathlib.Path(alakazam.engine.__file__).parent
FORBIDDEN = ("textual", "textual_plotext", "alakazam.tui", "alakazam.cli", "alakazam.listobs")


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_engine_sources_never_import_the_ui():
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) >= 10
    offenders = [f"{f.relative_to(ENGINE)}: {name}" for f in files for name in _imports(f)
                 if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)]
    assert offenders == []


def test_importing_every_engine_module_loads_no_ui():
    modules = [".".join(("alakazam", "engine", *f.relative_to(ENGINE).with_suffix("").parts))
               for f in sorted(ENGINE.rglob("*.py"))]
    modules = [m.removesuffix(".__init__") for m in modules]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"bad = [m for m in sys.modules if m.split('.')[0] == 'textual' or "
            f"m.startswith(('alakazam.tui', 'alakazam.cli'))]\n"
            "assert not bad, bad\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
