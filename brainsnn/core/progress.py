"""Progress bars of long passes (one style for every kind)."""

from __future__ import annotations

from tqdm import tqdm


def progress_bar(
    total: int, label: str, show: bool, initial: int = 0, unit: str = "sample"
) -> tqdm:
    """A transient tqdm bar over ``total`` items (hidden when ``show`` is false)."""
    return tqdm(
        total=total,
        initial=initial,
        desc=label,
        unit=unit,
        leave=False,
        disable=not show,
        dynamic_ncols=True,
    )
