"""The public surface of each package, kept explicit (httpx's test_exported_members is the
model), and no module reaching into another package's private modules."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import pytest

import p2c

SOURCE = Path(p2c.__file__).parent
PACKAGES = sorted(
    ["p2c"] + [f"p2c.{m.name}" for m in pkgutil.iter_modules([str(SOURCE)]) if m.ispkg]
)


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_member_is_exported_and_only_those(name: str) -> None:
    """``__all__`` names what the package defines publicly, and each name is there."""
    package = importlib.import_module(name)
    assert all(hasattr(package, member) for member in package.__all__)
    defined_here = sorted(
        member
        for member, value in vars(package).items()
        if (not member.startswith("_") or member == "__version__")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", name).startswith(name)
        and member != "annotations"
    )
    assert sorted(set(package.__all__) & set(defined_here)) == defined_here


def _private_imports() -> list[str]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE.parent).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        home = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        home = ".".join(home.split(".")[:2])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for imported in names:
                parts = imported.split(".")
                if parts[0] != "p2c" or not any(p.startswith("_") for p in parts[1:]):
                    continue
                owner = ".".join(parts[:2]) if not parts[1].startswith("_") else "p2c"
                if owner != home and owner != "p2c":
                    found.append(f"{module} imports {imported}")
    return found


def test_no_module_imports_another_packages_private_module() -> None:
    assert _private_imports() == []
