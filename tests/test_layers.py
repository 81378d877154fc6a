"""The layers contract in .importlinter catches an import arrow that points the wrong way.

Each test runs lint-imports on a copy of the lms package in a temporary folder, so that a
wrong import can be added without touching the checkout. The copy is found first on
PYTHONPATH (the editable install's finder comes after it), and --no-cache keeps
import-linter from writing a cache anywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / ".importlinter"
CONTRACT = "Layers of lms (arrows point down only)"

#: "- lms.a.b -> lms.c.d (l.12)": the first import of one illegal chain.
FIRST_LINK = re.compile(r"^- (\S+) -> (\S+) \(l\.[\d, ]+\)$", re.MULTILINE)


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with the repository's contract on the ``lms`` package under ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--no-logo", str(CONFIG)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def violations(output: str) -> set[tuple[str, str]]:
    """The (importer, imported) modules of the first import of every illegal chain reported."""
    return set(FIRST_LINK.findall(output))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the Python modules of lms/ (templates and static files are not needed)."""

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [
            name
            for name in names
            if name == "__pycache__" or (not name.endswith(".py") and not Path(folder, name).is_dir())
        ]

    shutil.copytree(REPO / "lms", tmp_path / "lms", ignore=ignore)
    return tmp_path


def test_the_copy_shadows_the_installed_package(tree: Path):
    found = subprocess.run(
        [sys.executable, "-c", "import importlib.util; print(importlib.util.find_spec('lms').origin)"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(found.stdout.strip()) == tree / "lms" / "__init__.py"


def test_the_unmodified_tree_keeps_the_contract(tree: Path):
    result = lint_imports(tree)
    assert CONTRACT in result.stdout, result.stdout + result.stderr
    assert violations(result.stdout) == set(), result.stdout
    assert result.returncode == 0, result.stdout
    assert f"{CONTRACT} KEPT" in result.stdout


@pytest.mark.parametrize(
    ("path", "line", "rule", "chain"),
    [
        pytest.param(
            "accounts/_bad.py",
            "from lms.courses import models",
            "lms.accounts is not allowed to import lms.courses",
            ("lms.accounts._bad", "lms.courses.models"),
            id="lower-area-imports-higher",
        ),
        pytest.param(
            "credits/_bad.py",
            "import lms.assessments",
            "lms.credits is not allowed to import lms.assessments",
            ("lms.credits._bad", "lms.assessments"),
            id="upper-areas-import-each-other",
        ),
        pytest.param(
            "templating.py",
            "from lms.courses import completion",
            "lms.templating is not allowed to import lms.courses",
            ("lms.templating", "lms.courses.completion"),
            id="foundation-imports-an-area",
        ),
        pytest.param(
            "errors.py",
            "from lms.storage import services",
            "lms.errors is not allowed to import lms.storage",
            ("lms.errors", "lms.storage.services"),
            id="foundation-imports-a-shared-service",
        ),
        pytest.param(
            "api/_bad.py",
            "from lms.admin import views",
            "lms.api is not allowed to import lms.admin",
            ("lms.api._bad", "lms.admin.views"),
            id="entry-points-import-each-other",
        ),
    ],
)
def test_a_wrong_arrow_breaks_the_contract(tree: Path, path: str, line: str, rule: str, chain):
    module = tree / "lms" / path
    with module.open("a", encoding="utf-8") as file:
        file.write(f"\n{line}\n")

    result = lint_imports(tree)

    assert result.returncode != 0, result.stdout
    assert f"{CONTRACT} BROKEN" in result.stdout, result.stdout
    assert rule in result.stdout, result.stdout
    assert chain in violations(result.stdout), result.stdout


def test_a_package_without_a_layer_breaks_the_contract(tree: Path):
    (tree / "lms" / "newarea").mkdir()
    (tree / "lms" / "newarea" / "__init__.py").write_text('"""A new area."""\n', encoding="utf-8")

    result = lint_imports(tree)

    assert result.returncode != 0, result.stdout
    assert "The following modules are not listed as layers:\n\n- lms.newarea" in result.stdout


def import_circles(package: str) -> list[list[str]]:
    """Groups of modules of ``package`` that import one another in a circle (grimp's graph)."""
    import grimp

    graph = grimp.build_graph(package, cache_dir=None)
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        order[module] = low[module] = len(order)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            group = []
            while (member := stack.pop()) != module:
                group.append(member)
            if group:
                circles.append(sorted([module, *group]))

    for module in sorted(graph.modules):
        if module not in order:
            visit(module)
    return circles


def test_no_module_imports_itself_through_others():
    """No circle of imports anywhere in lms, lazy (function-level) imports included."""
    assert import_circles("lms") == []


def test_a_circle_is_found(tree: Path):
    (tree / "lms" / "courses" / "progress.py").write_text(
        (tree / "lms" / "courses" / "progress.py").read_text() + "\nfrom lms.courses import enrolment\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", "from tests.test_layers import import_circles; print(import_circles('lms'))"],
        cwd=tree,  # the copy, first on the path, shadows the checkout; REPO gives ``tests``
        env={**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{REPO}"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "'lms.courses.enrolment', 'lms.courses.progress'" in found.stdout
