"""The package's public API: __all__ sorted, complete and importable; layering rules hold."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import provisioner

PACKAGE = Path(provisioner.__file__).parent


def test_package_all_is_sorted_and_every_name_resolves() -> None:
    names = list(provisioner.__all__)
    assert names == sorted(names)
    for name in names:
        assert hasattr(provisioner, name), name


def test_every_exported_object_is_in_its_defining_modules_all() -> None:
    for name in provisioner.__all__:
        obj = getattr(provisioner, name)
        module_name = getattr(obj, "__module__", None)
        if module_name is None or not module_name.startswith("provisioner."):
            continue
        module = importlib.import_module(module_name)
        assert name in getattr(module, "__all__", ()), f"{name} not in {module_name}.__all__"


def test_every_module_declares_all_and_each_name_exists() -> None:
    """(ruff's RUF022 keeps each module's __all__ sorted.)"""
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="provisioner."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        declared = getattr(module, "__all__", None)
        assert declared is not None, f"{info.name} has no __all__"
        missing = [name for name in declared if not hasattr(module, name)]
        assert missing == [], f"{info.name}.__all__ names what it lacks: {missing}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_a_package_imports_only_what_another_package_exports() -> None:
    """Private modules (``_name``) are reached only from inside their own package."""
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        home = relative.parts[0] if len(relative.parts) > 1 else None
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] != "provisioner" or len(parts) < 3 or not parts[2].startswith("_"):
                continue
            assert parts[1] == home, f"{relative} imports {module}"
