"""plantwatch fit under SLURM: two processes started as ``srun`` starts them on two nodes (the
``SLURM_*`` variables of ranks 0 and 1), DDP on gloo, the packed path on a shared folder; and a
fit that SLURM warns of its time limit saves, requeues itself and resumes (fake SLURM)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch

from tests.data.fake_slurm import install_fake_slurm, submit, wait_for_state
from tests.data.fakes import tiny_cli_args

REPO = Path(__file__).parents[2]


class RecordRanks(L.Callback):
    """Writes what each process saw when its data was set up into ``<root dir>/rank<k>.json``."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        packed = Path(trainer.datamodule.packed_root) / "packed.json"
        seen = {"environment": type(trainer.strategy.cluster_environment).__name__,
                "global_rank": trainer.global_rank, "node_rank": trainer.node_rank,
                "world_size": trainer.world_size, "packed": packed.is_file()}  # fmt: skip
        path = Path(trainer.default_root_dir) / f"rank{trainer.global_rank}.json"
        path.write_text(json.dumps(seen))


class SlowSecondEpoch(L.Callback):
    """The second epoch's batches take a second longer: time to signal a job mid-epoch."""

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.current_epoch == 1:
            time.sleep(1.0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_fit_reads_the_slurm_allocation_and_rank_zero_packs_for_both_nodes(tmp_path):
    args = ["--config", "ddp", *tiny_cli_args(tmp_path / "ds", tmp_path / "runs"),
            "--trainer.num_nodes=2",
            "--trainer.sync_batchnorm=false", "--data.init_args.pin_memory=false",
            "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=2",
            "--trainer.callbacks+=tests.training.test_slurm_fit.RecordRanks"]  # fmt: skip
    command = [str(Path(sys.executable).parent / "plantwatch"), "fit", *args]
    launcher = {"LOCAL_RANK", "NODE_RANK", "GLOBAL_RANK", "RANK", "WORLD_SIZE", "MASTER_ADDR"}
    base = {k: v for k, v in os.environ.items() if k not in launcher}
    base.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO),
                SLURM_JOB_ID="4242", SLURM_JOB_NAME="plantwatch-fit", SLURM_NTASKS="2",
                SLURM_NTASKS_PER_NODE="1", SLURM_JOB_NUM_NODES="2", SLURM_NNODES="2",
                SLURM_NODELIST="localhost", SLURM_JOB_NODELIST="localhost", SLURM_LOCALID="0",
                MASTER_PORT=str(free_port()))  # fmt: skip
    ranks = [{**base, "SLURM_PROCID": str(rank), "SLURM_NODEID": str(rank)} for rank in (0, 1)]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    processes = [subprocess.Popen(command, cwd=tmp_path, env=env, **pipes) for env in ranks]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
    seen = [json.loads((tmp_path / "runs" / f"rank{k}.json").read_text()) for k in (0, 1)]
    for rank, values in enumerate(seen):
        assert values["environment"] == "SLURMEnvironment" and values["world_size"] == 2
        assert values["global_rank"] == rank and values["node_rank"] == rank
        assert values["packed"]  # node 1 waited until node 0 had packed the shared folder
    assert "pack packed" in outputs[0] and "pack packed" not in outputs[1]  # rank 0 alone
    assert (tmp_path / "runs" / "plantwatch" / "version_0" / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow
def test_a_fit_warned_by_slurm_saves_requeues_itself_and_resumes(tmp_path):
    """The sbatch example's mechanism: ``--signal=SIGUSR1@…`` makes Lightning save
    ``hpc_ckpt_1.ckpt`` and call ``scontrol requeue``; the requeued job resumes from it."""
    env = {**install_fake_slurm(tmp_path / "cluster"), "PYTHONPATH": str(REPO),
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}  # fmt: skip
    root = tmp_path / "root"
    args = [*tiny_cli_args(tmp_path / "ds", tmp_path / "runs"), "--trainer.max_epochs=3",
            "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
            f"--trainer.default_root_dir={root}", "--trainer.logger.init_args.version=job",
            "--trainer.callbacks+=tests.training.test_slurm_fit.SlowSecondEpoch"]  # fmt: skip
    plantwatch = Path(sys.executable).parent / "plantwatch"
    script = tmp_path / "fit.sbatch"
    script.write_text("#!/bin/bash\n#SBATCH --job-name=fit\n#SBATCH --signal=SIGUSR1@120\n"
                      f"#SBATCH --output={tmp_path}/slurm-%j.out\n"
                      f"cd {REPO}\nsrun {plantwatch} fit {' '.join(args)}\n")  # fmt: skip
    job = submit(script, env)
    last = tmp_path / "runs" / "plantwatch" / "job" / "checkpoints" / "last.ckpt"
    while not last.is_file():
        time.sleep(0.05)  # the first epoch's checkpoint: the job is training the second
    time.sleep(0.5)  # in the middle of its first batch
    subprocess.run(["scancel", job, "--signal", "USR1"], env=env, check=True)
    wait_for_state(tmp_path / "cluster", job, "COMPLETED")
    output = (tmp_path / f"slurm-{job}.out").read_text()
    assert "Handling auto-requeue signal" in output and "requeued" in output.lower()
    assert f"Restoring states from the checkpoint path at {root / 'hpc_ckpt_1.ckpt'}" in output
    final = torch.load(last, weights_only=True)
    assert final["global_step"] == 6, final["loops"]["fit_loop"]  # every step, once
    assert "Warning" not in output.split("Requeued SLURM job")[1]  # the resumed attempt's
