"""Peers' own venvs for the side-by-side benchmarks (``vs_*.py``, which import this module from
benchmarks/): made once from a base interpreter, with pip, under benchmarks/output/peer_venvs."""

from __future__ import annotations

import subprocess
from pathlib import Path


def last_line(text: str) -> str:
    """The last non-empty line of a command's output ("no output" if none)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def create_venv(base_python: str, venv: Path, installs: list[list[str]]) -> Path:
    """Make ``venv`` from ``base_python`` and run ``pip install --quiet`` with each argument list
    of ``installs``; returns the venv's python. RuntimeError names the failing step and its
    last line of output."""
    python = venv / "bin" / "python"
    commands = [[base_python, "-m", "venv", str(venv)]]
    commands += [[str(python), "-m", "pip", "install", "--quiet", *spec] for spec in installs]
    for command in commands:
        try:
            done = subprocess.run(command, capture_output=True, text=True)
        except OSError as exc:
            raise RuntimeError(f"install failed: {command[0]}: {exc.strerror}") from None
        if done.returncode != 0:
            reason = last_line(done.stderr or done.stdout)
            raise RuntimeError(f"install failed ({' '.join(command[-1:])}): {reason}")
    return python
