"""Brian2's own profiler, summed over a run's chunks (``brainsnn run --profile``).

With profiling on, every chunk runs with Brian2's ``profile=True``: each code object (a group's
state update, thresholder, resetter, a pathway's spike propagation, a monitor) measures its own
wall time. The runners add each chunk's figures here; the run writes the sums as a table.
Standalone devices compile profiled builds apart from the plain ones, so profiling never changes
the build that ordinary runs use.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

_TOTALS: dict[str, float] = {}
_STATE = {"enabled": False, "chunks": 0}


def enable_profiling(enabled: bool = True) -> None:
    """Switch profiling on (or off) for the chunks run from now on; forget earlier figures."""
    _STATE["enabled"] = enabled
    _STATE["chunks"] = 0
    _TOTALS.clear()


def profiling_enabled() -> bool:
    """Whether chunks run with Brian2's profiler."""
    return bool(_STATE["enabled"])


def add_chunk_profile(rows: Iterable[tuple[str, float]]) -> None:
    """Add one chunk's (code object, seconds) figures to the run's sums."""
    _STATE["chunks"] += 1
    for name, seconds in rows:
        _TOTALS[name] = _TOTALS.get(name, 0.0) + float(seconds)


def read_standalone_profile(results: Path) -> list[tuple[str, float]]:
    """(code object, seconds) from a standalone run's ``profiling_info.txt`` (empty if none)."""
    try:
        text = (Path(results) / "profiling_info.txt").read_text()
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            rows.append((parts[0], float(parts[1])))
    return rows


def profile_totals() -> list[tuple[str, float]]:
    """The summed figures, slowest code object first."""
    return sorted(_TOTALS.items(), key=lambda item: (-item[1], item[0]))


def profile_table() -> str:
    """The sums as a text table: seconds, share of the total, code object."""
    rows = profile_totals()
    if not rows:
        return "no Brian2 simulation ran, so there is nothing to profile\n"
    total = sum(seconds for _, seconds in rows)
    lines = [
        f"Brian2 profile: {total:.3f} s in {len(rows)} code objects over "
        f"{_STATE['chunks']} chunk run(s)",
        f"{'seconds':>10} {'share':>6}  code object",
    ]
    for name, seconds in rows:
        share = 100 * seconds / total if total > 0 else 0.0
        lines.append(f"{seconds:>10.4f} {share:>5.1f}%  {name}")
    return "\n".join(lines) + "\n"
