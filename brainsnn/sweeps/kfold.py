"""K-fold cross-validation (spec §7): fold i validates on fold i of StratifiedKFold, seed i."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import xarray as xr

from brainsnn.core.errors import BrainsnnError
from brainsnn.core.results import VariableSpec
from brainsnn.kinds import DEFAULT_KIND, get_kind
from brainsnn.protocol import load_protocol
from brainsnn.sweeps.execute import LOCAL_WORKERS, Workers, run_sweep
from brainsnn.sweeps.summary import (
    SweepOutcome,
    final_scores,
    read_manifest,
    summary_dataset,
    sweep_directory,
)
from brainsnn.sweeps.tasks import Task

FOLD = VariableSpec(("fold",), "1", "fold index (the fold used as validation set; also the seed)")


def fold_overrides(kind: str, k: int, fold: int) -> tuple[str, ...]:
    """The overrides that make a protocol of ``kind`` run fold ``fold`` of ``k``; a kind
    without k-fold splits refuses in one line."""
    chosen = get_kind(kind)
    if chosen.fold_overrides is None:
        raise BrainsnnError(f"brainsnn kfold: {chosen.no_kfold_reason}")
    return chosen.fold_overrides(k, fold)


def fold_tasks(directory: Path, kind: str, k: int, overrides: list[str]) -> list[Task]:
    """One task per fold, in DIR/fold-i."""
    return [
        Task(f"fold {i}", directory / f"fold-{i}", (*overrides, *fold_overrides(kind, k, i)))
        for i in range(k)
    ]


def run_kfold(
    protocol_path: Path,
    k: int,
    overrides: list[str],
    out: str | None = None,
    pool: Workers = LOCAL_WORKERS,
    resume: bool = False,
) -> SweepOutcome:
    """Run the K folds of a protocol (the missing ones with ``resume``), then write summary.nc."""
    if k < 2:
        raise BrainsnnError(f"--k {k}: K-fold cross-validation needs at least 2 folds")
    path = protocol_path.resolve()
    kind = load_protocol(path, overrides).kind
    base = load_protocol(path, [*overrides, *fold_overrides(kind, k, 0)])  # bad input fails here
    directory = sweep_directory(base, "kfold", out)
    manifest = {
        "kind": "kfold",
        "name": base.name,
        "protocol": str(path),
        "set": list(overrides),
        "folds": k,
        "protocol_kind": kind,
    }
    return run_sweep(
        directory, manifest, resume, path, lambda: fold_tasks(directory, kind, k, overrides),
        pool, "k-fold", kfold_summary,
    )  # fmt: skip


def kfold_summary(directory: Path) -> xr.Dataset | None:
    """Per-fold final results of a k-fold directory and their mean ± std (None if none finished).

    The std is the population standard deviation (``np.std``), as in SpikeNN's get_kfold_score.
    """
    manifest = read_manifest(directory)
    if manifest.get("kind") != "kfold":
        raise BrainsnnError(f"{directory} holds a {manifest.get('kind')}, not a k-fold run")
    k = int(manifest["folds"])
    kind = manifest.get("protocol_kind", DEFAULT_KIND)
    finished = {i: final_scores(directory / f"fold-{i}", kind) for i in range(k)}
    finished = {i: values for i, values in finished.items() if values is not None}
    if not finished:
        return None
    test = 100 * np.array([values["test_accuracy"] for values in finished.values()])
    attrs = {
        "protocol": manifest["name"],
        "protocol_file": manifest["protocol"],
        "overrides": " ".join(manifest["set"]),
        "folds": k,
        "folds_finished": len(finished),
        "test_accuracy_mean_percent": float(np.mean(test)),
        "test_accuracy_std_percent": float(np.std(test)),
        "std": "population standard deviation (np.std) over the finished folds",
        "created": datetime.now().isoformat(timespec="seconds"),
    }
    return summary_dataset("fold", list(finished), FOLD, list(finished.values()), {}, attrs)


def kfold_lines(summary: xr.Dataset) -> list[str]:
    """One line per finished fold, then 'test accuracy: mean ± std % over K folds'."""
    lines = [
        f"fold {int(fold)}: test {float(summary.test_accuracy.sel(fold=fold)):.4f}  "
        f"validation {float(summary.validation_accuracy.sel(fold=fold)):.4f}  "
        f"epochs {int(summary.epochs.sel(fold=fold))}"
        for fold in summary.fold.values
    ]
    finished, k = summary.attrs["folds_finished"], summary.attrs["folds"]
    missing = f" (of {k}; the others have not finished)" if finished < k else ""
    lines.append(
        f"test accuracy: {summary.attrs['test_accuracy_mean_percent']:.2f} ± "
        f"{summary.attrs['test_accuracy_std_percent']:.2f} % over {finished} folds{missing}"
    )
    return lines
