"""The architecture the import graph must keep: a consumer never imports a producer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "vigil"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (lazy imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "package, forbidden",
    [
        ("stream", "vigil.capture"),  # the streamer learns formats from vigil.messages, not from capture
        ("capture", "vigil.stream"),
        ("detectors", "vigil.stream"),
        ("detectors", "vigil.capture"),
        ("tasks", "vigil.stream"),
        ("tasks", "vigil.capture"),
    ],
)
def test_package_does_not_import(package, forbidden):
    offenders = {
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sorted((PACKAGE / package).rglob("*.py"))
        for name in imported_modules(path)
        if name == forbidden or name.startswith(forbidden + ".")
    }
    assert not offenders, sorted(offenders)


def test_the_check_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from vigil.capture.dispatch import FrameDispatcher\n")
    assert "vigil.capture.dispatch" in imported_modules(module)


def test_celeryconfig_is_not_installed_as_a_top_level_module():
    # A top-level celeryconfig in site-packages would shadow a user's own (or be shadowed by it).
    import configparser

    setup = configparser.ConfigParser()
    setup.read(PACKAGE.parent / "setup.cfg")
    assert "py_modules" not in setup["options"]
    assert setup["options.packages.find"]["include"].split(", ") == ["vigil", "vigil.*"]
