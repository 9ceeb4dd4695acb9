"""Interrupt brainsnn runs at many moments and check that every resume gives the same results.

For each moment: start ``brainsnn run`` (its own process group), kill -9 the whole group (the
Python process and its compiled child) after a delay, then continue with ``--resume`` (or start
again when no checkpoint was written yet) and compare results.nc with an uninterrupted run.
Also: a kill -9 while a cold build is being compiled/linked, then a rerun; and SIGTERM, which
must stop the compiled child and leave the run resumable. Prints one line per case.

    python benchmarks/kill_resume.py --moments 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_results import differences

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "protocols" / "ncg_digits.yaml"
SETTINGS = ["--set", "training.max_epochs=8", "--set", "training.patience=0",
            "--set", "training.chunk_size=300", "--quiet"]  # fmt: skip
COMMAND = [sys.executable, "-c", "from brainsnn.cli import main; main()", "run", str(PROTOCOL)]


def start(out: Path, env: dict, resume: bool = False) -> subprocess.Popen:
    extra = ["--resume"] if resume else []
    return subprocess.Popen(
        [*COMMAND, "--out", str(out), *SETTINGS, *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def finish(out: Path, env: dict) -> tuple[int, str]:
    resume = (out / "checkpoint.npz").exists() and not (out / "results.nc").exists()
    if (out / "results.nc").exists():
        return 0, "finished before the kill"
    process = start(out, env, resume=resume)
    output, _ = process.communicate()
    return process.returncode, output


def litter(out: Path, cache: Path) -> list[str]:
    """Temporaries in the run directory and private build copies of dead processes."""
    found = [p.name for p in out.iterdir() if p.name.endswith((".tmp.npz", ".nc.tmp"))]
    for runs in cache.glob("builds/*/runs"):
        found += [f"runs/{p.name}" for p in runs.iterdir()]
    return found


def compare(reference: Path, out: Path) -> str:
    with xr.open_dataset(reference) as a, xr.open_dataset(out / "results.nc") as b:
        lines = differences(a, b)
    return "identical" if not lines else "DIFFERENT: " + "; ".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moments", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="brainsnn-kill-"))
    cache = work / "cache"
    env = {**os.environ, "BRAINSNN_CACHE": str(cache)}
    failures = 0

    # 1. kill -9 during the cold build (compile and link), then a rerun
    out = work / "cold"
    process = start(out, env)
    build = None
    while process.poll() is None and build is None:
        found = list(cache.glob("builds/cpp_standalone-*/main"))
        build = found[0].parent if found else None
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    state = "no binary yet" if build is None else f"binary of {(build / 'main').stat().st_size} B"
    code, output = finish(out, env)
    ok = code == 0 and (out / "results.nc").exists()
    failures += not ok
    print(f"kill -9 during the cold build ({state}), then rerun: {'ok' if ok else output}")

    # 2. the uninterrupted reference, and its wall time
    reference = work / "reference"
    begun = time.perf_counter()
    subprocess.run([*COMMAND, "--out", str(reference), *SETTINGS], env=env, check=True,
                   capture_output=True)  # fmt: skip
    wall = time.perf_counter() - begun
    print(f"uninterrupted run: {wall:.1f} s")

    # 3. kill -9 at evenly spread moments of the run
    for number in range(args.moments):
        moment = wall * (number + 0.5) / args.moments
        out = work / f"kill-{number}"
        process = start(out, env)
        time.sleep(moment)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        code, output = finish(out, env)
        verdict = compare(reference / "results.nc", out) if code == 0 else output.strip()
        left = litter(out, cache)
        ok = code == 0 and verdict == "identical" and not left
        failures += not ok
        print(f"kill -9 at {moment:5.2f} s: resume {verdict}; litter {left or 'none'}")

    # 4. SIGTERM reaches the compiled child; the run resumes identically
    out = work / "sigterm"
    process = start(out, env)
    binary = None
    while process.poll() is None and binary is None:
        listing = subprocess.run(["pgrep", "-f", "-s", str(process.pid), "/runs/"],
                                 capture_output=True, text=True).stdout.split()  # fmt: skip
        binary = listing[0] if listing else None
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate()
    time.sleep(0.5)
    alive = subprocess.run(["pgrep", "-s", str(process.pid)], capture_output=True).stdout.strip()
    code, resumed = finish(out, env)
    verdict = compare(reference / "results.nc", out) if code == 0 else resumed.strip()
    ok = bool(binary) and not alive and code == 0 and verdict == "identical"
    failures += not ok
    print(
        f"SIGTERM while the compiled child ran: exit {process.returncode}, children left "
        f"{alive.decode().split() or 'none'}, resume {verdict}"
    )
    shutil.rmtree(work, ignore_errors=True)
    print(f"{'all cases passed' if not failures else f'{failures} case(s) FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
