"""Import rules of the package: the import-linter contracts of pyproject.toml
(``[tool.importlinter]``: the kinds are independent, the core/devices/engine stand below the kinds,
production code never imports an oracle) and no import cycle between two modules of brainsnn,
found with grimp. The last tests break a copy of the package to show that both checks can fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "brainsnn"
CONTRACT_IDS = (
    "kinds-independent",
    "core-below-everything",
    "devices-engine-below-kinds",
    "no-oracles-in-production",
)
LINT_IMPORTS = (
    "import sys; from importlinter.cli import lint_imports_command as main; sys.exit(main())"
)


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package found first from ``cwd`` with ``cwd/pyproject.toml``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(cwd), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"  # the report's lines unwrapped
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "pyproject.toml", "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def build_graph() -> grimp.ImportGraph:
    """The import graph of the package first on sys.path, ``if TYPE_CHECKING:`` imports left out."""
    return grimp.build_graph(PACKAGE, cache_dir=None, exclude_type_checking_imports=True)


def strongly_connected_components(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit): every SCC of the directed graph."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        index[root] = lowlink[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(sorted(edges[root])))]
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = lowlink[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges.get(successor, ())))))
                    break
                if successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
            else:  # every successor done
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[node])
                if lowlink[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The groups of modules that import one another, directly or through each other."""
    edges = {
        module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules
    }
    cycles = [c for c in strongly_connected_components(edges) if len(c) > 1]
    cycles += [[m] for m in sorted(edges) if m in edges[m]]  # a module importing itself
    return sorted(cycles)


def describe_cycles(graph: grimp.ImportGraph, cycles: list[list[str]], root: Path) -> str:
    """Each cycle's imports, as ``importer -> imported (file:line: statement)``."""
    lines = []
    for cycle in cycles:
        lines.append("cycle: " + ", ".join(cycle))
        members = set(cycle)
        for importer in cycle:
            stem = root.joinpath(*importer.split("."))
            path = stem / "__init__.py" if stem.is_dir() else stem.with_suffix(".py")
            for imported in sorted(graph.find_modules_directly_imported_by(importer) & members):
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    lines.append(
                        f"  {importer} -> {imported} ({path.relative_to(root)}:"
                        f"{detail['line_number']}: {detail['line_contents']})"
                    )
    return "\n".join(lines)


def copy_package(tmp_path: Path) -> Path:
    """A copy of the package and of pyproject.toml (the contracts) in ``tmp_path``."""
    shutil.copytree(
        ROOT / PACKAGE, tmp_path / PACKAGE, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + "\n" + text + "\n")


# -- the package as it is -------------------------------------------------------------------------


def test_import_contracts_kept():
    result = lint_imports(ROOT)
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"import contracts broken (lint-imports):\n{report}"
    assert f"Contracts: {len(CONTRACT_IDS)} kept, 0 broken." in report, report


def test_no_import_cycles():
    graph = build_graph()
    assert len(graph.modules) > 50  # the real package, found
    cycles = import_cycles(graph)
    assert not cycles, f"import cycles in {PACKAGE}:\n{describe_cycles(graph, cycles, ROOT)}"


def test_strongly_connected_components():
    edges = {
        "a": {"b"},
        "b": {"c"},
        "c": {"a", "d"},
        "d": {"e"},
        "e": {"d"},
        "f": {"a"},
        "g": set(),
    }
    components = sorted(strongly_connected_components(edges))
    assert components == [["a", "b", "c"], ["d", "e"], ["f"], ["g"]]
    # a long chain: no recursion limit
    chain = {f"m{i:05d}": {f"m{i + 1:05d}"} for i in range(20_000)}
    chain["m20000"] = {"m00000"}
    assert len(strongly_connected_components(chain)) == 1


# -- both checks can fail --------------------------------------------------------------------------


def test_import_contracts_broken_in_a_copy(tmp_path):
    copy = copy_package(tmp_path)
    package = copy / PACKAGE
    # the core imports a kind (and, through it, devices and the engine helpers)
    append(package / "core" / "errors.py", "import brainsnn.readout.experiment  # noqa")
    # one kind imports another
    append(package / "readout" / "layout.py", "from brainsnn.gradient import kind  # noqa")
    # an engine helper imports a kind
    append(package / "engine" / "traces.py", "import brainsnn.unsupervised.layout  # noqa")
    # production code imports an oracle
    append(package / "run.py", "from brainsnn.readout import crosscheck  # noqa")

    result = lint_imports(copy)
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert f"Contracts: 0 kept, {len(CONTRACT_IDS)} broken." in report, report
    for chain in (
        "brainsnn.core.errors -> brainsnn.readout.experiment",
        "brainsnn.readout.layout -> brainsnn.gradient.kind",
        "brainsnn.engine.traces -> brainsnn.unsupervised.layout",
        "brainsnn.run -> brainsnn.readout.crosscheck",
    ):
        assert chain in report, report


def test_oracle_contract_allows_only_crosscheck_to_use_the_reference(tmp_path):
    copy = copy_package(tmp_path)
    package = copy / PACKAGE
    # the readout kind uses the oracle: broken, although both live in brainsnn.readout
    append(package / "readout" / "training.py", "from brainsnn.readout import reference  # noqa")
    # the package root uses the WTA oracle
    append(package / "__init__.py", "import brainsnn.unsupervised.wta_reference  # noqa")

    result = lint_imports(copy)
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert "Production code never imports an oracle BROKEN" in report, report
    assert "brainsnn.readout.training -> brainsnn.readout.reference" in report, report
    assert "brainsnn -> brainsnn.unsupervised.wta_reference" in report, report
    assert "brainsnn.readout.crosscheck -> brainsnn.readout.reference" not in report, report


def test_import_cycle_found_in_a_copy(tmp_path, monkeypatch):
    copy = copy_package(tmp_path)
    core = copy / PACKAGE / "core"
    # a real cycle: a -> b -> a
    (core / "cycle_a.py").write_text("from brainsnn.core import cycle_b  # noqa\n")
    (core / "cycle_b.py").write_text("import brainsnn.core.cycle_a  # noqa\n")
    # not a cycle: the way back is only for the type checker
    (core / "typed_a.py").write_text("from brainsnn.core import typed_b  # noqa\n")
    (core / "typed_b.py").write_text(
        "from typing import TYPE_CHECKING\n\n"
        "if TYPE_CHECKING:\n"
        "    from brainsnn.core import typed_a  # noqa\n"
    )
    # not a cycle: a package's __init__ importing a submodule that imports only its siblings
    (core / "__init__.py").write_text(
        (core / "__init__.py").read_text() + "\nfrom brainsnn.core import modelset  # noqa\n"
    )

    monkeypatch.syspath_prepend(str(copy))
    monkeypatch.delitem(sys.modules, PACKAGE, raising=False)  # grimp looks the package up afresh
    graph = build_graph()
    assert "brainsnn.core.cycle_a" in graph.modules  # the copy, not the package under test
    cycles = import_cycles(graph)
    description = describe_cycles(graph, cycles, copy)
    assert cycles == [["brainsnn.core.cycle_a", "brainsnn.core.cycle_b"]], description
    assert "brainsnn.core.cycle_b -> brainsnn.core.cycle_a (brainsnn/core/cycle_b.py:1:" in (
        description
    )


def test_contracts_configured():
    """The contracts the tests count are those of pyproject.toml, on the whole package."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert config["root_package"] == PACKAGE
    assert config["include_external_packages"] is False
    assert sorted(c["id"] for c in config["contracts"]) == sorted(CONTRACT_IDS)
