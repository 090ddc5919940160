"""``plantwatch compare --launcher slurm`` against a fake SLURM (tests/data/fake_slurm.py) whose
sbatch runs the job scripts that submitit writes as local processes."""

import json
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pandas as pd
import pytest
import yaml

from plantwatch.cli import main
from plantwatch.errors import UserError
from plantwatch.studies.slurm_settings import SlurmSettings
from tests.data.fake_slurm import install_fake_slurm, wait_for_state
from tests.data.fakes import tiny_cli_args

REPO = Path(__file__).parents[2]
COMPARE = [sys.executable, "-c", "from plantwatch.cli import main; main()", "compare"]


VARIANTS = {"multitask": {}, "power_only": ["experiments/model/single_task_power.yaml"]}


class SlowEpochs(L.Callback):
    """Each epoch takes a second longer: time to preempt a run between two checkpoints."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        time.sleep(1.0)


def write_study(tmp_path: Path, name: str, seeds: list[int], epochs: int, *extra: str,
                variants: tuple[str, ...] = ("multitask", "power_only")) -> Path:  # fmt: skip
    args = [*tiny_cli_args(tmp_path / "ds", tmp_path / "unused"), f"--trainer.max_epochs={epochs}",
            "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2", *extra]  # fmt: skip
    study = {
        "name": name, "base": ["quickstart"], "seeds": seeds, "label_fractions": [1.0],
        "args": [a for a in args if "logger.init_args.save_dir" not in a],
        "variants": {k: v for k, v in VARIANTS.items() if k in variants},
        "metrics": ["power_mae_mw"],
        "slurm": {"partition": "debug", "time_min": 10, "cpus_per_run": 1, "parallelism": 2,
                  "poll_s": 0.3},
    }  # fmt: skip
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def fake_tasks(cluster: Path) -> dict:
    return json.loads((cluster / "state" / "tasks.json").read_text())


@pytest.mark.slow  # 80 s here, 3 min on a loaded machine
def test_a_study_survives_preemption_and_a_stopped_compare_on_slurm(tmp_path, monkeypatch):
    """Four runs as one job array. compare stops while they run (a closed laptop); SLURM's
    warning signal (USR2) reaches the first run mid-training: submitit checkpoints its job,
    which stops the worker, and requeues it. compare, called again, waits for the four jobs
    instead of submitting them again; the preempted run resumes from last.ckpt and ends with
    the metrics of an uninterrupted run; a third call finds nothing to submit."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # SLURM and local runs: sums in the same order
    env = install_fake_slurm(tmp_path / "cluster")
    slow = "--trainer.callbacks+=tests.studies.test_slurm.SlowEpochs"
    study = write_study(tmp_path, "array", [0, 1], 2, slow)
    runs, results = tmp_path / "runs", tmp_path / "results"
    command = [*COMPARE, str(study), "--root", str(runs), "--results", str(results),
               "--launcher", "slurm", "--slurm", "time_min=60"]  # fmt: skip
    first = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    preempted = runs / "array" / "multitask" / "frac1" / "seed0"  # the array's task 0
    while first.poll() is None and not (preempted / "checkpoints" / "last.ckpt").is_file():
        time.sleep(0.05)  # its first epoch's checkpoint
    first.kill()
    first.wait()
    wait_for_state(tmp_path / "cluster", "1000_0", "RUNNING")
    subprocess.run(["scancel", "1000_0", "--signal", "USR2"], env=env, check=True)

    again = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True,
                           timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "runs still queued or running on SLURM: waiting for them" in again.stdout
    assert "submitted" not in again.stdout
    tasks = fake_tasks(tmp_path / "cluster")
    assert sorted(tasks) == [f"1000_{i}" for i in range(4)]  # one array, nothing resubmitted
    assert {t["state"] for t in tasks.values()} == {"COMPLETED"}
    script = next((runs / "array" / "slurm").glob("*submission.sh")).read_text()
    assert "#SBATCH --array=0-3%2" in script and "#SBATCH --partition=debug" in script
    folders = sorted(p.parent for p in (runs / "array").glob("*/*/*/metrics.json"))
    assert len(folders) == 4
    for folder in folders:  # the job's logs beside the run's own
        assert (folder / "stdout.log").is_file() and (folder / "slurm.out").resolve().is_file()
    attempts = (preempted / "attempts.log").read_text().splitlines()
    assert len(attempts) == 2 and attempts[1].endswith("resume=True"), attempts
    log = (preempted / "slurm.err").read_text()
    assert "Caught signal SIGUSR2" in log and "this job is preempted" in log  # submitit's
    table = pd.read_csv(results / "array.csv")
    assert table["variant"].value_counts()[["multitask", "power_only"]].tolist() == [2, 2]

    third = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True,
                           timeout=300)  # fmt: skip
    assert "4 of 4 runs finished, 0 to run" in third.stdout and "submitted" not in third.stdout

    alone = write_study(tmp_path, "alone", [0], 2, slow, variants=("multitask",))
    main(["compare", str(alone), "--root", str(tmp_path / "local"), "--results",
          str(tmp_path / "local_results")])  # fmt: skip
    resumed = json.loads((preempted / "metrics.json").read_text())
    whole = json.loads(next((tmp_path / "local").glob("alone/*/*/*/metrics.json")).read_text())
    resumed.pop("wall_s"), whole.pop("wall_s")
    assert resumed == whole


def test_dry_run_prints_the_array_and_its_script_and_writes_nothing(tmp_path, capsys):
    study = write_study(tmp_path, "dry", [0, 1], 1)
    main(["compare", str(study), "--root", str(tmp_path / "runs"), "--launcher", "slurm",
          "--slurm", "gpus_per_run=1", "--slurm", "time_min=45", "--dry-run"])  # fmt: skip
    out = capsys.readouterr().out
    assert "would submit 4 runs as one SLURM job array (2 at a time" in out
    assert "[3] power_only/frac1/seed1" in out
    for line in ("#SBATCH --array=0-3%2", "#SBATCH --gpus-per-node=1", "#SBATCH --time=45",
                 "#SBATCH --partition=debug", "#SBATCH --signal=USR2@90"):  # fmt: skip
        assert line in out
    assert not (tmp_path / "runs").exists()


def test_without_srun_the_slurm_launcher_says_where_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun
    study = write_study(tmp_path, "nosrun", [0], 1)
    with pytest.raises(SystemExit):
        main(["compare", str(study), "--root", str(tmp_path / "runs"), "--launcher", "slurm"])
    assert "no srun on PATH" in capsys.readouterr().err


def test_slurm_settings_come_from_the_study_and_the_command_line(tmp_path):
    settings = SlurmSettings.from_mapping(
        {"partition": "gpu", "gpus_per_run": 2, "mem_gb": 7.5, "setup": ["module load cuda"],
         "sbatch": {"mail-type": "END"}}, "study.yaml",
    )  # fmt: skip
    settings = settings.with_overrides(["time_min=120", "account=climate"])
    parameters = settings.executor_parameters("plantwatch-x")
    assert parameters["partition"] == "gpu" and parameters["account"] == "climate"
    assert parameters["time"] == 120 and parameters["gpus_per_node"] == 2
    assert parameters["mem"] == "7680MB" and parameters["setup"] == ["module load cuda"]
    assert parameters["additional_parameters"] == {"mail-type": "END"}
    assert "gpus_per_node" not in SlurmSettings().executor_parameters("x")  # CPU runs
    for bad, message in (({"partiton": "gpu"}, "unknown settings"),
                         ({"time_min": 0}, "time_min must be a positive"),
                         ([1], "a mapping")):  # fmt: skip
        with pytest.raises(UserError, match=message):
            SlurmSettings.from_mapping(bad, "study.yaml")
    with pytest.raises(UserError, match="KEY=VALUE"):
        settings.with_overrides(["partition"])
