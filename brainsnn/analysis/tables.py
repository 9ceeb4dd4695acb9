"""Accuracy tables from saved datasets: mean ± std over folds, seeds or repeats; grid rankings.

A :class:`Table` holds its cells as values (numbers, :class:`MeanStd`) and writes itself as
Markdown or as a LaTeX ``tabular`` (booktabs rules). Accuracies are shown in percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from brainsnn.core.errors import BrainsnnError

#: Dimensions along which runs repeat the same experiment, in the order they are looked for.
REPLICATE_DIMS = ("fold", "seed", "repeat", "run")
#: Accuracy variables of a run or a sweep summary, in table order, with their row label.
ACCURACIES = {
    "train_accuracy": "train",
    "validation_accuracy": "validation",
    "test_accuracy": "test",
}


@dataclass(frozen=True)
class MeanStd:
    """Mean ± population standard deviation (ddof = 0) of ``count`` values, in their units."""

    mean: float
    std: float
    count: int

    @classmethod
    def of(cls, values: np.ndarray) -> MeanStd:
        """Of the finite values (NaN, e.g. a run that has not finished, are left out)."""
        values = np.asarray(values, dtype=float).ravel()
        values = values[np.isfinite(values)]
        if values.size == 0:
            return cls(float("nan"), float("nan"), 0)
        return cls(float(np.mean(values)), float(np.std(values)), int(values.size))


Cell = str | int | float | MeanStd


@dataclass(frozen=True)
class Table:
    """A small table: column titles, rows of cells, a caption and a note printed below it.

    Floats are written with 2 decimals, :class:`MeanStd` as ``mean ± std``; ``align`` holds one
    character per column, ``l`` or ``r``.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    align: str
    caption: str = ""
    note: str = ""

    def markdown(self) -> str:
        """GitHub-flavoured Markdown: the caption in bold, the table, then the note."""
        rule = ["--:" if side == "r" else ":--" for side in self.align]
        lines = [f"**{self.caption}**", ""] if self.caption else []
        lines += [_markdown_row(self.columns), _markdown_row(rule)]
        lines += [_markdown_row([_cell(value, "±") for value in row]) for row in self.rows]
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines) + "\n"

    def latex(self) -> str:
        """A ``table`` environment around a booktabs ``tabular`` (``\\usepackage{booktabs}``)."""
        lines = [r"\begin{table}", r"  \centering"]
        if self.caption:
            lines.append(rf"  \caption{{{_latex_escape(self.caption)}}}")
        lines += [rf"  \begin{{tabular}}{{{self.align}}}", r"    \toprule"]
        lines.append("    " + " & ".join(_latex_escape(c) for c in self.columns) + r" \\")
        lines.append(r"    \midrule")
        for row in self.rows:
            cells = [_latex_escape(_cell(value, "PLUSMINUS")) for value in row]
            text = " & ".join(cells).replace("PLUSMINUS", r"$\pm$")
            lines.append(f"    {text} " + r"\\")
        lines += [r"    \bottomrule", r"  \end{tabular}"]
        if self.note:
            lines.append(rf"  \par\smallskip{{\footnotesize {_latex_escape(self.note)}}}")
        lines.append(r"\end{table}")
        return "\n".join(lines) + "\n"


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", r"\|") for cell in cells) + " |"


def _cell(value: Cell, plus_minus: str) -> str:
    if isinstance(value, MeanStd):
        if value.count == 0:
            return "–"
        return f"{value.mean:.2f} {plus_minus} {value.std:.2f}"
    if isinstance(value, float | np.floating):
        return "–" if not np.isfinite(value) else f"{float(value):.2f}"
    return str(value)


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "–": "--",
}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def final_values(array: xr.DataArray) -> xr.DataArray:
    """The last finite value along ``epoch`` (runs that stopped early end in NaN); else as is."""
    if "epoch" not in array.dims:
        return array
    values = np.moveaxis(np.asarray(array.values, dtype=float), array.get_axis_num("epoch"), -1)
    finite = np.isfinite(values)
    last = values.shape[-1] - 1 - np.argmax(finite[..., ::-1], axis=-1)
    picked = np.take_along_axis(values, last[..., None], axis=-1)[..., 0]
    picked = np.where(finite.any(axis=-1), picked, np.nan)
    dims = [dim for dim in array.dims if dim != "epoch"]
    return xr.DataArray(picked, dims=dims, coords={d: array[d] for d in dims if d in array.coords})


def replicate_dim(ds: xr.Dataset) -> str | None:
    """The first of :data:`REPLICATE_DIMS` that an accuracy variable of ``ds`` has, else None."""
    for dim in REPLICATE_DIMS:
        if any(dim in ds[name].dims for name in ACCURACIES if name in ds.variables):
            return dim
    return None


def accuracy_table(
    source: xr.Dataset | Sequence[xr.Dataset], dim: str | None = None, caption: str = ""
) -> Table:
    """Train, validation and test accuracy (%) as mean ± std over folds, seeds or repeats.

    ``source`` is a dataset whose accuracy variables have a replicate dimension (a k-fold
    summary.nc: ``fold``; an unsupervised run: ``repeat``; :func:`combine_runs`: ``fold`` with
    ``epoch``), a single run (one value per variable, n = 1) or a sequence of runs (e.g. one per
    seed, stacked along ``run``). Per-epoch variables contribute their last finite epoch. ``dim``
    picks the replicate dimension (default: the first of fold, seed, repeat, run present). The
    std is the population standard deviation (ddof = 0), as SpikeNN's k-fold score.
    """
    if not isinstance(source, xr.Dataset):
        datasets = list(source)
        if not datasets:
            raise BrainsnnError("accuracy_table: no datasets given")
        columns = {
            name: xr.concat([final_values(_accuracy(ds, name)) for ds in datasets], dim="run")
            for name in ACCURACIES
            if all(name in ds.variables for ds in datasets)
        }
        ds, dim = xr.Dataset(columns), "run"
    else:
        ds = source
    if "point" in ds.dims:
        raise BrainsnnError(
            "a grid-search summary has one result per point, not repeats of one experiment: "
            "use grid_table"
        )
    dim = dim or replicate_dim(ds)
    rows = []
    for name, label in ACCURACIES.items():
        if name not in ds.variables:
            continue
        values = final_values(_accuracy(ds, name))
        if [d for d in values.dims if d != dim]:
            raise BrainsnnError(
                f"variable '{name}' has dims ({', '.join(map(str, ds[name].dims))}); expected "
                f"({', '.join(d for d in (dim, 'epoch') if d)}) or fewer"
            )
        rows.append((label, MeanStd.of(100 * values.values)))
    if not rows:
        raise BrainsnnError(
            f"no accuracy variable in the dataset (expected one of {', '.join(ACCURACIES)})"
        )
    if dim is None:  # one run: its values, no spread
        return Table(
            ("accuracy", "last epoch (%)"),
            tuple((label, summary.mean) for label, summary in rows),
            "lr",
            caption,
            "A single run: accuracy at its last epoch.",
        )
    over = {"fold": "folds", "seed": "seeds", "repeat": "repeats", "run": "runs"}.get(dim, dim)
    note = f"Mean ± population standard deviation (ddof = 0) over {over}" + (
        "; last epoch of each run." if "epoch" in ds.dims else "."
    )
    return Table(
        ("accuracy", "mean ± std (%)", over),
        tuple((label, summary, summary.count) for label, summary in rows),
        "lrr",
        caption,
        note,
    )


def _accuracy(ds: xr.Dataset, name: str) -> xr.DataArray:
    if name not in ds.variables:
        raise BrainsnnError(f"dataset has no variable '{name}'")
    return ds[name]


def grid_table(ds: xr.Dataset, top: int | None = None, caption: str = "") -> Table:
    """Grid-search points, best last validation accuracy first (ties: lower point number).

    Needs a grid-search ``summary.nc`` (``point`` dimension; swept keys as coordinates named in
    attr ``swept_keys``): columns rank, point, the swept keys, validation and test accuracy (%)
    and epochs. ``top`` keeps the first rows only.
    """
    if "point" not in ds.dims:
        raise BrainsnnError("grid_table needs a grid-search summary (dimension 'point')")
    keys = [key for key in str(ds.attrs.get("swept_keys", "")).split(", ") if key in ds.variables]
    if not keys:
        keys = [name for name in ds.coords if name != "point" and ds[name].dims == ("point",)]
    validation = np.asarray(_accuracy(ds, "validation_accuracy").values, dtype=float)
    test = np.asarray(_accuracy(ds, "test_accuracy").values, dtype=float)
    order = sorted(range(validation.size), key=lambda i: (-validation[i], i))[:top]
    rows = []
    for rank, i in enumerate(order, start=1):
        swept = [_value(ds[key].values[i]) for key in keys]
        epochs = int(ds["epochs"].values[i]) if "epochs" in ds.variables else "–"
        point = int(ds["point"].values[i])
        rows.append((rank, point, *swept, 100 * validation[i], 100 * test[i], epochs))
    columns = ("rank", "point", *keys, "validation (%)", "test (%)", "epochs")
    note = "Ranked by the last epoch's validation accuracy."
    return Table(columns, tuple(rows), "rr" + "l" * len(keys) + "rrr", caption, note)


def _value(value: object) -> Cell:
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, float):
        return f"{value:g}"  # a swept value as written, not rounded to 2 decimals
    return value if isinstance(value, int | str) else str(value)


def summary_table(ds: xr.Dataset, caption: str = "") -> Table:
    """:func:`grid_table` for a grid search, else :func:`accuracy_table`."""
    if "point" in ds.dims:
        return grid_table(ds, caption=caption)
    return accuracy_table(ds, caption=caption)


def has_summary_table(ds: xr.Dataset) -> bool:
    """Whether :func:`summary_table` applies: an accuracy variable with no dims but epoch and a
    replicate dim (or ``point`` with validation and test accuracy)."""
    if "point" in ds.dims:
        return all(name in ds.variables for name in ("validation_accuracy", "test_accuracy"))
    present = [name for name in ACCURACIES if name in ds.variables]
    dim = replicate_dim(ds)
    allowed = {"epoch", dim}
    return bool(present) and all(set(ds[name].dims) <= allowed for name in present)
