"""Run a study's pending runs as one SLURM job array through submitit (``plantwatch compare
--launcher slurm``), wait for them, and say which finished.

Job ids are kept in ``<study root>/slurm/jobs.json``; submitit's files (job script, pickles,
logs) in ``<study root>/slurm/``, and each run folder links its job's log as ``slurm.out`` and
``slurm.err`` beside the run's own ``stdout.log``. A run whose job is still queued or running
(``compare`` was stopped and called again) is waited for, not submitted again; a finished run is
never submitted; a failed, cancelled or timed-out one is submitted on the next call.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from plantwatch.errors import UserError
from plantwatch.files.atomic import write_text_atomic
from plantwatch.studies.run import Run
from plantwatch.studies.slurm_job import StudyRunJob
from plantwatch.studies.slurm_settings import SlurmSettings

if TYPE_CHECKING:
    from submitit import SlurmExecutor, SlurmJob
    from submitit.slurm.slurm import SlurmInfoWatcher

JOBS_JSON = "jobs.json"
ACTIVE_STATES = ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING",
                 "SUSPENDED", "PREEMPTED", "READY", "REQUEUE_HOLD", "REQUEUE_FED")  # fmt: skip


def slurm_folder(study_root: Path) -> Path:
    """submitit's folder of a study's jobs."""
    return study_root / "slurm"


def _job_ids(study_root: Path) -> dict[str, str]:
    path = slurm_folder(study_root) / JOBS_JSON
    return json.loads(path.read_text()) if path.is_file() else {}


def _save_job_ids(study_root: Path, ids: dict[str, str]) -> None:
    write_text_atomic(slurm_folder(study_root) / JOBS_JSON, json.dumps(ids, indent=1))


def _key(run: Run) -> str:
    return f"{run.group}/{run.version}"


def _link_logs(folder: Path, job: SlurmJob) -> None:
    """``slurm.out`` / ``slurm.err`` in the run folder: links to the job's submitit logs."""
    for name, target in (("slurm.out", job.paths.stdout), ("slurm.err", job.paths.stderr)):
        link = folder / name
        link.unlink(missing_ok=True)
        link.symlink_to(os.path.relpath(target, folder))


def job_script(settings: SlurmSettings, study_root: Path, name: str, count: int) -> str:
    """The sbatch script that submitit writes for a job array of ``count`` runs."""
    from submitit.slurm.slurm import _make_sbatch_string

    command = " ".join([shlex.quote(sys.executable), "-u -m submitit.core._submit",
                        shlex.quote(str(slurm_folder(study_root)))])  # fmt: skip
    parameters = settings.executor_parameters(name)
    return _make_sbatch_string(command=command, folder=slurm_folder(study_root),
                               map_count=count if count > 1 else None, **parameters)  # fmt: skip


def _executor(settings: SlurmSettings, study_root: Path, name: str) -> SlurmExecutor:
    import submitit

    try:
        executor = submitit.SlurmExecutor(folder=slurm_folder(study_root),
                                          max_num_timeout=settings.max_requeues)  # fmt: skip
    except RuntimeError:
        raise UserError(
            "--launcher slurm: no srun on PATH; run compare on a SLURM login node "
            "(--dry-run prints the job script anywhere)"
        ) from None
    executor.update_parameters(**settings.executor_parameters(name))
    return executor


def _state(job_id: str, watcher: SlurmInfoWatcher) -> str:
    """The job's last polled state (``CANCELLED by 123`` → ``CANCELLED``)."""
    return watcher.get_state(job_id, mode="cache").split()[0]


def _ended(job: SlurmJob, watcher: SlurmInfoWatcher) -> bool:
    """The job has ended: SLURM says so, or (not in its accounting yet or any more) its result
    is written."""
    state = _state(job.job_id, watcher)
    if state == "UNKNOWN":
        return job.paths.result_pickle.exists()
    return state not in ACTIVE_STATES


def run_on_slurm(
    runs: list[Run], folders: list[Path], settings: SlurmSettings, study_root: Path, name: str
) -> list[bool]:
    """Submit the runs in ``folders`` (prepared, with ``args.json``) as one job array, or wait
    for their jobs still in the queue; returns per run whether it finished (``metrics.json``)."""
    import submitit

    from plantwatch.studies.worker import METRICS

    slurm_folder(study_root).mkdir(parents=True, exist_ok=True)
    ids = _job_ids(study_root)
    watcher = submitit.SlurmJob.watcher
    known = {_key(r): ids[_key(r)] for r in runs if _key(r) in ids}
    for job_id in known.values():  # registered once: the watcher polls them from now on
        watcher.register_job(job_id)
    if known:
        watcher.update()
    jobs = {}
    for run in runs:
        job_id = known.get(_key(run))
        if job_id is not None and _state(job_id, watcher) in ACTIVE_STATES:
            jobs[_key(run)] = submitit.SlurmJob(slurm_folder(study_root), job_id)
    submit = [(r, f) for r, f in zip(runs, folders, strict=True) if _key(r) not in jobs]
    if jobs:
        print(f"  {len(jobs)} runs still queued or running on SLURM: waiting for them",
              flush=True)  # fmt: skip
    if submit:
        executor = _executor(settings, study_root, name)
        submitted = executor.map_array(StudyRunJob(), [str(f) for _, f in submit])
        for (run, folder), job in zip(submit, submitted, strict=True):
            jobs[_key(run)] = job
            ids[_key(run)] = job.job_id
            _link_logs(folder, job)
        for job in submitted:
            watcher.register_job(job.job_id)
        _save_job_ids(study_root, ids)
        print(f"  submitted {len(submit)} runs as SLURM job {submitted[0].job_id.split('_')[0]}"
              f" ({settings.parallelism} at a time)", flush=True)  # fmt: skip
    waiting = set(jobs)
    with tqdm(total=len(jobs), desc=f"SLURM jobs of {name}", unit="run") as bar:
        while waiting:
            time.sleep(settings.poll_s)
            watcher.update()
            ended = {k for k in waiting if _ended(jobs[k], watcher)}
            if ended:
                bar.update(len(ended))
                waiting -= ended
    return [(folder / METRICS).is_file() for folder in folders]


def print_dry_run(runs: list[Run], settings: SlurmSettings, study_root: Path, name: str,
                  later_rounds: int = 0) -> None:  # fmt: skip
    """Print what ``run_on_slurm`` would submit: the runs and the sbatch script."""
    print(f"would submit {len(runs)} runs as one SLURM job array "
          f"({settings.parallelism} at a time; logs in {slurm_folder(study_root)}):")  # fmt: skip
    for index, run in enumerate(runs):
        print(f"  [{index}] {_key(run)}")
    if later_rounds:
        print(f"and then, each after the one before, {later_rounds} more arrays (the "
              "active-learning rounds, which select from the previous round's models)")  # fmt: skip
    print("\nthe job script (submitit runs each run's worker in it):\n")
    print(job_script(settings, study_root, name, len(runs)))
