"""``plantwatch compare``: run a study here or on a SLURM cluster, and write its record."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from plantwatch.arguments import examples, positive_int
from plantwatch.errors import UserError


def _compare(args: argparse.Namespace) -> None:
    from plantwatch.studies.results import write_results, write_study_record
    from plantwatch.studies.runner import pending_runs, rescore_study, run_study, study_waves
    from plantwatch.studies.slurm_launcher import print_dry_run
    from plantwatch.studies.spec import Study
    from plantwatch.training.cli import package_versions

    study = Study.from_yaml(args.study)
    if args.record_only:
        try:
            print(f"results: {write_study_record(study, Path(args.results))}")
        except FileNotFoundError as error:
            raise UserError(f"{error}; run the study first (without --record-only)") from None
        return
    root = Path(args.root) / study.name
    slurm = study.slurm.with_overrides(args.slurm) if args.launcher == "slurm" else None
    if args.slurm and slurm is None:
        raise UserError("--slurm settings need --launcher slurm")
    if args.dry_run:
        if slurm is None:
            raise UserError("--dry-run shows what --launcher slurm would submit; add it")
        waves = study_waves(study, pending_runs(study, root))
        if not waves or not waves[0]:
            print(f"study {study.name}: every run has finished; nothing to submit")
            return
        print_dry_run(waves[0], slurm, root.resolve(), f"plantwatch-{study.name}",
                      later_rounds=len(waves) - 1)  # fmt: skip
        return
    if args.rescore:
        rescore_study(study, root)
    ran = len(pending_runs(study, root))
    start = time.perf_counter()
    failed = run_study(study, Path(args.root).resolve() if slurm else args.root, jobs=args.jobs,
                       slurm=slurm)  # fmt: skip
    command = "plantwatch " + shlex.join(
        sys.argv[1:] if sys.argv[1:2] == ["compare"] else ["compare", args.study]
    )
    call = {"command": command, "cpu_cores": os.cpu_count(), "jobs": args.jobs, "ran": ran,
            "launcher": args.launcher,
            "elapsed_min": round((time.perf_counter() - start) / 60, 1),
            "versions": ", ".join(f"{k} {v}" for k, v in package_versions().items())}  # fmt: skip
    try:
        print(f"results: {write_results(study, root, Path(args.results), call)}")
    except ValueError:
        raise SystemExit(
            f"study {study.name}: no run finished; see the stdout.log of each run"
        ) from None
    if args.report:
        import pandas as pd

        from plantwatch.studies.study_report import write_study_report

        runs = pd.read_csv(Path(args.results) / f"{study.name}.csv")
        write_study_report(study, root, runs, root / "report")
    if failed:
        raise SystemExit(f"{len(failed)} runs failed: {[f'{r.group}/{r.version}' for r in failed]}")


def add_compare_command(commands: Any) -> None:
    """Add ``compare`` to the ``plantwatch`` subcommands."""
    compare = commands.add_parser(
        "compare", help="run a study (variants × label fractions × seeds) and tabulate it",
        epilog=examples(
            "plantwatch compare experiments/studies/single_vs_multitask.yaml --jobs 2",
            "plantwatch compare experiments/studies/label_efficiency.yaml --launcher slurm "
            "--slurm partition=gpu --slurm gpus_per_run=1 --dry-run",
        ),
    )  # fmt: skip
    compare.add_argument(
        "study", help="study YAML, e.g. experiments/studies/single_vs_multitask.yaml"
    )
    compare.add_argument("--root", default="runs/studies", help="folder of the runs (resumable)")
    compare.add_argument(
        "--results", default="experiments/results", help="folder of the tables/plots"
    )
    compare.add_argument("--jobs", type=positive_int, default=1,
                         help="runs at a time on this machine (--launcher local)")  # fmt: skip
    compare.add_argument(
        "--launcher", choices=("local", "slurm"), default="local",
        help="local: runs as processes here; slurm: each run a task of a SLURM job array "
        "(submitit; the study file's slurm: section sets the resources; docs/cluster.md)",
    )  # fmt: skip
    compare.add_argument(
        "--slurm", action="append", default=[], metavar="KEY=VALUE",
        help="a SLURM setting over the study file's, e.g. partition=gpu, time_min=120, "
        "gpus_per_run=1, cpus_per_run=8, mem_gb=32, parallelism=16, account=…",
    )  # fmt: skip
    compare.add_argument(
        "--dry-run", action="store_true",
        help="with --launcher slurm: print the runs and the job script it would submit",
    )  # fmt: skip
    compare.add_argument(
        "--rescore", action="store_true",
        help="score the finished runs' saved predictions again (plant-period estimates) "
        "before running the rest",
    )  # fmt: skip
    compare.add_argument(
        "--report", action="store_true",
        help="also write the web report of the variant chosen on validation (its first run's "
        "plant-years and plant-months) into <root>/<name>/report/site",
    )  # fmt: skip
    compare.add_argument(
        "--record-only", action="store_true",
        help="run nothing: write the record and figures again from the study's tables in "
        "--results (<name>.csv, <name>_overpasses.csv, <name>_study.json)",
    )  # fmt: skip
    compare.set_defaults(run=_compare)
