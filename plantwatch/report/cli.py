"""The ``plantwatch report`` subcommand (imports its modules when it runs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from plantwatch.arguments import examples, positive_int


def report_from(estimates: str | Path, out: str | Path, year: str | None = None,
                scenes: int = 12) -> Path:  # fmt: skip
    """Write the report of `aggregate`'s outputs in ``estimates`` into ``out`` and say where
    it is; returns its ``index.html``."""
    from plantwatch.report.monitoring_results import MonitoringResults
    from plantwatch.report.site import write_report

    index = write_report(MonitoringResults.read(estimates), out, year=year, scenes=scenes)
    print(f"wrote {index} (open it in a browser; it needs no network)")
    return index


def _report(args: argparse.Namespace) -> None:
    report_from(args.estimates, args.out, year=args.year, scenes=args.scenes)


def add_report_option(aggregate: argparse.ArgumentParser) -> None:
    """Give ``plantwatch aggregate`` a ``--report FOLDER`` that writes the report of its OUT
    once it has aggregated."""
    aggregate.add_argument(
        "--report", metavar="FOLDER",
        help="also write the web report (plantwatch report) of OUT's estimates into FOLDER",
    )  # fmt: skip
    run = aggregate.get_default("run")

    def run_and_report(args: argparse.Namespace) -> None:
        run(args)
        if args.report:
            report_from(args.out, args.report)

    aggregate.set_defaults(run=run_and_report)


def add_report_command(commands: Any) -> None:
    """Add ``report`` to the ``plantwatch`` subcommands."""
    report = commands.add_parser(
        "report", help="a static web report of the plants: map, table, time series, scenes",
        epilog=examples(
            "plantwatch report runs/quickstart/version_0/estimates "
            "runs/quickstart/version_0/report",
        ),
    )  # fmt: skip
    report.add_argument("estimates", help="the OUT folder of plantwatch aggregate")
    report.add_argument("out", help="folder of the report (index.html and the plant pages)")
    report.add_argument("--year", help="year of the index's table and map (default: the latest)")
    report.add_argument("--scenes", type=positive_int, default=12,
                        help="scenes per plant in its gallery")  # fmt: skip
    report.set_defaults(run=_report)
