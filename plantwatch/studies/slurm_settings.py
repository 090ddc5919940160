"""`SlurmSettings`: what each run of a study asks SLURM for, from the study file's ``slurm:``
section and ``plantwatch compare --slurm KEY=VALUE``.

```yaml
slurm:
  partition: gpu
  account: my-project
  time_min: 90            # wall-clock limit of one attempt of one run (minutes)
  gpus_per_run: 1
  cpus_per_run: 8
  mem_gb: 32
  parallelism: 16         # runs of the job array at a time
  setup: ["module load cuda/12.4", "source .venv/bin/activate"]
  sbatch: {mail-type: END}  # further sbatch options
```
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plantwatch.errors import UserError


def memory(gigabytes: float) -> str:
    """A memory size in sbatch's form (whole gigabytes, else megabytes)."""
    if gigabytes == int(gigabytes):
        return f"{int(gigabytes)}GB"
    return f"{round(gigabytes * 1024)}MB"


@dataclass(frozen=True)
class SlurmSettings:
    """SLURM resources of one run (a task of the study's job array).

    Args:
        partition: the partition (None: the cluster's default).
        account: the account charged (None: the user's default).
        qos: the quality of service (None: the default).
        constraint: node features, e.g. ``a100`` (None: any node).
        time_min: wall-clock limit of one attempt (minutes); a run that reaches it is
            checkpointed and requeued, up to ``max_requeues`` times.
        gpus_per_run: GPUs of each run (0: CPU runs).
        cpus_per_run: CPU cores of each run (also its ``OMP_NUM_THREADS``).
        mem_gb: memory of each run (GB).
        parallelism: runs of the job array at a time.
        max_requeues: how often a run that timed out is requeued.
        poll_s: how often ``compare`` asks SLURM for the jobs' states (seconds).
        setup: shell lines the job runs first (modules, environment).
        sbatch: further ``sbatch`` options, name (without ``--``) to value.
    """

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    time_min: int = 60
    gpus_per_run: int = 0
    cpus_per_run: int = 2
    mem_gb: float = 16.0
    parallelism: int = 32
    max_requeues: int = 3
    poll_s: float = 30.0
    setup: tuple[str, ...] = ()
    sbatch: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, values: dict[str, Any], where: str | Path) -> SlurmSettings:
        """Settings from a mapping (a study's ``slurm:`` section); errors name ``where``."""
        if not isinstance(values, dict):
            raise UserError(f"{where}: slurm: a mapping of settings (partition, time_min, …)")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"{where}: slurm: unknown settings {unknown}; known: {sorted(known)}")
        values = dict(values)
        try:
            if "setup" in values:
                values["setup"] = tuple(str(line) for line in values["setup"])
            if "sbatch" in values:
                values["sbatch"] = {str(k): str(v) for k, v in dict(values["sbatch"]).items()}
            settings = cls(**values)
        except (TypeError, ValueError) as error:
            raise UserError(f"{where}: slurm: {error}") from None
        for name in ("time_min", "cpus_per_run", "parallelism"):
            value = getattr(settings, name)
            if not isinstance(value, int) or value < 1:
                raise UserError(f"{where}: slurm: {name} must be a positive whole number")
        return settings

    def with_overrides(self, pairs: list[str]) -> SlurmSettings:
        """These settings with ``KEY=VALUE`` pairs (values in YAML, e.g. ``time_min=120``)."""
        values = dataclasses.asdict(self)
        for pair in pairs:
            key, equals, text = pair.partition("=")
            if not equals:
                raise UserError(f"--slurm {pair}: give KEY=VALUE, e.g. --slurm partition=gpu")
            values[key] = yaml.safe_load(text)
        return SlurmSettings.from_mapping(values, "--slurm")

    def executor_parameters(self, job_name: str) -> dict[str, Any]:
        """The parameters of submitit's `SlurmExecutor` (its ``sbatch`` names)."""
        parameters: dict[str, Any] = {
            "job_name": job_name, "time": self.time_min, "cpus_per_task": self.cpus_per_run,
            "mem": memory(self.mem_gb), "array_parallelism": self.parallelism,
            "ntasks_per_node": 1, "setup": list(self.setup),
            "additional_parameters": dict(self.sbatch),
        }  # fmt: skip
        if self.gpus_per_run:
            parameters["gpus_per_node"] = self.gpus_per_run
        for name in ("partition", "account", "qos", "constraint"):
            if getattr(self, name) is not None:
                parameters[name] = getattr(self, name)
        return parameters
