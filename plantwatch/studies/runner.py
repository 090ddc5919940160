"""Run a study: every (variant, label fraction, seed), resumable, one process per run here or
one SLURM job per run (an active-learning study round after round)."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from plantwatch.studies.active_learning import SELECTION_JSON
from plantwatch.studies.annotation_loop import selection_plan
from plantwatch.studies.slurm_launcher import run_on_slurm
from plantwatch.studies.slurm_settings import SlurmSettings
from plantwatch.studies.spec import Run, Study
from plantwatch.studies.worker import ARGS, METRICS, rescore
from plantwatch.studies.worker_process import start_worker


def run_dir(root: Path, run: Run) -> Path:
    """The folder of ``run`` (also its TensorBoard log folder)."""
    return root / run.group / run.version


def pending_runs(study: Study, root: Path) -> list[Run]:
    """Runs without a ``metrics.json``: never started, or interrupted."""
    return [r for r in study.runs() if not (run_dir(root, r) / METRICS).is_file()]


def threads_per_run(jobs: int) -> int:
    """CPU threads of each of ``jobs`` runs at a time on this machine (its cores shared)."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def prepare_run(study: Study, root: Path, run: Run) -> Path:
    """The folder of ``run`` with its ``args.json`` (and, in an active-learning round, the
    selection plan of its label set); returns the folder."""
    folder = run_dir(root, run)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ARGS).write_text(json.dumps(study.run_args(run, root), indent=1))
    if study.active_learning is not None:
        plan = selection_plan(study, run, root, lambda r: run_dir(root, r))
        (folder / SELECTION_JSON).write_text(json.dumps(plan, indent=1))
    return folder


def report_run(run: Run, folder: Path, finished: bool, why: str = "") -> None:
    """Print one line: the run finished, or failed and where its log is."""
    status = "finished" if finished else f"FAILED ({why}see {folder}/stdout.log)"
    print(f"  {run.group}/{run.version}: {status}", flush=True)


def _execute_locally(study: Study, root: Path, run: Run, jobs: int) -> int:
    folder = prepare_run(study, root, run)
    code = start_worker(folder, threads_per_run(jobs)).wait()
    report_run(run, folder, code == 0, f"exit {code}, ")
    return code


def study_waves(study: Study, pending: list[Run]) -> list[list[Run]]:
    """The pending runs in the order they can run: all at once, or (active learning) one
    round after the other, since a round selects with the previous round's models."""
    if study.active_learning is None:
        return [pending]
    waves = [[r for r in pending if r.label_fraction == f] for f in study.label_fractions]
    return [w for w in waves if w]


def run_study(
    study: Study, root: str | Path, jobs: int = 1, slurm: SlurmSettings | None = None
) -> list[Run]:
    """Execute the unfinished runs of ``study`` under ``root/<name>``; returns failed runs.

    Finished runs (with ``metrics.json``) are skipped, interrupted ones resume from their
    last checkpoint. ``jobs`` runs execute at a time here (each its own process), or, with
    ``slurm``, every run is a task of a SLURM job array (`slurm_launcher.py`).
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
    failed: list[Run] = []
    for wave in study_waves(study, pending):
        if slurm is None:
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                codes = list(pool.map(lambda r: _execute_locally(study, folder, r, jobs), wave))
            done = [code == 0 for code in codes]
        else:
            folders = [prepare_run(study, folder, r) for r in wave]
            done = run_on_slurm(wave, folders, slurm, folder, f"plantwatch-{study.name}")
            for run, path, ok in zip(wave, folders, done, strict=True):
                report_run(run, path, ok, "see slurm.err, ")
        failed += [r for r, ok in zip(wave, done, strict=True) if not ok]
    return failed


def rescore_study(study: Study, root: Path) -> None:
    """Score the saved predictions of every finished run of ``study`` under ``root`` again
    (`worker.rescore`): the plant-period estimates change without training."""
    finished = [run_dir(root, r) for r in study.runs() if (run_dir(root, r) / METRICS).is_file()]
    for folder in tqdm(finished, desc=f"rescoring {study.name}", unit="run"):
        if (folder / "predictions" / "val").is_dir():
            rescore(folder)
