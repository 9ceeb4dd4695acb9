"""The notebooks under notebooks/: each .ipynb matches its jupytext .py, and all run headless.

The notebooks run tiny protocols (cpp_standalone builds go to the usual build cache, runs to a
temporary directory given by $BRAINSNN_NOTEBOOK_DIR), in order: 01 compiles the NCG layout that
02 and 03 reuse. jupytext, nbformat, nbclient and ipykernel are test dependencies
(``pip install -e ".[test]"``): without them these tests fail, they are not skipped.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SCRIPTS = sorted(NOTEBOOK_DIR.glob("*.py"))
FORMATS = "ipynb,py:percent"
CELL_TIMEOUT_S = 300  # the first cell to compile a layout takes tens of seconds
TOTAL_BUDGET_S = 300  # acceptance: all notebooks together in under 5 minutes (2-core CI)
KERNEL = "brainsnn-notebook-test"


def _require(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        pytest.fail(
            f"{name} is needed to check and run the notebooks; install the test extra: "
            f'pip install -e ".[test]" ({exc})',
            pytrace=False,
        )


def test_every_notebook_is_a_jupytext_pair():
    assert len(NOTEBOOKS) >= 3, f"expected the notebooks in {NOTEBOOK_DIR}"
    assert [path.stem for path in NOTEBOOKS] == [path.stem for path in SCRIPTS]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_matches_its_script_and_has_no_outputs(notebook: Path):
    """Run ``jupytext --sync notebooks/*.py`` after editing either file of a pair."""
    jupytext = _require("jupytext")
    ipynb = jupytext.read(notebook)
    script = jupytext.read(notebook.with_suffix(".py"))
    for nb in (ipynb, script):
        assert nb.metadata.get("jupytext", {}).get("formats") == FORMATS
    cells = [(cell.cell_type, cell.source.strip()) for cell in ipynb.cells]
    assert cells == [(cell.cell_type, cell.source.strip()) for cell in script.cells], (
        f"{notebook.name} and {notebook.with_suffix('.py').name} differ: run "
        f"jupytext --sync {notebook.with_suffix('.py').relative_to(ROOT)}"
    )
    for cell in ipynb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{notebook.name} is committed with outputs: clear them "
                "(jupytext --sync regenerates the .ipynb from the .py without outputs)"
            )


def _kernel_manager(directory: Path):
    """A kernel running this interpreter, whatever 'python3' kernelspecs are installed."""
    kernelspec = _require("jupyter_client.kernelspec")
    manager = _require("jupyter_client.manager")
    _require("ipykernel")
    spec = directory / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "brainsnn tests", "language": "python"})
    )
    specs = kernelspec.KernelSpecManager(kernel_dirs=[str(directory)], ensure_native_kernel=False)
    return manager.KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)


@pytest.mark.standalone
def test_notebooks_execute_headless_within_budget(tmp_path, monkeypatch, capsys):
    """Every notebook runs top to bottom without error; together in under TOTAL_BUDGET_S."""
    nbformat = _require("nbformat")
    nbclient = _require("nbclient")
    before = sorted(NOTEBOOK_DIR.iterdir())
    monkeypatch.setenv("BRAINSNN_NOTEBOOK_DIR", str(tmp_path / "runs"))
    (tmp_path / "runs").mkdir()
    times: dict[str, float] = {}
    failures = []
    for notebook in NOTEBOOKS:
        nb = nbformat.read(notebook, as_version=4)
        client = nbclient.NotebookClient(
            nb,
            km=_kernel_manager(tmp_path / "kernels" / notebook.stem),
            timeout=CELL_TIMEOUT_S,
            resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
        )
        started = time.perf_counter()
        try:
            client.execute()
        except Exception as exc:  # CellExecutionError, timeouts, a dead kernel
            failures.append(f"{notebook.name}: {exc}")
        times[notebook.name] = time.perf_counter() - started
    total = sum(times.values())
    with capsys.disabled():
        print("\nnotebook execution times:")
        for name, seconds in times.items():
            print(f"  {name:45s} {seconds:6.1f} s")
        print(f"  {'total':45s} {total:6.1f} s (budget {TOTAL_BUDGET_S} s)")
    assert not failures, "\n\n".join(failures)
    assert total < TOTAL_BUDGET_S, f"notebooks took {total:.0f} s together: {times}"
    assert sorted(NOTEBOOK_DIR.iterdir()) == before, "a notebook wrote into notebooks/"
