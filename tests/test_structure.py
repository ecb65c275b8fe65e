"""The package's structure: every module imports, the import graph has no cycle, each name has
one home.

The import graph is read with ``ast`` from ``attnlib/**/*.py``: every ``import``, at the top
of a module or inside a function, counts as an edge to the attnlib module it names.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import attnlib
from attnlib import augment, config, fields, losses, metrics, models, names, paper

PACKAGE = Path(attnlib.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The attnlib modules that ``path`` imports (``from attnlib import data`` -> attnlib.data)."""
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found |= {
                f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names
            }
    return {m for m in found if m in modules and m != me}


def _graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(p) for p in paths}
    return {_module_name(p): _imports(p, modules) for p in paths}


def test_every_module_imports():
    for info in pkgutil.walk_packages(attnlib.__path__, "attnlib."):
        importlib.import_module(info.name)


def test_the_import_graph_has_no_cycle():
    graph, done, path = _graph(), set(), []

    def visit(module):
        if module in path:
            raise AssertionError(
                "import cycle: " + " -> ".join(path[path.index(module) :] + [module])
            )
        if module in done:
            return
        path.append(module)
        for other in sorted(graph[module]):
            visit(other)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert "attnlib.train" not in graph["attnlib.checkpoints"]
    assert graph["attnlib.names"] == set()  # the vocabulary depends on nothing


def test_every_registry_speaks_the_vocabulary():
    assert tuple(models.MODEL_CLASSES) == names.MODELS
    assert tuple(losses.LOSSES) == names.LOSSES
    assert tuple(augment.AUGMENTATIONS) == names.AUGMENTATIONS
    assert fields.CHOICES["gate"] == names.GATES and fields.CHOICES["model"] == names.MODELS
    assert models.PAPER_WIDTHS is names.PAPER_WIDTHS and config.Config().widths == list(
        names.PAPER_WIDTHS
    )
    assert paper.METRICS4 == metrics.METRICS[:4]


def test_loss_aliases_work_everywhere():
    for spelling in ("ce", "cross_entropy", "CrossEntropy", "dice"):
        config.Config(loss=spelling)  # Config takes what build_loss takes
        losses.build_loss(spelling)
    assert names.loss_name("ce") == "cross_entropy" and names.loss_name("Seed-Dice") == "seed_dice"


def test_none_is_the_plain_skip_everywhere():
    assert names.gate_kind("none") is None and names.gate_kind(None) is None
    assert models.build_model("unet", gate="none", widths=(4, 8, 16, 32, 64)).gate is None
    assert type(models.make_gate("none", 8)).__name__ == "NoGate"


def _modules(package: Path) -> set[str]:
    """The modules and subpackages directly under ``package`` (``_private`` ones aside; ``__main__``
    in)."""
    names = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    return {n for n in names if not n.startswith("_") or n == "__main__"}


def _map(doc: str) -> set[str]:
    """The names that begin a line of a docstring's module map (``    name[/]  what``, or
    ``    a, b, c  what``)."""
    names = set()
    for line in doc.splitlines():
        m = re.match(r"^ {4}([\w/, ]+?)(?: {2,}|$)", line)
        if m:
            names |= {n.strip().rstrip("/") for n in m.group(1).split(",") if n.strip()}
    return names


def test_the_package_map_names_every_module_and_only_modules():
    top = _modules(PACKAGE)
    assert {"batch", "stats", "tables", "models", "__main__"} <= top
    assert top - _map(attnlib.__doc__) == set(), "add these to the map in attnlib/__init__.py"
    assert _map(attnlib.__doc__) - top == set(), (
        "the map in attnlib/__init__.py names modules that are gone"
    )
    for package in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").exists()):
        doc = importlib.import_module(f"attnlib.{package.name}").__doc__ or ""
        named = _map(doc) | set(re.findall(r"``(\w+)``", doc))  # a map, or a table of ``name``
        missing = _modules(package) - named
        assert missing == set(), (
            f"attnlib/{package.name}/__init__.py does not name {sorted(missing)}"
        )


def test_the_readme_layout_names_every_module():
    readme = (PACKAGE.parent / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `attnlib/` |"))
    named = {n.rstrip("/") for n in re.findall(r"`([\w/]+)`", row)}
    assert _modules(PACKAGE) - named == set(), "add these to the README's Layout table"
