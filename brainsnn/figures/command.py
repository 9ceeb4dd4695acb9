"""``brainsnn figures``: publication figures from saved results.nc files.

Only click is imported at module level (the CLI imports this module on every start); xarray and
matplotlib are imported when the command runs. Brian2 is never imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

from brainsnn.errors import BrainsnnError

RESULTS_NAME = "results.nc"
ACCURACY = "accuracy"  # --only name of the Markdown accuracy table
DEFAULT_FORMATS = "pdf,png"


@dataclass
class _Run:
    path: Path
    name: str
    dataset: object  # xarray.Dataset, loaded into memory
    figures: list[str] = field(default_factory=list)
    table: bool = False


def results_file(path: Path) -> Path:
    """The results.nc a RESULTS argument names: the file itself, or DIR/results.nc."""
    if path.is_dir():
        candidate = path / RESULTS_NAME
        if not candidate.is_file():
            raise BrainsnnError(f"no {RESULTS_NAME} in {path}")
        return candidate
    if path.is_file():
        return path
    if path.suffix == ".nc":
        raise BrainsnnError(f"{path}: no such file")
    raise BrainsnnError(f"no {RESULTS_NAME} in {path} (no such directory)")


def run_name(argument: Path, file: Path) -> str:
    """The run directory's name, or the file's stem for a file not called results.nc."""
    if argument.is_dir():
        return argument.resolve().name
    if file.name == RESULTS_NAME:
        return file.resolve().parent.name
    return file.stem


def _split(values: tuple[str, ...]) -> list[str]:
    """Repeated and comma-separated option values, in order, without empty items."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _open(path: Path):
    import xarray as xr

    try:
        handle = xr.open_dataset(path)
    except Exception as exc:  # netCDF4/HDF5/xarray raise OSError, ValueError, RuntimeError, ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BrainsnnError(f"cannot read {path}: {reason}") from None
    try:
        return handle.load()
    except Exception as exc:
        raise BrainsnnError(f"cannot read {path}: {exc}") from None
    finally:
        handle.close()


@click.command("figures")
@click.argument(
    "results", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="RESULTS..."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Directory for the figures (created if needed); files are named "
    "<run>_<figure>.<format>, where <run> is the run directory's name (or the file's stem).",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="LIST",
    help="Comma-separated file formats, from pdf, png (300 dpi), svg. Repeatable. "
    f"[default: {DEFAULT_FORMATS}]",
)
@click.option(
    "--only",
    multiple=True,
    metavar="NAME",
    help="Draw only this figure: weights, trace, class_response, assignment, or accuracy (the "
    "Markdown table). Repeatable or comma-separated. Default: every figure the results support.",
)
def figures(
    results: tuple[Path, ...], out: Path, formats: tuple[str, ...], only: tuple[str, ...]
) -> None:
    """Publication figures (PDF/PNG/SVG) from saved results; Brian2 is not needed.

    Each RESULTS is a results.nc file or a run directory containing one. Every figure whose
    variables the dataset has is drawn:

    \b
      weights         weight image of each output neuron: weights (output_neuron, input),
                      attrs image_height x image_width (else a neurons x inputs heatmap),
                      optional attrs weight_min/weight_max and variable assignment
      trace           membrane potential: trace_v (trace_neuron, trace_time), optional
                      trace_threshold and trace_sample
      class_response  mean spikes per sample of each neuron for each class: class_response
                      (output_neuron, class)
      assignment      neurons assigned to each class, and unassigned ones: assignment
                      (output_neuron, -1 = unassigned)
      accuracy        <run>_accuracy.md: test accuracy mean ± std over repeats, from
                      test_accuracy (repeat)

    Prints the path of every file written.
    """
    from brainsnn.figures.registry import FIGURES, available, needed_variables
    from brainsnn.figures.style import check_formats, save
    from brainsnn.figures.unsupervised import test_accuracy_table

    chosen_formats = check_formats(_split(formats) or DEFAULT_FORMATS.split(","))
    choices = [*FIGURES, ACCURACY]
    wanted = _split(only)
    for name in wanted:
        if name not in choices:
            raise BrainsnnError(
                f"unknown figure '{name}' for --only; choose from {', '.join(choices)}"
            )

    # Read and check every file before writing anything.
    runs: list[_Run] = []
    for argument in results:
        path = results_file(argument)
        dataset = _open(path)
        run = _Run(path, run_name(argument, path), dataset)
        supported = available(dataset)
        has_table = "test_accuracy" in dataset.variables and dataset["test_accuracy"].dims in (
            (),
            ("repeat",),
        )
        if wanted:
            for name in wanted:
                if name == ACCURACY:
                    if not has_table:
                        raise BrainsnnError(
                            f"{path}: no accuracy table: needs variable test_accuracy (repeat)"
                        )
                elif name not in supported:
                    raise BrainsnnError(
                        f"{path}: figure '{name}' needs variable(s) "
                        f"{', '.join(FIGURES[name].missing(dataset))}, which it lacks"
                    )
            run.figures = [name for name in FIGURES if name in wanted]
            run.table = ACCURACY in wanted
        else:
            run.figures, run.table = supported, has_table
            if not supported and not has_table:
                raise BrainsnnError(
                    f"{path}: {RESULTS_NAME} has none of the variables these figures need: "
                    f"{', '.join([*needed_variables(), 'test_accuracy (repeat)'])}"
                )
        runs.append(run)
    names: dict[str, Path] = {}
    for run in runs:
        if run.name in names:
            raise BrainsnnError(
                f"{names[run.name]} and {run.path} have the same run name '{run.name}'; their "
                "figures would overwrite each other: give them in separate commands"
            )
        names[run.name] = run.path

    for run in runs:
        for name in run.figures:
            figure = FIGURES[name].make(run.dataset)
            for written in save(figure, out, f"{run.name}_{name}", chosen_formats):
                click.echo(str(written))
        if run.table:
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{run.name}_{ACCURACY}.md"
            path.write_text(f"# {run.name}\n\n{test_accuracy_table(run.dataset)}", encoding="utf-8")
            click.echo(str(path))
