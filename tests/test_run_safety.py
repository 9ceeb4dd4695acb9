"""Runs never clobber each other and survive interruptions: one run per directory, a cached
build that heals itself after an interrupted compile, litter removed on resume."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr
from click.testing import CliRunner

from brainsnn.cli import main
from brainsnn.core.errors import BrainsnnError
from brainsnn.core.rundir import LOCK, check_run_directory, release_run_directory
from brainsnn.devices.runners import (
    BUILD_MARKER,
    build_is_complete,
    discard_broken_build,
    mark_build_complete,
)

ROOT = Path(__file__).resolve().parent.parent
TINY = [
    "data.train_subset=100", "data.test_subset=30", "training.max_epochs=2",
    "training.chunk_size=30", "device.name=runtime",
]  # fmt: skip


def _options(overrides: list[str]) -> list[str]:
    return [part for item in overrides for part in ("--set", item)]


def test_a_second_run_into_a_busy_directory_fails_at_once(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-c", "from brainsnn.cli import main; main()", "run"]
    protocol = str(ROOT / "protocols" / "ncg_digits.yaml")
    first = subprocess.Popen(
        [*command, protocol, "--out", str(out), "--quiet", *_options(TINY)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out / LOCK).exists() or "pid" not in (out / LOCK).read_text():
            assert first.poll() is None and time.monotonic() < deadline, "first run never started"
            time.sleep(0.05)
        started = time.monotonic()
        second = CliRunner().invoke(
            main, ["run", protocol, "--out", str(out), *_options([*TINY, "seed=1"])]
        )
        assert time.monotonic() - started < 10
        assert second.exit_code == 2, second.output
        assert "is in use by another brainsnn run" in second.output
        assert len(second.output.strip().splitlines()) == 1
    finally:
        output, _ = first.communicate(timeout=300)
    assert first.returncode == 0, output
    with xr.open_dataset(out / "results.nc") as results:
        assert int(results.attrs["seed"]) == 0  # the first run's results, whole
        assert results.sizes["epoch"] >= 1


def test_resume_removes_the_temporaries_an_interrupted_run_left(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.npz").write_bytes(b"")
    for name in ("tmpab12.tmp.npz", "tmpcd34.nc.tmp"):
        (run / name).write_bytes(b"half")
    check_run_directory(run, resume=True)
    release_run_directory(run)
    assert sorted(path.name for path in run.iterdir()) == sorted([LOCK, "checkpoint.npz"])


def test_resume_names_the_settings_newer_than_the_saved_protocol(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.npz").write_bytes(b"")
    (run / "protocol.yaml").write_text("network:\n  size: 3\n")
    try:
        check_run_directory(run, resume=True, protocol={"network": {"size": 3}})
        with pytest.raises(BrainsnnError) as error:
            check_run_directory(run, True, {"network": {"size": 3, "fuse": True}})
    finally:
        release_run_directory(run)
    message = str(error.value)
    assert "differs from" in message and "in network.fuse (network.fuse not in the saved" in message


def test_a_truncated_checkpoint_is_a_one_line_error(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.npz").write_bytes(b"PK\x03\x04 not a whole archive")
    protocol = ROOT / "protocols" / "ncg_digits.yaml"
    result = CliRunner().invoke(
        main, ["run", str(protocol), "--out", str(run), "--resume", *_options(TINY)]
    )
    assert result.exit_code == 2, result.output
    assert "not a readable brainsnn checkpoint" in result.output
    assert "start a fresh run" in result.output and "Traceback" not in result.output


def test_a_build_whose_compile_was_interrupted_is_discarded(tmp_path):
    build = tmp_path / "cpp_standalone-0123456789abcdef"
    build.mkdir()
    (build / "main").write_bytes(b"\x7fELF complete binary")
    mark_build_complete(build)
    assert build_is_complete(build)
    discard_broken_build(build)
    assert build.exists()  # a complete build is kept
    (build / "main").write_bytes(b"")  # killed while linking: an empty binary, and
    (build / BUILD_MARKER).unlink()  # the marker goes before every compile
    assert not build_is_complete(build)
    discard_broken_build(build)
    assert not build.exists()
