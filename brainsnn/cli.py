"""The ``brainsnn`` command line: run, validate, show, doctor, data convert."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import click
import yaml

from brainsnn import __version__
from brainsnn.errors import BrainsnnError

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


@main.command()
@PROTOCOL
@SET
@click.option(
    "--device",
    type=click.Choice(["runtime", "cpp", "cuda"]),
    default=None,
    help="Brian2 device: runtime (debugging, slow), cpp (compiled C++, default), cuda "
    "(brian2cuda, needs a GPU and 'pip install brainsnn[cuda]').",
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
def run(
    protocol: Path,
    overrides: tuple[str, ...],
    device: str | None,
    out: str | None,
    seed: int | None,
    resume: bool,
    quiet: bool,
) -> None:
    """Run PROTOCOL: train with early stopping, then write results.nc in the run directory."""
    from brainsnn.experiment import run_protocol

    if resume and not out:
        raise BrainsnnError("--resume needs --out RUN_DIR (the directory of the interrupted run)")
    loaded = _load(protocol, overrides, device, seed)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("brainsnn").addHandler(console)
    outcome = run_protocol(loaded, out=out, resume=resume, show_progress=not quiet)
    data = outcome.dataset
    click.echo(
        f"{loaded.name}: {int(data.attrs['epochs'])} epochs on {data.attrs['device']}, "
        f"{data.attrs['mean_train_samples_per_second']:.0f} training samples/s"
    )
    click.echo(f"  train accuracy      {float(data.train_accuracy[-1]):.4f}")
    click.echo(f"  validation accuracy {float(data.validation_accuracy[-1]):.4f}")
    click.echo(f"  test accuracy       {float(data.test_accuracy[-1]):.4f}")
    click.echo(f"results: {outcome.directory / 'results.nc'}")


@main.command()
@PROTOCOL
@SET
def validate(protocol: Path, overrides: tuple[str, ...]) -> None:
    """Check PROTOCOL and its model files without running anything."""
    loaded = _load(protocol, overrides)
    click.echo(
        f"{protocol}: valid protocol '{loaded.name}' ({len(loaded.network.models)} model files)"
    )


@main.command()
@PROTOCOL
@SET
def show(protocol: Path, overrides: tuple[str, ...]) -> None:
    """Print PROTOCOL fully resolved: every key with its default, and all model parameters."""
    from brainsnn.protocol import load_models, resolve_parameters

    loaded = _load(protocol, overrides)
    resolved = loaded.model_dump()
    resolved["network"]["parameters"] = resolve_parameters(loaded, load_models(loaded))
    click.echo(yaml.safe_dump(resolved, sort_keys=False).rstrip())


def _version(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return "not found"
    text = (result.stdout or result.stderr).strip().splitlines()
    return text[0] if text else "not found"


@main.command()
def doctor() -> None:
    """Report Python, Brian2, the C++ compiler, and CUDA (nvcc, GPU, brian2cuda) if any."""
    import brian2
    import numpy

    lines = [
        ("python", sys.version.split()[0]),
        ("brainsnn", __version__),
        ("brian2", brian2.__version__),
        ("numpy", numpy.__version__),
        (
            "c++ compiler",
            _version(["g++", "--version"])
            if shutil.which("g++")
            else "not found: install g++ (apt-get install g++) for device cpp",
        ),
    ]
    lines.append(
        (
            "nvcc",
            _version(["nvcc", "--version"])
            if shutil.which("nvcc")
            else "not found (device cuda unavailable)",
        )
    )
    lines.append(
        ("gpu", _version(["nvidia-smi", "-L"]) if shutil.which("nvidia-smi") else "none found")
    )
    try:
        import brian2cuda

        lines.append(("brian2cuda", brian2cuda.__version__))
    except ImportError:
        lines.append(("brian2cuda", "not installed (pip install 'brainsnn[cuda]')"))
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


if __name__ == "__main__":
    main()
