"""A fake SLURM for tests: ``sbatch``, ``srun``, ``sacct``, ``scancel`` and ``scontrol`` as
executables on ``PATH`` that run the submitted job scripts as local processes, so the real
submitit SLURM path (job arrays, state polling, signals, requeue) is exercised without a cluster.

`install_fake_slurm(folder)` writes the executables into ``folder/bin`` and keeps the jobs'
states in ``folder/state``; each executable calls this file (standard library only). A job
array runs at most its ``%N`` tasks at a time; a task requeued with ``scontrol requeue`` runs
again when its process exits, as SLURM restarts a requeued job.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

COMMANDS = ("sbatch", "srun", "sacct", "scancel", "scontrol")
STATE = Path(os.environ.get("FAKE_SLURM_STATE", "."))
ACTIVE = ("PENDING", "RUNNING", "REQUEUED")


def install_fake_slurm(folder: Path) -> dict[str, str]:
    """Write the fake executables into ``folder/bin``; returns the environment to run with
    them (``PATH`` first)."""
    bin_dir, state = folder / "bin", folder / "state"
    bin_dir.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    for name in COMMANDS:
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\nFAKE_SLURM_STATE='{state}' exec '{sys.executable}' "
                        f"'{Path(__file__).resolve()}' {name} \"$@\"\n")  # fmt: skip
        path.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


@contextmanager
def _tasks():
    """The tasks' states (``task id → fields``), read and written under a lock."""
    with (STATE / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = STATE / "tasks.json"
        tasks = json.loads(path.read_text()) if path.is_file() else {}
        yield tasks
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(tasks))
        os.replace(partial, path)


def _task_id(job: str, index: str | None) -> str:
    return job if index is None else f"{job}_{index}"


def _fill(pattern: str, job: str, index: str | None) -> str:
    """A SLURM file name pattern with the job's ids."""
    return (pattern.replace("%A", job).replace("%a", index or "0").replace("%j", job)
            .replace("%t", "0").replace("%x", os.environ.get("SLURM_JOB_NAME", "")))  # fmt: skip


def sbatch(script: str) -> None:
    options = dict(re.findall(r"^#SBATCH --([\w-]+)(?:=(.*))?$", Path(script).read_text(), re.M))
    with _tasks() as tasks:
        job = str(1000 + len({t.split("_")[0] for t in tasks}))
        array = options.get("array")
        if array:
            span, _, parallel = array.partition("%")
            first, _, last = span.partition("-")
            indices = [str(i) for i in range(int(first), int(last or first) + 1)]
        else:
            indices, parallel = [None], "1"
        for index in indices:
            tasks[_task_id(job, index)] = {"state": "PENDING", "requeue": False}
    scheduler = [sys.executable, __file__, "_schedule", job, script, parallel or "1",
                 json.dumps(indices), options.get("job-name", "job"),
                 options.get("output", "slurm-%j.out")]  # fmt: skip
    subprocess.Popen(scheduler, start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    print(f"Submitted batch job {job}")


def _run_task(job: str, script: str, index: str | None, name: str, output: str) -> None:
    task = _task_id(job, index)
    env = {**os.environ, "SLURM_JOB_ID": job, "SLURM_JOB_NAME": name, "SLURM_NTASKS": "1",
           "SLURM_NTASKS_PER_NODE": "1", "SLURM_JOB_NUM_NODES": "1", "SLURM_NNODES": "1",
           "SLURM_NODEID": "0", "SLURM_PROCID": "0", "SLURM_LOCALID": "0",
           "SLURM_JOB_NODELIST": "localhost", "SLURM_NODELIST": "localhost",
           "SLURM_CPUS_PER_TASK": "1", "FAKE_SLURM_TASK": task}  # fmt: skip
    if index is not None:
        env.update(SLURM_ARRAY_JOB_ID=job, SLURM_ARRAY_TASK_ID=index)
    while True:
        with _tasks() as tasks:
            if tasks[task]["state"] == "CANCELLED":
                return
            tasks[task].update(state="RUNNING", requeue=False)
        with open(_fill(output, job, index), "a") as log:
            process = subprocess.Popen(
                ["bash", script], env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            with _tasks() as tasks:
                tasks[task]["group"] = process.pid
            code = process.wait()
        with _tasks() as tasks:
            if tasks[task]["requeue"]:  # scontrol requeue: run it again
                tasks[task]["state"] = "PENDING"
                continue
            if tasks[task]["state"] != "CANCELLED":
                tasks[task]["state"] = "COMPLETED" if code == 0 else "FAILED"
            return


def _schedule(job: str, script: str, parallel: str, indices: str, name: str, output: str) -> None:
    with ThreadPoolExecutor(int(parallel)) as pool:
        for index in json.loads(indices):
            pool.submit(_run_task, job, script, index, name, output)


def srun(arguments: list[str]) -> None:
    """Run the command once (one task) with ``--output``/``--error`` as SLURM names them."""
    files: dict[str, str] = {}
    while arguments and arguments[0].startswith("-"):
        option = arguments.pop(0)
        key, _, value = option.partition("=")
        if key in ("--output", "--error", "-o", "-e"):
            files[key.strip("-")[0]] = value or arguments.pop(0)
    job, index = os.environ["SLURM_JOB_ID"], os.environ.get("SLURM_ARRAY_TASK_ID")
    for key, fd in (("o", 1), ("e", 2)):
        if key in files:
            target = os.open(_fill(files[key], job, index), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(target, fd)
    with _tasks() as tasks:
        tasks[os.environ["FAKE_SLURM_TASK"]]["step"] = os.getpid()
    os.execvp(arguments[0], arguments)


def sacct(arguments: list[str]) -> None:
    fields = arguments[arguments.index("-o") + 1].split(",")
    jobs = [arguments[i + 1] for i, a in enumerate(arguments) if a == "-j"]
    print("|".join(fields))
    with _tasks() as tasks:
        for task, values in tasks.items():
            if task.split("_")[0] in jobs:
                row = {"JobID": task, "State": values["state"], "NodeList": "localhost"}
                print("|".join(row.get(f, "") for f in fields))


def _matching(tasks: dict, job: str) -> list[str]:
    return [t for t in tasks if t == job or t.split("_")[0] == job]


def scancel(arguments: list[str]) -> None:
    """``scancel JOB``: kill its tasks; ``scancel JOB --signal SIG``: signal its job steps."""
    job = arguments[0]
    name = arguments[arguments.index("--signal") + 1] if "--signal" in arguments else None
    with _tasks() as tasks:
        for task in _matching(tasks, job):
            values = tasks[task]
            if name is not None:
                if values["state"] == "RUNNING" and "step" in values:
                    os.kill(values["step"], signal.Signals[f"SIG{name.removeprefix('SIG')}"])
            elif values["state"] in ACTIVE:
                values["state"] = "CANCELLED"
                if "group" in values:
                    os.killpg(values["group"], signal.SIGKILL)


def scontrol(arguments: list[str]) -> None:
    """``scontrol requeue JOB``: as SLURM, end the running job (a second later, after this
    command has answered) and run it again."""
    if arguments[0] != "requeue":
        raise SystemExit(f"fake scontrol: {arguments[0]} not supported")
    with _tasks() as tasks:
        for task in _matching(tasks, arguments[1]):
            tasks[task].update(state="REQUEUED", requeue=True)
            if "group" in tasks[task]:
                subprocess.Popen([sys.executable, __file__, "_kill", str(tasks[task]["group"])],
                                 start_new_session=True)  # fmt: skip


def _kill(group: str) -> None:
    time.sleep(1.0)
    try:
        os.killpg(int(group), signal.SIGKILL)
    except ProcessLookupError:  # the job ended on its own (submitit exits after requeueing)
        return


def submit(script: Path, env: dict[str, str]) -> str:
    """``sbatch SCRIPT`` with the fake on ``env``'s PATH; returns the job id."""
    done = subprocess.run(["sbatch", str(script)], env=env, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return done.stdout.split()[-1]


def wait_for_state(folder: Path, task: str, state: str, timeout_s: float = 600) -> None:
    """Block until ``task`` of the fake SLURM in ``folder`` reaches ``state``."""
    path = folder / "state" / "tasks.json"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file() and json.loads(path.read_text()).get(task, {}).get("state") == state:
            return
        time.sleep(0.2)
    raise TimeoutError(f"fake SLURM task {task} never reached {state}")


if __name__ == "__main__":
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "_schedule":
        _schedule(*rest)
    elif command == "_kill":
        _kill(*rest)
    elif command == "sbatch":
        sbatch(rest[-1])
    else:
        {"srun": srun, "sacct": sacct, "scancel": scancel, "scontrol": scontrol}[command](rest)
