"""Start a study run's worker as its own process (``python -m plantwatch.studies.worker
RUN_DIR``). Standard library only: a SLURM job imports it before it starts the run, and so
costs no second import of torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def worker_environment(threads: int) -> dict[str, str]:
    """The environment of a run's process: ``threads`` CPU threads (``OMP_NUM_THREADS``,
    unless set), since runs that each take every core slow one another down (2 runs on 2
    cores: an epoch of the plant-year study took 3.3 min with 2 threads each and 1.5 min
    with 1)."""
    return {"OMP_NUM_THREADS": str(max(1, threads)), **os.environ, "PYTHONUNBUFFERED": "1"}


def start_worker(run_dir: Path, threads: int) -> subprocess.Popen:
    """Start the run in ``run_dir`` as its own process, its output appended to
    ``RUN_DIR/stdout.log``."""
    with (run_dir / "stdout.log").open("a") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "plantwatch.studies.worker", str(run_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=worker_environment(threads),
        )  # fmt: skip
