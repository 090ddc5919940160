"""``plantwatch select``: one round of active learning (`select_round.py`)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from plantwatch.arguments import examples, non_negative_int, positive_int


def _select(args: argparse.Namespace) -> None:
    from plantwatch.selection.select_round import select_round

    done = select_round(args.checkpoints, args.task, args.budget, args.out, args.strategy,
                        args.label_set, args.max_per_plant, args.seed, args.measure,
                        thumbnails=not args.no_thumbnails, progress=not args.quiet,
                        pool=args.pool)  # fmt: skip
    requests = done.requests
    plants = requests["plant_id"].nunique() if len(requests) else 0
    print(f"requested {len(requests)} {args.task} labels of {plants} plants by {args.strategy}: "
          f"{done.requests_csv}")  # fmt: skip
    if len(requests) < args.budget:
        print(f"fewer than the budget of {args.budget}: the pool or --max-per-plant "
              f"{args.max_per_plant} ran out")  # fmt: skip
    print(f"once their labels are in the dataset, train on {done.label_set}:\n"
          f"  plantwatch fit --config {shlex.quote(str(done.config))} "
          f"--data.init_args.label_set {shlex.quote(str(done.label_set))}")  # fmt: skip


def add_select_command(commands: Any) -> None:
    """Add ``select`` to the ``plantwatch`` subcommands."""
    select = commands.add_parser(
        "select", help="active learning: which training scenes to label next for one task",
        epilog=examples(
            "plantwatch select runs/quickstart/version_0/checkpoints/best.ckpt --task plume "
            "--budget 20 --strategy hybrid --out selection/round1",
        ),
    )  # fmt: skip
    select.add_argument("checkpoints", nargs="+",
                        help="best.ckpt of a fit run; several: an ensemble")  # fmt: skip
    select.add_argument("--task", default="plume", help="whose labels to request")
    select.add_argument("--budget", type=positive_int, required=True,
                        help="how many observations to request")  # fmt: skip
    select.add_argument("--strategy", default="hybrid",
                        choices=("random", "uncertainty", "diversity", "hybrid"),
                        help="how to choose (hybrid: uncertainty-weighted k-center)")  # fmt: skip
    select.add_argument("--pool", help="the training split to choose from (train, "
                        "train_50pct …; default: the run's)")  # fmt: skip
    select.add_argument("--label-set", help="the labels known so far (label_set.json of the "
                        "last round; default: the run's, else the dataset's)")  # fmt: skip
    select.add_argument("--max-per-plant", type=positive_int, default=2,
                        help="at most this many requests of one plant")  # fmt: skip
    select.add_argument("--measure", choices=("entropy", "area", "std"),
                        help="uncertainty: entropy (plume, fuel), area (plume area std, px), "
                        "std (power, CO2); default by task")  # fmt: skip
    select.add_argument("--seed", type=non_negative_int, default=0, help="seed of random")
    select.add_argument("--out", required=True, help="folder of the round's requests")
    select.add_argument("--no-thumbnails", action="store_true", help="no true-colour PNGs")
    select.add_argument("--quiet", action="store_true", help="no progress bar")
    select.set_defaults(run=_select)
