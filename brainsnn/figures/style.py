"""Publication style: figure sizes, the Okabe–Ito palette, figure creation and saving.

Figures are plain ``matplotlib.figure.Figure`` objects, never pyplot figures: nothing here selects
a backend or touches pyplot's global state, so the functions work the same in scripts, on
headless machines (``savefig`` uses Agg for PNG, and the PDF/SVG writers) and in notebooks (where
a returned Figure is displayed by the notebook's own formatter).

The style sheet ``brainsnn.mplstyle`` is applied with :func:`styled` only while a figure is built
and saved, so the caller's rcParams are left as they were.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib.style
from matplotlib.figure import Figure

from brainsnn.core.errors import BrainsnnError

STYLE_PATH = Path(__file__).with_name("brainsnn.mplstyle")

SINGLE_COLUMN = (3.5, 2.6)  # inches: one column of a two-column journal page
DOUBLE_COLUMN = (7.2, 3.0)  # inches: full page width
SIZES = {"single": SINGLE_COLUMN, "double": DOUBLE_COLUMN}

# Okabe & Ito (2008) colour-blind-safe palette; black moved last and yellow late, so that the first
# colours of the cycle contrast well with a white background. Same order as the style's cycle.
OKABE_ITO = [
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
]
GREY = "#999999"

FORMATS = ("pdf", "png", "svg")
PNG_DPI = 300


@contextmanager
def styled() -> Iterator[None]:
    """Apply the brainsnn style to rcParams inside the ``with`` block only."""
    with matplotlib.style.context(STYLE_PATH):
        yield


def styled_figure[**P](make: Callable[P, Figure]) -> Callable[P, Figure]:
    """Decorator: build the figure inside :func:`styled`, and lay it out before leaving it.

    rcParams are read when artists (including lazily created ticks) are made, so the figure is
    drawn once (without rendering) inside the style: it then keeps the style when it is shown or
    saved later outside of it.
    """

    @functools.wraps(make)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with styled():
            figure = make(*args, **kwargs)
            figure.draw_without_rendering()
        return figure

    return wrapper


def figure_size(size: str | tuple[float, float]) -> tuple[float, float]:
    """``(width, height)`` in inches of ``"single"``, ``"double"`` or an explicit pair."""
    if isinstance(size, str):
        if size not in SIZES:
            raise BrainsnnError(f"unknown figure size '{size}'; choose from {', '.join(SIZES)}")
        return SIZES[size]
    width, height = size
    return float(width), float(height)


def new_figure(
    size: str | tuple[float, float] = SINGLE_COLUMN, layout: str | None = "constrained", **kwargs
) -> tuple[Figure, Any]:
    """A styled ``Figure`` (not registered with pyplot) and its axes.

    ``size`` is ``(width, height)`` in inches, or ``"single"`` / ``"double"`` (column width);
    ``layout`` is the Figure's layout engine; other keyword arguments go to
    ``Figure.subplots`` (``nrows``, ``ncols``, ``sharex``, ``squeeze``, ...), which gives the axes.
    """
    with styled():
        figure = Figure(figsize=figure_size(size), layout=layout)
        axes = figure.subplots(**kwargs)
    return figure, axes


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """The formats, lower-cased and without repeats; an unknown one is a BrainsnnError."""
    checked: list[str] = []
    for name in formats:
        text = name.strip().lower().lstrip(".")
        if text not in FORMATS:
            raise BrainsnnError(f"unknown format '{name}'; choose from {', '.join(FORMATS)}")
        if text not in checked:
            checked.append(text)
    if not checked:
        raise BrainsnnError(f"no output format given; choose from {', '.join(FORMATS)}")
    return tuple(checked)


def save(
    figure: Figure, out_dir: str | Path, name: str, formats: Iterable[str] = ("pdf", "png")
) -> list[Path]:
    """Write ``out_dir/name.<format>`` for each format (PNG at 300 dpi); the paths written.

    ``out_dir`` is created if needed. PDF and SVG carry no creation date, so the same figure
    gives the same file.
    """
    checked = check_formats(formats)
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in checked:
        path = directory / f"{name}.{fmt}"
        options: dict[str, Any] = {"format": fmt}
        if fmt == "png":
            options["dpi"] = PNG_DPI
        elif fmt == "pdf":
            options["metadata"] = {"Creator": "brainsnn", "CreationDate": None}
        elif fmt == "svg":
            options["metadata"] = {"Date": None}
        with styled():
            figure.savefig(path, **options)
        written.append(path)
    return written
