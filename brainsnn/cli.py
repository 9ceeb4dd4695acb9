"""The ``brainsnn`` command line: run, validate, show, doctor, data, import, sweeps."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import yaml

from brainsnn import __version__
from brainsnn.core.errors import BrainsnnError
from brainsnn.core.signals import stop_on_sigterm
from brainsnn.devices import describe_devices, device_names

if TYPE_CHECKING:
    from brainsnn.sweeps.execute import Workers

PROTOCOL = click.argument("protocol", type=click.Path(dir_okay=False, path_type=Path))
SET = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a protocol key, e.g. --set training.max_epochs=5 or "
    "--set network.parameters.gap=0.01 (value parsed as YAML). Repeatable.",
)


class FriendlyGroup(click.Group):
    """Print BrainsnnError (bad input) as one line and exit 2, without a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrainsnnError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except OSError as exc:  # disk full, permission denied, ...: one line, no traceback
            where = f": {exc.filename}" if exc.filename else ""
            click.echo(f"error: {exc.strerror or exc}{where}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo(
                "interrupted: completed chunks are checkpointed; continue with "
                "'brainsnn run PROTOCOL --out RUN_DIR --resume'",
                err=True,
            )
            sys.exit(130)


@click.group(cls=FriendlyGroup)
@click.version_option(__version__, prog_name="brainsnn")
def main() -> None:
    """brainsnn: spiking-neural-network classification experiments on Brian2.

    Protocols (YAML, see protocols/README.md) describe data, network, training, recording and
    device; model files (models/) hold the Brian2 equations.
    """
    # Brian2 chains its Ctrl-C handler to the one it finds at import; a process started in the
    # background inherits "ignore", which it cannot call. Give it Python's default first.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stop_on_sigterm()


def _load(
    protocol: Path, overrides: tuple[str, ...], device: str | None = None, seed: int | None = None
):
    from brainsnn.protocol import load_protocol

    extra = list(overrides)
    if device:
        extra.append(f"device.name={device}")
    if seed is not None:
        extra.append(f"seed={seed}")
    return load_protocol(protocol, extra)


#: Lines of profile.txt that ``brainsnn run --profile`` prints (the header and the slowest).
PROFILE_LINES_SHOWN = 12


@main.command()
@PROTOCOL
@SET
@click.option(
    "--device",
    type=click.Choice(device_names()),
    default=None,
    help=f"Brian2 device (default: the protocol's device.name, cpp): {describe_devices()}.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Run directory (default: the protocol's output.directory, results/<name>/<timestamp>).",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed of the initial weights (overrides the protocol's seed).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run from the checkpoint in --out (the last completed chunk).",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option(
    "--profile",
    is_flag=True,
    help="Run every chunk under Brian2's profiler and write the time of each code object, "
    "summed over the run, to RUN_DIR/profile.txt (standalone devices compile a separate "
    "profiled build).",
)
def run(
    protocol: Path,
    overrides: tuple[str, ...],
    device: str | None,
    out: str | None,
    seed: int | None,
    resume: bool,
    quiet: bool,
    profile: bool,
) -> None:
    """Run PROTOCOL: train, test, then write results.nc in the run directory."""
    from brainsnn.kinds import get_kind
    from brainsnn.run import run_protocol

    if resume and not out:
        raise BrainsnnError("--resume needs --out RUN_DIR (the directory of the interrupted run)")
    loaded = _load(protocol, overrides, device, seed)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("brainsnn").addHandler(console)
    outcome = run_protocol(loaded, out=out, resume=resume, show_progress=not quiet, profile=profile)
    for line in get_kind(loaded.kind).report(loaded, outcome.dataset, outcome.directory):
        click.echo(line)
    click.echo(f"results: {outcome.directory / 'results.nc'}")
    if outcome.profile is not None:
        lines = outcome.profile.read_text().splitlines()
        click.echo("\n".join(lines[:PROFILE_LINES_SHOWN]))
        if len(lines) > PROFILE_LINES_SHOWN:
            click.echo(f"... {len(lines) - PROFILE_LINES_SHOWN} more code objects")
        click.echo(f"profile: {outcome.profile}")


@main.command()
@PROTOCOL
@SET
@click.option(
    "--data",
    "read_data",
    is_flag=True,
    help="Also read, check and encode the data (files present, labels from 0, equal sample "
    "shapes, no NaN), as a run does before it writes anything.",
)
def validate(protocol: Path, overrides: tuple[str, ...], read_data: bool) -> None:
    """Check PROTOCOL, its model files and their Brian2 code without running anything."""
    from brainsnn.kinds import get_kind

    loaded = _load(protocol, overrides)
    kind = get_kind(loaded.kind)
    if kind.check is not None:
        kind.check(loaded)
    if read_data:
        kind.prepare(loaded.protocol)
    click.echo(f"{protocol}: {kind.summary(loaded)}{', data read' if read_data else ''}")


@main.command()
@PROTOCOL
@SET
def show(protocol: Path, overrides: tuple[str, ...]) -> None:
    """Print PROTOCOL fully resolved: every key with its default, and all model parameters."""
    from brainsnn.kinds import get_kind

    loaded = _load(protocol, overrides)
    resolved = get_kind(loaded.kind).show(loaded)
    click.echo(yaml.safe_dump(resolved, sort_keys=False).rstrip())


@main.command()
def doctor() -> None:
    """Report Python, Brian2 and what each registered device needs (C++ compiler, CUDA)."""
    import brian2
    import numpy

    from brainsnn.devices import device_report

    lines = [
        ("python", sys.version.split()[0]),
        ("brainsnn", __version__),
        ("brian2", brian2.__version__),
        ("numpy", numpy.__version__),
        *device_report(),
    ]
    for name, value in lines:
        click.echo(f"{name:>14}: {value}")


@main.group()
def data() -> None:
    """Dataset tools."""


@data.command("convert")
@click.argument("features", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("labels", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
def convert(features: Path, labels: Path, output: Path) -> None:
    """Write a SpikeNN SpikingDataset file from FEATURES (X.npy, spike times in [0, 1], 1 =
    silent) and LABELS (y.npy), like SpikeNN's generate_dataset.py."""
    from brainsnn.data import convert_features

    count = convert_features(features, labels, output)
    click.echo(f"wrote {count} samples to {output}")


@main.group("import")
def import_group() -> None:
    """Turn other programs' configurations into protocols."""


@import_group.command("spikenn-config")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--features",
    metavar="DIR",
    help="Folder of SpikeNN's trainset.npy and testset.npy "
    "[default: ~/data/spikenn/<extractor>/<dataset> from the config's path].",
)
@click.option(
    "--classes",
    type=click.IntRange(min=2),
    default=None,
    help="Number of classes C [default: from the config's dataset folder, e.g. F-MNIST: 10].",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Protocol file to write ('-': standard output) [default: NAME.yaml here].",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def import_spikenn_config(
    config: Path, features: str | None, classes: int | None, output: Path | None, force: bool
) -> None:
    """Write a protocol from a SpikeNN readout CONFIG (JSON), key by key.

    SpikeNN's defaults fill absent keys and its quirks are kept (a missing use_two_thr runs
    CR-2); lists of values (its grid-search files) become a sweep: for 'brainsnn gridsearch'.
    A key brainsnn cannot honour is refused. The protocol is validated before it is written.
    """
    from brainsnn.protocol import load_protocol
    from brainsnn.spikenn_configs import import_file, render

    imported, origin = import_file(config, features=features, n_classes=classes)
    text = render(imported, origin)
    if output == Path("-"):
        click.echo(text, nl=False)
        return
    output = output or Path(f"{config.stem}.yaml")
    if output.exists() and not force:
        raise BrainsnnError(f"{output} exists: choose another --output, or --force")
    partial = output.with_name(f".{output.name}.partial")
    partial.write_text(text, encoding="utf-8")
    try:
        load_protocol(partial)
    except BrainsnnError:
        partial.unlink()
        raise
    partial.replace(output)
    click.echo(f"wrote {output}; run it with: brainsnn run {output}")


@data.command("spoken-digits")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--per-class-speaker",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Utterances of each class by each speaker.",
)
@click.option(
    "--speakers",
    type=click.IntRange(2, 20),
    default=20,
    show_default=True,
    help="Speakers (espeak-ng voice variants); a fifth of them are test-only.",
)
@click.option(
    "--languages",
    default="en,de",
    show_default=True,
    help="Comma-separated: en (labels 0-9), de (labels 10-19).",
)
@click.option(
    "--channels",
    type=click.IntRange(min=1),
    default=700,
    show_default=True,
    help="Cochlea channels.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Voices, pitches, speeds.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes synthesising in parallel (default: the CPU count).",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def spoken_digits(
    out_dir: Path,
    per_class_speaker: int,
    speakers: int,
    languages: str,
    channels: int,
    seed: int,
    workers: int | None,
    quiet: bool,
) -> None:
    """Synthesise an offline SHD substitute into OUT_DIR: spoken_train.h5 / spoken_test.h5.

    Digits 0-9 in English and German spoken by espeak-ng voices, through a 700-channel
    brian2hears Gammatone cochlea and LIF neurons; SHD's file layout, speaker-disjoint test
    split. Needs 'apt-get install espeak-ng'. A split already made with the same options is
    reused, so an interrupted run can simply be repeated.
    """
    from brainsnn.data import synthesise_spoken_digits

    try:
        report = synthesise_spoken_digits(
            out_dir,
            per_class_speaker=per_class_speaker,
            n_speakers=speakers,
            languages=tuple(lang.strip() for lang in languages.split(",") if lang.strip()),
            channels=channels,
            seed=seed,
            workers=workers,
            show_progress=not quiet,
        )
    except KeyboardInterrupt:
        click.echo(
            f"interrupted: finished splits in {out_dir} are kept; repeat the command to continue",
            err=True,
        )
        sys.exit(130)
    for split in ("train", "test"):
        stats = report[f"{split}_stats"]
        click.echo(
            f"{report[split]}: {stats['samples']} samples, speakers {report[f'{split}_speakers']}, "
            f"{stats['mean_spikes']:.0f} spikes per sample (min {stats['min_spikes']}, "
            f"max {stats['max_spikes']}), mean duration {stats['mean_duration_s']:.2f} s"
        )
    click.echo(f"done in {report['seconds']:.0f} s")


# --- sweeps: k-fold cross-validation and grid search on Dask -------------------------------------

SWEEP_DEVICE = click.option(
    "--device",
    type=click.Choice(device_names()),
    default=None,
    help="Brian2 device of every run (same as --set device.name=...).",
)
SWEEP_OUT = click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="Sweep directory, one run directory per fold / point inside (default: the protocol's "
    "output.directory with timestamp kfold-<time> or gridsearch-<time>, e.g. "
    "results/<name>/kfold-<time>).",
)


def _count_option(name: str, help: str):
    """An optional option taking a whole number of at least 1 (default: None)."""
    return click.option(name, type=click.IntRange(min=1), default=None, help=help)


SWEEP_WORKERS = _count_option(
    "--workers",
    "Local Dask worker processes, each running one batch of folds / points at a time "
    "(default 2). Not with --scheduler.",
)
SWEEP_BATCH = _count_option(
    "--batch",
    "Runs per worker process: each worker runs a batch of folds / points one after "
    "another in one fresh Python process, which saves the start-up of a process, the imports "
    "and the loading of the compiled builds for every run (default: the runs shared out "
    "evenly, one batch per worker; 1: a fresh process per run). A failed run is retried in "
    "a batch of its own.",
)
SWEEP_SCHEDULER = click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Use a running Dask scheduler (e.g. tcp://host:8786) instead of local workers. Its "
    "workers need brainsnn, and the protocol, data and --out at the same paths; each worker "
    "thread runs one batch of folds / points at a time.",
)
SWEEP_RESUME = click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted sweep in --out with the same protocol and options: finished "
    "runs (with results.nc) are kept, interrupted ones continue from their checkpoint, the "
    "others run.",
)


def _sweep_overrides(
    overrides: tuple[str, ...], device: str | None, out: str | None, pool: Workers, resume: bool
) -> list[str]:
    if pool.workers is not None and pool.scheduler:
        raise BrainsnnError("give either --workers (a local cluster) or --scheduler, not both")
    if resume and not out:
        raise BrainsnnError("--resume needs --out DIR (the directory of the interrupted sweep)")
    return [*overrides, *([f"device.name={device}"] if device else [])]


def _run_sweep(command: str, protocol: Path, start) -> object:
    """Run a sweep; on Ctrl-C say how to resume it."""
    from brainsnn.sweeps.summary import Interrupted

    try:
        return start()
    except Interrupted as exc:
        click.echo(
            f"interrupted: finished runs are kept, interrupted ones are checkpointed; continue "
            f"with 'brainsnn {command} {protocol} --out {exc.directory} --resume' (same options)",
            err=True,
        )
        sys.exit(130)


def _finish_sweep(outcome, what: str) -> None:
    """Name the summary; exit 1 if a run failed or nothing finished."""
    if outcome.summary is not None:
        click.echo(f"summary: {outcome.directory / 'summary.nc'}")
    else:
        click.echo(f"error: no {what} finished; nothing to summarise", err=True)
    if outcome.failures:
        click.echo(f"error: {len(outcome.failures)} {what}(s) failed:", err=True)
        for line in outcome.failures:
            click.echo(f"  {line}", err=True)
    if outcome.failures or outcome.summary is None:
        sys.exit(1)


@main.command()
@PROTOCOL
@click.option(
    "--k", "k", type=click.IntRange(min=2), default=10, show_default=True, help="Number of folds K."
)
@SET
@SWEEP_DEVICE
@SWEEP_OUT
@SWEEP_WORKERS
@SWEEP_BATCH
@SWEEP_SCHEDULER
@SWEEP_RESUME
def kfold(
    protocol: Path,
    k: int,
    overrides: tuple[str, ...],
    device: str | None,
    out: str | None,
    workers: int | None,
    batch: int | None,
    scheduler: str | None,
    resume: bool,
) -> None:
    """K-fold cross-validation of PROTOCOL: K runs, in --out DIR/fold-0 ... fold-<K-1>.

    Run i trains on all folds but fold i of StratifiedKFold(K, no shuffling) over the training
    set, stops early on fold i, uses seed i, and is tested on the test set. Writes
    DIR/summary.nc (per-fold results) and prints the mean ± population std of the final test
    accuracies. A failed fold is retried once; the exit code is 1 if one still failed.
    """
    from brainsnn.sweeps.execute import Workers
    from brainsnn.sweeps.kfold import kfold_lines, run_kfold

    pool = Workers(workers, scheduler, batch)
    extra = _sweep_overrides(overrides, device, out, pool, resume)
    outcome = _run_sweep(
        "kfold", protocol, lambda: run_kfold(protocol, k, extra, out, pool, resume)
    )
    if outcome.summary is not None:
        click.echo("\n".join(kfold_lines(outcome.summary)))
    _finish_sweep(outcome, "fold")


@main.command()
@PROTOCOL
@SET
@click.option(
    "--sweep",
    "sweeps",
    multiple=True,
    metavar="KEY=[V1,V2,...]",
    help="Sweep a protocol key over a YAML list of values, e.g. --sweep "
    "network.parameters.gap=[0.1,0.2]; adds the key to the protocol's sweep: block, or "
    "replaces it there. Repeatable.",
)
@SWEEP_DEVICE
@SWEEP_OUT
@SWEEP_WORKERS
@SWEEP_BATCH
@SWEEP_SCHEDULER
@SWEEP_RESUME
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Points shown in the ranking printed at the end.",
)
def gridsearch(
    protocol: Path,
    overrides: tuple[str, ...],
    sweeps: tuple[str, ...],
    device: str | None,
    out: str | None,
    workers: int | None,
    batch: int | None,
    scheduler: str | None,
    resume: bool,
    top: int,
) -> None:
    """Grid search: a run of PROTOCOL for every combination of the swept values.

    The grid is the protocol's sweep: block (dotted keys mapped to lists of values) plus --sweep
    options; point NNN runs in DIR/point-NNN with its values in point.yaml. Set
    training.stop_below to abort runs whose accuracy is below it after epoch 2. Writes
    DIR/summary.nc and prints the points ranked by their last validation accuracy. A failed
    point is retried once; the exit code is 1 if one still failed.
    """
    from brainsnn.sweeps.execute import Workers
    from brainsnn.sweeps.grid import parse_sweep_options, ranking_lines, run_gridsearch

    pool = Workers(workers, scheduler, batch)
    extra = _sweep_overrides(overrides, device, out, pool, resume)
    grid = parse_sweep_options(sweeps)
    outcome = _run_sweep(
        "gridsearch",
        protocol,
        lambda: run_gridsearch(protocol, extra, grid, out, pool, resume),
    )
    if outcome.summary is not None:
        click.echo("\n".join(ranking_lines(outcome.summary, top)))
    _finish_sweep(outcome, "point")


SWEEP_DIRECTORY = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))


@main.command("kfold-summary")
@SWEEP_DIRECTORY
def kfold_summary(directory: Path) -> None:
    """Per-fold results of the k-fold run in DIRECTORY and their mean ± population std.

    Recomputed from the folds' results.nc (also while the k-fold is still running).
    """
    from brainsnn.sweeps.kfold import kfold_lines, kfold_summary

    summary = kfold_summary(directory)
    if summary is None:
        raise BrainsnnError(f"{directory}: no fold has finished yet")
    click.echo("\n".join(kfold_lines(summary)))


@main.command("gridsearch-summary")
@SWEEP_DIRECTORY
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=None,
    help="Show only the N best points (default: all).",
)
def gridsearch_summary(directory: Path, top: int | None) -> None:
    """Points of the grid search in DIRECTORY, best last validation accuracy first.

    Recomputed from the points' results.nc (also while the search is still running).
    """
    from brainsnn.sweeps.grid import grid_summary, ranking_lines

    summary = grid_summary(directory)
    if summary is None:
        raise BrainsnnError(f"{directory}: no grid point has finished yet")
    click.echo("\n".join(ranking_lines(summary, top)))


from brainsnn.figures.command import figures  # noqa: E402  (its own module: no Brian2 import)

main.add_command(figures)

if __name__ == "__main__":
    main()
