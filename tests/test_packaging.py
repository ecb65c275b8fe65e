"""pyproject.toml declares what attnlib imports and what a batch job runs.

No download: imports are found with ``ast`` and mapped to distributions through this venv's
metadata (``importlib.metadata.packages_distributions``).

- every third-party module that ``attnlib/`` imports comes from a distribution declared in
  ``dependencies`` or in an extra, and scipy and pillow are declared directly;
- a job, as the executors run it (:func:`attnlib.batch.jobs.execute`), needs what its command
  runs with ``-m`` (papermill), the kernel it names with ``-k`` (its kernelspec runs ipykernel),
  what the notebook it executes imports, and what the attnlib modules it reaches import: all of
  it in ``dependencies`` plus the ``cluster`` extra;
- this venv (requirements.txt) satisfies every declared requirement.
"""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import nbformat
from packaging.requirements import Requirement

import attnlib
from attnlib.batch import jobs

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(attnlib.__file__).parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DISTRIBUTIONS = importlib.metadata.packages_distributions()  # import name -> distributions


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(*extras: str) -> set[str]:
    """Distribution names in ``dependencies`` and the extras named (all extras when none)."""
    groups = PROJECT["optional-dependencies"]
    reqs = PROJECT["dependencies"] + [r for k in (extras or groups) for r in groups[k]]
    return {_norm(Requirement(r).name) for r in reqs}


def _imports(source: str, package: str = "") -> set[str]:
    """Absolute module names imported by ``source`` (relative ones resolved against ``package``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}".rstrip(".")
            found |= {base} | {f"{base}.{a.name}" for a in node.names}
    return found


def _module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    candidates = [PACKAGE.joinpath(*parts, "__init__.py")] + (
        [PACKAGE.joinpath(*parts).with_suffix(".py")] if parts else []
    )
    return next((path for path in candidates if path.is_file()), None)


def _reach(start: set[str]) -> tuple[set[str], set[str]]:
    """(attnlib modules reached from ``start``, the third-party top-level names they import)."""
    todo, seen, third = [m for m in start if m.split(".")[0] == "attnlib"], set(), set()
    third |= {m.split(".")[0] for m in start} - {"attnlib"} - sys.stdlib_module_names
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if name in seen or path is None:
            continue
        seen.add(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for imported in _imports(path.read_text(), package):
            top = imported.split(".")[0]
            if top == "attnlib":
                todo += [imported, imported.rpartition(".")[0]]
            elif top not in sys.stdlib_module_names:
                third.add(top)
    return seen, third


def _distributions(names: set[str]) -> set[str]:
    missing = sorted(n for n in names if n not in DISTRIBUTIONS)
    assert not missing, f"imported but installed by no distribution in this venv: {missing}"
    return {_norm(DISTRIBUTIONS[n][0]) for n in names}


def _job_command(tmp_path, monkeypatch) -> list[str]:
    """The command :func:`attnlib.batch.jobs.execute` starts for a run."""
    started = []

    class Process:
        def __init__(self, cmd, **kwargs):
            started.append(cmd)

        def wait(self):
            return 0

        def poll(self):
            return 0

    monkeypatch.setattr(jobs.subprocess, "Popen", Process)
    jobs.execute({"name": "unet_s0", "params": {"model": "unet"}}, tmp_path)
    assert len(started) == 1
    return started[0]


def _notebook_imports(path: Path) -> set[str]:
    """The modules the code cells of a notebook import (IPython magics left out)."""
    names = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            code = "\n".join(
                ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!"))
            )
            names |= _imports(code)
    return names


def test_everything_attnlib_imports_is_declared():
    modules, third = _reach(
        {f"attnlib.{p.stem}" for p in PACKAGE.glob("*.py")}
        | {f"attnlib.{p.parent.name}" for p in PACKAGE.glob("*/__init__.py")}
        | {f"attnlib.{p.parent.name}.{p.stem}" for p in PACKAGE.glob("*/*.py")}
    )
    assert "attnlib.grade" in modules and "attnlib.batch.jobs" in modules
    needed = _distributions(third)
    assert {"scipy", "pillow", "scikit-image"} <= needed  # the package imports scipy and PIL itself
    assert not needed - _declared(), (
        f"imported by attnlib but not in pyproject.toml: {sorted(needed - _declared())}"
    )
    core = {_norm(Requirement(r).name) for r in PROJECT["dependencies"]}
    assert {"scipy", "pillow"} <= core, "scipy and pillow are declared, not left to scikit-image"


def test_the_cluster_extra_brings_what_a_job_runs(tmp_path, monkeypatch):
    from jupyter_client.kernelspec import get_kernel_spec

    cmd = _job_command(tmp_path, monkeypatch)
    runs = {cmd[cmd.index("-m") + 1]}  # python -m papermill
    kernel = get_kernel_spec(cmd[cmd.index("-k") + 1]).argv  # python -m ipykernel_launcher -f ...
    runs.add(kernel[kernel.index("-m") + 1])
    notebook = Path(cmd[cmd.index("-m") + 2])
    assert notebook == jobs.NOTEBOOK.resolve()
    submitted = {
        "attnlib.batch.jobs",
        "attnlib.batch.executors",
    }  # the job's own process (submitit)
    _, third = _reach(runs | _notebook_imports(notebook) | submitted)
    needed = _distributions(third | runs)
    assert {"papermill", "ipykernel", "submitit", "torch"} <= needed
    missing = needed - _declared("cluster")
    assert not missing, (
        "a job imports these, but neither dependencies nor the cluster extra declare them: "
        f"{sorted(missing)}"
    )


def test_this_venv_satisfies_every_declared_requirement():
    groups = PROJECT["optional-dependencies"]
    unmet = []
    for text in PROJECT["dependencies"] + [r for reqs in groups.values() for r in reqs]:
        req = Requirement(text)
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            version = None
        if version is None or not req.specifier.contains(version, prereleases=True):
            unmet.append(f"{text} (installed: {version})")
    assert not unmet, f"pyproject.toml asks for what requirements.txt does not give: {unmet}"
