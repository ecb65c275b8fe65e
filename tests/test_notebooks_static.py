"""The notebook sources, read with ``ast`` (nothing runs): no notebook rebinds a name it imported.

A notebook's cells share one namespace and a student reruns them in any order: a name bound by
an import and later by an assignment (chapter 07 once had ``plain, tta = qc_rows[...]`` after
``from attnlib import quality, tta``) makes an earlier cell fail on a rerun. Only the notebook's
own namespace counts: names bound inside a function or class body, or by a comprehension, are
local to it.
"""

import ast
from pathlib import Path

import pytest

SOURCES = sorted(
    (Path(__file__).resolve().parent.parent / "notebooks" / "src").glob("[0-9][0-9]_*.py")
)


def _targets(node) -> list[ast.Name]:
    """The names an assignment target binds (``a``, ``a, (b, *c)``; not ``a.b`` or ``a[0]``)."""
    if isinstance(node, ast.Name):
        return [node]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [n for elt in node.elts for n in _targets(elt)]
    if isinstance(node, ast.Starred):
        return _targets(node.value)
    return []


def _top_level(body):
    """The statements that run in the notebook's namespace: into if/for/while/with/try, not into
    function or class bodies."""
    for node in body:
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _top_level(getattr(node, field, []))
        for handler in getattr(node, "handlers", []):
            yield from _top_level(handler.body)


def bindings(tree: ast.Module) -> tuple[dict[str, int], dict[str, int]]:
    """``({name: line}, {name: line})``: the notebook-level names bound by imports, and by
    anything else (assignments, loop and ``with`` targets, ``except ... as``, def and class)."""
    imported, assigned = {}, {}
    for node in _top_level(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                imported.setdefault(alias.asname or alias.name.split(".")[0], node.lineno)
            continue
        names: list[ast.Name] = []
        if isinstance(node, ast.Assign):
            names = [n for t in node.targets for n in _targets(t)]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            names = _targets(node.target)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            names = [
                n for item in node.items if item.optional_vars for n in _targets(item.optional_vars)
            ]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            assigned.setdefault(node.name, node.lineno)
        for handler in getattr(node, "handlers", []):
            if handler.name:
                assigned.setdefault(handler.name, handler.lineno)
        for n in names:
            assigned.setdefault(n.id, n.lineno)
    # a walrus in any notebook-level expression binds in the notebook's namespace too
    for node in _top_level(tree.body):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.NamedExpr):
                    assigned.setdefault(sub.target.id, sub.lineno)
    return imported, assigned


def test_the_check_finds_a_rebound_import():
    tree = ast.parse(
        "from attnlib import quality, tta\nimport numpy as np\n"
        "def f():\n    tta = 1\n"  # local: fine
        "rows = [tta for tta in range(3)]\n"  # comprehension: fine
        "for i in range(2):\n    if i:\n        plain, (tta, x) = 1, (2, 3)\n"
        "with open('f') as np:\n    pass\n"
    )
    imported, assigned = bindings(tree)
    assert set(imported) == {"quality", "tta", "np"}
    assert sorted(set(imported) & set(assigned)) == ["np", "tta"]
    assert assigned["tta"] == 8


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_no_notebook_rebinds_a_name_it_imported(path):
    imported, assigned = bindings(ast.parse(path.read_text()))
    assert imported, f"{path.name}: no imports found (is it a notebook source?)"
    clashes = {
        name: (imported[name], assigned[name]) for name in sorted(set(imported) & set(assigned))
    }
    assert clashes == {}, (
        f"{path.name} rebinds imported names (name: (import line, rebinding line)): "
        f"{clashes}; rename the variable"
    )
