"""The ``plantwatch aggregate`` subcommand (imports its modules when it runs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from plantwatch.arguments import examples, open_fraction, positive_int
from plantwatch.errors import UserError


def _aggregate(args: argparse.Namespace) -> None:
    import pandas as pd

    from plantwatch.estimates.report import run_aggregate

    try:
        written = run_aggregate(
            args.predictions, args.out, args.period, truth=args.truth, dataset=args.dataset,
            registry=args.registry, truth_generation=args.truth_generation or (),
            level=args.level, n_boot=args.n_boot,
            min_observations=args.min_observations, seed=args.seed, method=args.method,
            calibration=args.calibration or (),
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None
    if "summary" in written:
        print(written["summary"].read_text())
    if "unused" in written:
        unused = pd.read_csv(written["unused"], dtype={"obs_id": str})
        counts = unused["reason"].value_counts()
        print(f"left out: {', '.join(f'{n} rows with {r}' for r, n in counts.items())} "
              f"(e.g. {', '.join(unused['obs_id'].head(5))}; all in {written['unused']})")
    print("wrote " + ", ".join(str(p) for p in written.values()) + f" and {args.out}/figures/")


def _errors(args: argparse.Namespace) -> None:
    from plantwatch.data.format import layout
    from plantwatch.estimates.report import read_predictions
    from plantwatch.estimates.strata import errors_by_stratum
    from plantwatch.files.tables import read_csv
    from plantwatch.markdown_table import markdown_table

    observations = read_csv(Path(args.dataset) / layout.OBSERVATIONS_CSV, "an observation table",
                            dtype={"obs_id": str, "plant_id": str})  # fmt: skip
    try:
        table = errors_by_stratum(read_predictions(args.predictions), observations, args.by,
                                  args.edges)  # fmt: skip
    except (FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None
    cells = [[f"{v:.3g}" if isinstance(v, float) else str(v) for v in row]
             for row in table.itertuples(index=False)]  # fmt: skip
    print("\n".join(markdown_table(list(table.columns), cells)))


def add_estimate_commands(commands: Any) -> argparse.ArgumentParser:
    """Add ``aggregate`` and ``errors`` to the ``plantwatch`` subcommands; returns the
    parser of ``aggregate``."""
    errors = commands.add_parser(
        "errors", help="per-overpass errors by stratum of an observation column (e.g. cloud)",
        epilog=examples(
            "plantwatch errors runs/quickstart/version_0/predictions/predictions.csv "
            "--dataset data/downloaded --by plant_cloud_pct --edges 0 1 10 100",
        ),
    )  # fmt: skip
    errors.add_argument("predictions", nargs="+", help="predictions.csv of plantwatch predict")
    errors.add_argument("--dataset", required=True, help="the dataset the predictions are of")
    errors.add_argument("--by", default="plant_cloud_pct",
                        help="observation column of the strata (e.g. patch_cloud_pct)")  # fmt: skip
    errors.add_argument("--edges", type=float, nargs="+", default=[0.0, 1.0, 10.0, 100.0],
                        help="stratum edges in the column's units")  # fmt: skip
    errors.set_defaults(run=_errors)
    aggregate = commands.add_parser(
        "aggregate", help="per-plant monthly/annual MWh and t CO₂ with intervals from predictions",
        epilog=examples(
            "plantwatch aggregate runs/quickstart/version_0/predictions/predictions.csv "
            "runs/quickstart/version_0/estimates --dataset data/synthetic "
            "--truth data/synthetic/truth_daily.csv",
        ),
    )  # fmt: skip
    aggregate.add_argument("predictions", nargs="+", help="predictions.csv of plantwatch predict")
    aggregate.add_argument("out", help="folder for the estimates, scores, summary and figures")
    aggregate.add_argument("--period", choices=("month", "year"), default="year",
                           help="the period of the totals")  # fmt: skip
    aggregate.add_argument("--truth", help="truth_daily.csv of a synthetic dataset, or reported "
                           "annual figures (CSV, or JRC_OPEN_TEMPORAL.csv)")  # fmt: skip
    aggregate.add_argument(
        "--truth-generation", nargs="+",
        help="ENTSO-E 16.1.A files: measured generation per plant and period (with --registry)",
    )  # fmt: skip
    aggregate.add_argument("--registry", help="plant registry mapping units to plants (--truth "
                           "per unit)")  # fmt: skip
    aggregate.add_argument(
        "--dataset",
        help="canonical dataset of the plants: their capacity and fuel (CO₂ from the known "
        "fuel), the fleet prior and the naive reference (capacity × mean load factor of the "
        "training split)",
    )
    aggregate.add_argument(
        "--method", choices=("pooled", "mean"),
        help="pooled: each plant-period shrunk towards the fleet prior of the --dataset's "
        "training plants, intervals calibrated on the --calibration plants (the default with "
        "--calibration); mean: the mean of the overpasses with a bootstrap interval",
    )  # fmt: skip
    aggregate.add_argument(
        "--calibration", nargs="+",
        help="predictions.csv of the validation split (plantwatch predict "
        "--data.init_args.predict_split=val): the model's errors and the interval scale",
    )  # fmt: skip
    aggregate.add_argument("--level", type=open_fraction, default=0.9,
                           help="interval coverage, 0–1")  # fmt: skip
    aggregate.add_argument("--n-boot", type=positive_int, default=2000, help="bootstrap draws")
    aggregate.add_argument("--min-observations", type=positive_int, default=3,
                           help="fewer: the interval is the physical range")  # fmt: skip
    aggregate.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    aggregate.set_defaults(run=_aggregate)
    return aggregate
