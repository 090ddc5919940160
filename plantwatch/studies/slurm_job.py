"""`StudyRunJob`: the SLURM job of one study run, as submitit runs it on a compute node.

It starts the run's worker (`worker_process.start_worker`, output in
``RUN_DIR/stdout.log``) and waits. When SLURM warns of a time limit or a preemption
(submitit's signal, ``USR2``), submitit calls `StudyRunJob.checkpoint`: the worker is stopped
(Lightning ends it at the next batch, so the epoch's ``last.ckpt`` stays whole) and the same
job is requeued; its next attempt resumes from ``last.ckpt`` and trains the remaining epochs
as an uninterrupted run would (``data/loading/epoch_loader.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from submitit.helpers import DelayedSubmission

from plantwatch.studies.worker_process import start_worker

STOP_GRACE_S = 60.0  # how long a stopped worker may take to end before it is killed


def allocated_cores() -> int:
    """The CPU cores of this SLURM job (``SLURM_CPUS_PER_TASK``, else the usable cores)."""
    if "SLURM_CPUS_PER_TASK" in os.environ:
        return int(os.environ["SLURM_CPUS_PER_TASK"])
    usable = getattr(os, "sched_getaffinity", None)
    return len(usable(0)) if usable is not None else os.cpu_count() or 1


def stop(process: subprocess.Popen | None, grace_s: float = STOP_GRACE_S) -> None:
    """End ``process``: SIGTERM, then SIGKILL after ``grace_s``. Safe in a signal handler
    that interrupted ``process.wait()`` (it reaps the process with ``os.waitpid``)."""
    if process is None or process.returncode is not None:
        return
    try:
        os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if os.waitpid(process.pid, os.WNOHANG)[0]:
                return
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGKILL)
        os.waitpid(process.pid, 0)
    except (ChildProcessError, ProcessLookupError):  # already ended and reaped
        return


class StudyRunJob:
    """The callable that submitit runs: ``StudyRunJob()(run_dir)``."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None

    def __call__(self, run_dir: str) -> str:
        """Run the study run in ``run_dir``; returns ``run_dir``.

        Raises:
            RuntimeError: the run failed (its ``stdout.log`` says why).
        """
        self._process = start_worker(Path(run_dir), allocated_cores())
        code = self._process.wait()
        if code != 0:
            raise RuntimeError(f"{run_dir}: the run failed (exit {code}); see its stdout.log")
        return run_dir

    def checkpoint(self, run_dir: str) -> DelayedSubmission:
        """Preempted or out of time: stop the worker and submit the same run again."""
        stop(self._process)
        return DelayedSubmission(StudyRunJob(), run_dir)
