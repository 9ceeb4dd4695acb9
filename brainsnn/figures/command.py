"""``brainsnn figures``: publication figures from saved results.nc files.

Only click is imported at module level (the CLI imports this module on every start); xarray and
matplotlib are imported when the command runs. Brian2 is never imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

from brainsnn.core.errors import BrainsnnError

ACCURACY = "accuracy"  # --only name of the accuracy table (Markdown and LaTeX)
TABLE_SUFFIXES = (".md", ".tex")
DEFAULT_FORMATS = "pdf,png"


@dataclass
class _Run:
    path: Path
    name: str
    dataset: object  # xarray.Dataset, loaded into memory
    figures: list[str] = field(default_factory=list)
    table: bool = False


def run_name(argument: Path, file: Path) -> str:
    """The run (or sweep) directory's name, or the file's stem for another file name."""
    from brainsnn.analysis.loading import RESULTS_NAME, SUMMARY_NAME

    if argument.is_dir():
        return argument.resolve().name
    if file.name in (RESULTS_NAME, SUMMARY_NAME):
        return file.resolve().parent.name
    return file.stem


def _split(values: tuple[str, ...]) -> list[str]:
    """Repeated and comma-separated option values, in order, without empty items."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


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
    help="Draw only this figure: weights, trace, class_response, assignment, learning_curves, "
    "confusion, raster, first_spike_times, thresholds, wins, competition, accuracy_over_time, "
    "training_curves, layer_activity, or accuracy (the Markdown and LaTeX table). Repeatable "
    "or comma-separated. Default: every figure the results support.",
)
def figures(
    results: tuple[Path, ...], out: Path, formats: tuple[str, ...], only: tuple[str, ...]
) -> None:
    """Publication figures (PDF/PNG/SVG) from saved results; Brian2 is not needed.

    Each RESULTS is a results.nc file, a run directory containing one, or a k-fold / grid search
    directory (its summary.nc). Every figure whose variables the dataset has is drawn:

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
      learning_curves train, validation and test accuracy per epoch: test_accuracy
                      (epoch), optional train_accuracy, validation_accuracy
      confusion       confusion matrix of the test set: test_label, test_prediction
      raster          first output spikes of one test sample per class, winner ringed:
                      test_first_spike_time (test_sample, output_neuron), test_label,
                      neuron_class, optional test_potential and neuron_nontarget
      first_spike_times
                      decision time (first output spike, units of T) per true class:
                      test_first_spike_time, test_label
      thresholds      final thresholds per neuron grouped by class: test_threshold,
                      neuron_class, optional training_threshold and neuron_nontarget
      wins            test samples decided by each neuron, own class or not:
                      test_first_spike_time, test_label, neuron_class
      competition     share of each epoch's training samples won by each neuron, and the
                      training thresholds over epochs: train_wins (epoch, output_neuron),
                      neuron_class, optional epoch_training_threshold
      accuracy_over_time
                      gradient runs: test accuracy if deciding by time t, FS vs FR decoding,
                      latencies: accuracy_over_time (decoding, step), latency_50/_90
      training_curves gradient runs: loss, training and validation accuracy per epoch:
                      train_loss (epoch)
      layer_activity  gradient runs: spikes per neuron per test sample of each layer:
                      spikes_per_neuron (layer)
      accuracy        <run>_accuracy.md and .tex: train/validation/test accuracy (%) mean
                      ± std over folds, seeds or repeats (a k-fold summary.nc, an
                      unsupervised run's test_accuracy (repeat)), the last epoch of a
                      single run, or a grid search's points ranked by validation accuracy

    Prints the path of every file written.
    """
    from brainsnn.analysis.loading import read_dataset, results_file
    from brainsnn.analysis.tables import has_summary_table, summary_table
    from brainsnn.figures.registry import FIGURES, available, needed_variables
    from brainsnn.figures.style import check_formats, save

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
        dataset = read_dataset(path)
        run = _Run(path, run_name(argument, path), dataset)
        supported = available(dataset)
        has_table = has_summary_table(dataset)
        if wanted:
            for name in wanted:
                if name == ACCURACY:
                    if not has_table:
                        raise BrainsnnError(
                            f"{path}: no accuracy table: needs accuracy variables with at most "
                            "an epoch and a fold, seed, repeat or point dim"
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
                    f"{path}: {path.name} has none of the variables these figures need: "
                    f"{', '.join([*needed_variables(), 'test_accuracy'])}"
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
            table = summary_table(run.dataset, caption=f"Accuracy of {run.name}")
            for suffix, text in zip(TABLE_SUFFIXES, (table.markdown(), table.latex()), strict=True):
                path = out / f"{run.name}_{ACCURACY}{suffix}"
                path.write_text(text, encoding="utf-8")
                click.echo(str(path))
