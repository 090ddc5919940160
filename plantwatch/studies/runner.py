"""Run a study: every (variant, label fraction, seed), resumable, one process per run (an
active-learning study round after round)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from plantwatch.studies.active_learning import SELECTION_JSON
from plantwatch.studies.annotation_loop import selection_plan
from plantwatch.studies.spec import Run, Study
from plantwatch.studies.worker import ARGS, METRICS, rescore


def run_dir(root: Path, run: Run) -> Path:
    """The folder of ``run`` (also its TensorBoard log folder)."""
    return root / run.group / run.version


def pending_runs(study: Study, root: Path) -> list[Run]:
    """Runs without a ``metrics.json``: never started, or interrupted."""
    return [r for r in study.runs() if not (run_dir(root, r) / METRICS).is_file()]


def worker_environment(jobs: int) -> dict[str, str]:
    """The environment of a run's process: the CPU cores shared among the ``jobs`` runs at
    a time (``OMP_NUM_THREADS``, unless set), since runs that each take every core slow one
    another down (2 runs on 2 cores: an epoch of the plant-year study took 3.3 min with 2
    threads each and 1.5 min with 1)."""
    threads = str(max(1, (os.cpu_count() or 1) // max(1, jobs)))
    return {"OMP_NUM_THREADS": threads, **os.environ, "PYTHONUNBUFFERED": "1"}


def _execute(study: Study, root: Path, run: Run, jobs: int = 1) -> int:
    folder = run_dir(root, run)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ARGS).write_text(json.dumps(study.run_args(run, root), indent=1))
    if study.active_learning is not None:
        plan = selection_plan(study, run, root, lambda r: run_dir(root, r))
        (folder / SELECTION_JSON).write_text(json.dumps(plan, indent=1))
    with (folder / "stdout.log").open("a") as log:
        done = subprocess.run(
            [sys.executable, "-m", "plantwatch.studies.worker", str(folder)],
            stdout=log, stderr=subprocess.STDOUT, env=worker_environment(jobs),
        )  # fmt: skip
    status = (
        "finished"
        if done.returncode == 0
        else f"FAILED (exit {done.returncode}, see {folder}/stdout.log)"
    )
    print(f"  {run.group}/{run.version}: {status}", flush=True)
    return done.returncode


def run_study(study: Study, root: str | Path, jobs: int = 1) -> list[Run]:
    """Execute the unfinished runs of ``study`` under ``root/<name>``; returns failed runs.

    Finished runs (with ``metrics.json``) are skipped, interrupted ones resume from their
    last checkpoint. ``jobs`` runs execute at a time (each its own process).
    """
    folder = Path(root) / study.name
    study.write_variant_configs(folder)
    pending = pending_runs(study, folder)
    total = len(study.runs())
    finished = total - len(pending)
    print(
        f"study {study.name}: {finished} of {total} runs finished, {len(pending)} to run",
        flush=True,
    )
    # an active-learning round needs the previous round's checkpoints: one wave a fraction
    waves = ([[r for r in pending if r.label_fraction == f] for f in study.label_fractions]
             if study.active_learning is not None else [pending])  # fmt: skip
    failed: list[Run] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for wave in waves:
            codes = list(pool.map(lambda r: _execute(study, folder, r, jobs), wave))
            failed += [r for r, code in zip(wave, codes, strict=True) if code != 0]
    return failed


def rescore_study(study: Study, root: Path) -> None:
    """Score the saved predictions of every finished run of ``study`` under ``root`` again
    (`worker.rescore`): the plant-period estimates change without training."""
    finished = [run_dir(root, r) for r in study.runs() if (run_dir(root, r) / METRICS).is_file()]
    for folder in tqdm(finished, desc=f"rescoring {study.name}", unit="run"):
        if (folder / "predictions" / "val").is_dir():
            rescore(folder)
