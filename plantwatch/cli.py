"""The ``plantwatch`` command.

Subcommands import their heavy dependencies lazily, so ``plantwatch --help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

from plantwatch.arguments import (
    CommandParser,
    examples,
    fraction,
    multiple_of_6,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from plantwatch.data.cli import add_clouds_command
from plantwatch.errors import UserError
from plantwatch.estimates.cli import add_estimate_commands
from plantwatch.models.cli import add_zoo_commands
from plantwatch.report.cli import add_report_command, add_report_option
from plantwatch.selection.cli import add_select_command
from plantwatch.sources.cli import add_source_commands
from plantwatch.studies.cli import add_compare_command

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")


def _synth_plants(args: argparse.Namespace) -> None:
    from plantwatch.data.synthetic.power_plants import synthesize_power_plants

    root = synthesize_power_plants(
        args.out,
        plants=args.plants,
        per_plant=args.per_plant,
        size=args.size,
        product_name=args.product,
        mask_fraction=args.mask_fraction,
        seed=args.seed,
        load_spread=args.load_spread,
        progress=not args.quiet,
    )
    print(f"wrote {args.plants * args.per_plant} observations of {args.plants} plants to {root}")


def _synth_benge(args: argparse.Namespace) -> None:
    from plantwatch.data.synthetic.benge import synthesize_benge

    root = synthesize_benge(args.out, patches=args.patches, size=args.size, seed=args.seed,
                            subset=args.subset, progress=not args.quiet)  # fmt: skip
    print(f"wrote {args.patches} synthetic ben-ge patches to {root} (subset {args.subset})")


def _synth_realism(args: argparse.Namespace) -> None:
    from plantwatch.data.synthetic.realism import compare_bands, markdown

    print(markdown(compare_bands(args.synthetic, args.real)))


def _preview(args: argparse.Namespace) -> None:
    from plantwatch.data.tools.check import detect_layout

    out = args.out or Path(args.root) / "preview.png"
    if detect_layout(args.root) == "ben-ge":
        from plantwatch.data.readers.benge.preview import render_benge_preview as render
    else:
        from plantwatch.data.tools.preview import render_preview as render
    print(f"preview of {args.root}: {render(args.root, out, count=args.count)}")


def _data_check(args: argparse.Namespace) -> None:
    from plantwatch.data.tools.check import check_dataset

    layout, problems = check_dataset(args.root, progress=not args.quiet)
    for problem in problems:
        print(problem)
    print(f"{args.root}: {layout} layout, {len(problems)} problems")
    if problems:
        raise SystemExit(1)


def _data_convert(args: argparse.Namespace) -> None:
    settings = {"size": args.size, "site_distance_m": args.site_distance_m,
                "split_seed": args.split_seed, "progress": not args.quiet}  # fmt: skip
    if args.kind == "smoke-plumes":
        from plantwatch.data.readers.smoke_plumes import convert_smoke_plumes

        root = convert_smoke_plumes(args.src, args.out, **settings)
    else:
        from plantwatch.data.readers.hanna2021 import convert_hanna2021

        root = convert_hanna2021(args.src, args.out, table=args.table, **settings)
    print(f"wrote {root} (plantwatch data check {root}; preview: plantwatch preview {root})")


def _data_fetch(args: argparse.Namespace) -> None:
    from plantwatch.data.tools.fetch import fetch

    root = fetch(args.name, args.root, base_url=args.base_url, progress=not args.quiet)
    print(f"fetched {args.name} into {root}")


def _data_pack(args: argparse.Namespace) -> None:
    from plantwatch.data.packing.writer import pack_folder

    seeds = [None if s == "none" else int(s) for s in args.split_seed]
    out = pack_folder(args.root, args.out, modalities=args.modalities, split_seeds=seeds,
                      shard_size=args.shard_size, workers=args.workers,
                      progress=not args.quiet)  # fmt: skip
    print(f"packed {args.root} into {out}; read it with data.init_args.pack: true and "
          f"packed_root: {out}")  # fmt: skip


def _bench_data(args: argparse.Namespace) -> None:
    from plantwatch.bench import bench_data

    bench_data(plants=args.plants, per_plant=args.per_plant, batch_size=args.batch_size,
               seconds=args.seconds)  # fmt: skip


def _bench_fit(args: argparse.Namespace) -> None:
    from plantwatch.bench import bench_fit

    bench_fit(batch_size=args.batch_size, steps=args.steps, precision=args.precision,
              channels_last=not args.no_channels_last)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of all subcommands."""
    parser = CommandParser(
        prog="plantwatch",
        description="Plumes, fuel, power and CO2 of power plants from Sentinel-2.",
        epilog=examples(
            "plantwatch demo                          # train and test on built-in data",
            "plantwatch fit --config quickstart       # the same, step by step",
            "plantwatch fit --help                    # where the model and data options are",
            "plantwatch synth plants data/mine --plants 8",
        ),
    )
    parser.add_argument("--version", action="version",
                        version=f"plantwatch {metadata.version('plantwatch')}")  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in LIGHTNING_COMMANDS:
        commands.add_parser(name, help=f"LightningCLI {name} (plantwatch {name} --help)")

    synth = commands.add_parser("synth", help="generate synthetic datasets")
    kinds = synth.add_subparsers(dest="kind", required=True, metavar="KIND")
    plants = kinds.add_parser(
        "plants", help="power-plant observations in the canonical format",
        epilog=examples("plantwatch synth plants data/mine --plants 8 --per-plant 4 --size 64"),
    )  # fmt: skip
    plants.add_argument("out", help="dataset folder to create")
    plants.add_argument("--plants", type=positive_int, default=24, help="number of plants")
    plants.add_argument("--per-plant", type=positive_int, default=10, help="observations per plant")
    plants.add_argument("--size", type=positive_int, default=120, help="image side, 10 m pixels")
    plants.add_argument("--product", choices=("S2L2A", "S2L1C"), default="S2L2A",
                        help="Sentinel-2 product: bands and radiometry")  # fmt: skip
    plants.add_argument("--mask-fraction", type=fraction, default=1.0,
                        help="share of observations that keep their plume mask")  # fmt: skip
    plants.add_argument("--seed", type=int, default=0, help="random seed of the generator")
    plants.add_argument(
        "--load-spread", type=non_negative_float, default=0.0,
        help="std of each plant's offset from its fuel's long-run load factor",
    )  # fmt: skip
    plants.add_argument("--quiet", action="store_true", help="no progress bar")
    plants.set_defaults(run=_synth_plants)
    benge = kinds.add_parser("benge", help="ben-ge patches in ben-ge's native layout",
                             epilog=examples("plantwatch synth benge data/benge --patches 32"))
    benge.add_argument("out", help="folder to write")
    benge.add_argument("--patches", type=positive_int, default=64, help="number of patches")
    benge.add_argument("--size", type=multiple_of_6, default=120,
                       help="patch side, 10 m px (multiple of 6)")  # fmt: skip
    benge.add_argument("--seed", type=int, default=0, help="random seed of the generator")
    benge.add_argument("--subset", default="ben-ge-synthetic", help="name in the table files")
    benge.add_argument("--quiet", action="store_true", help="no progress bar")
    benge.set_defaults(run=_synth_benge)
    realism = kinds.add_parser(
        "realism", help="per-band mean/std of synthetic patches beside real ones (Markdown)",
        epilog=examples("plantwatch synth realism data/benge/sentinel-2"),
    )  # fmt: skip
    realism.add_argument("synthetic", nargs="+", help="folders of synthetic patches (ben-ge)")
    realism.add_argument("--real", nargs="+", help="folders of real patches (default: the six "
                         "BigEarthNet examples of the package bigearthnet-common)")  # fmt: skip
    realism.set_defaults(run=_synth_realism)

    preview = commands.add_parser(
        "preview", help="PNG grid of a dataset's observations (canonical or ben-ge)",
        epilog=examples("plantwatch preview data/synthetic --count 4"),
    )  # fmt: skip
    preview.add_argument("root", help="dataset folder")
    preview.add_argument("--out", help="PNG path (default ROOT/preview.png)")
    preview.add_argument("--count", type=positive_int, default=8, help="observations to show")
    preview.set_defaults(run=_preview)

    data = commands.add_parser("data", help="datasets: fetch, check, convert, pack, clouds")
    actions = data.add_subparsers(dest="action", required=True, metavar="ACTION")
    fetch = actions.add_parser(
        "fetch", help="download, verify and unpack a dataset",
        epilog=examples("plantwatch data fetch smoke-plumes data/smoke-plumes-raw  # 10 GB"),
    )  # fmt: skip
    fetch.add_argument("name", help="smoke-plumes, hanna2021, ben-ge-8k or a manifest YAML")
    fetch.add_argument("root", help="folder to unpack into (downloads/ inside, resumable)")
    fetch.add_argument("--base-url", help="a mirror instead of the manifest's base URL")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(run=_data_fetch)
    check = actions.add_parser("check", help="recognise a dataset's layout, list every problem",
                               epilog=examples("plantwatch data check data/synthetic"))
    check.add_argument("root", help="dataset folder (canonical, smoke-plumes, hanna2021, ben-ge)")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(run=_data_check)
    convert = actions.add_parser(
        "convert", help="a published dataset → the canonical format",
        epilog=examples(
            "plantwatch data convert smoke-plumes data/smoke-plumes-raw data/smoke-plumes"
        ),
    )  # fmt: skip
    convert.add_argument("kind", choices=("smoke-plumes", "hanna2021"), help="source layout")
    convert.add_argument("src", help="the unpacked dataset")
    convert.add_argument("out", help="canonical dataset folder to write (resumable)")
    convert.add_argument("--table", help="hanna2021: the label CSV (default: the one in SRC)")
    convert.add_argument("--size", type=positive_int, default=120,
                         help="image side after crop/pad, px")  # fmt: skip
    convert.add_argument("--site-distance-m", type=non_negative_float, default=1000.0,
                         help="footprints this close are one site (split group)")  # fmt: skip
    convert.add_argument("--split-seed", type=int, default=0, help="seed of the site split")
    convert.add_argument("--quiet", action="store_true", help="no progress bar")
    convert.set_defaults(run=_data_convert)
    pack = actions.add_parser(
        "pack", help="a dataset → shards read a batch at a time (GPUs)",
        epilog=examples("plantwatch data pack data/synthetic data/synthetic/packed"),
    )  # fmt: skip
    pack.add_argument("root", help="a canonical dataset or a ben-ge folder")
    pack.add_argument("out", help="packed dataset folder to write (resumable)")
    pack.add_argument("--modalities", nargs="+", help="spatial inputs (default: all / ben-ge's)")
    pack.add_argument("--split-seed", nargs="+", default=["none"],
                      help="split sets to copy: none (the dataset's own), seeds k")  # fmt: skip
    pack.add_argument("--shard-size", type=positive_int, default=1024,
                      help="samples per shard file")  # fmt: skip
    pack.add_argument("--workers", type=non_negative_int, default=2,
                      help="processes reading the source")  # fmt: skip
    pack.add_argument("--quiet", action="store_true", help="no progress bar")
    pack.set_defaults(run=_data_pack)
    add_clouds_command(actions)

    commands.add_parser(
        "demo",
        help="train and test the multitask model on built-in synthetic data "
        "(the bundled quickstart config, about 3 min on 2 CPU cores; further LightningCLI "
        "arguments stack on it)",
        epilog=examples("plantwatch demo", "plantwatch demo --trainer.max_epochs 2"),
    )

    add_compare_command(commands)

    add_zoo_commands(commands)
    add_source_commands(commands)
    add_report_option(add_estimate_commands(commands))
    add_select_command(commands)
    add_report_command(commands)

    bench = commands.add_parser("bench", help="benchmarks that print figures")
    targets = bench.add_subparsers(dest="target", required=True, metavar="TARGET")
    data = targets.add_parser(
        "data", help="samples/s supplied (GeoTIFF, packed) vs demanded",
        epilog=examples("plantwatch bench data --seconds 2"),
    )  # fmt: skip
    data.add_argument("--plants", type=positive_int, default=16, help="plants generated")
    data.add_argument("--per-plant", type=positive_int, default=8, help="observations per plant")
    data.add_argument("--batch-size", type=positive_int, default=16, help="samples per batch")
    data.add_argument("--seconds", type=positive_float, default=3.0, help="timed per loader")
    data.set_defaults(run=_bench_data)
    fit = targets.add_parser(
        "fit", help="training samples/s: plantwatch fit vs a bare loop",
        epilog=examples("plantwatch bench fit --steps 10"),
    )  # fmt: skip
    fit.add_argument("--batch-size", type=positive_int, default=16, help="samples per batch")
    fit.add_argument("--steps", type=positive_int, default=20, help="timed training steps")
    fit.add_argument("--precision", default="bf16-mixed", choices=("bf16-mixed", "32-true"),
                     help="Lightning precision")  # fmt: skip
    fit.add_argument("--no-channels-last", action="store_true",
                     help="keep the default memory format")  # fmt: skip
    fit.set_defaults(run=_bench_fit)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``plantwatch`` console script. A user's mistake (`UserError`)
    ends in one line on stderr and exit status 2."""
    from_command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else "plantwatch"
    try:
        if argv[:1] == ["demo"] and "--help" not in argv and "-h" not in argv:
            from plantwatch.demo import run_demo

            run_demo(overrides=argv[1:])
            return
        if argv and argv[0] in LIGHTNING_COMMANDS:
            from plantwatch.training.cli import PlantwatchCLI

            PlantwatchCLI(args=None if from_command_line else argv)  # None: sys.argv
            return
        args = build_parser().parse_args(argv)
        args.run(args)
    except UserError as error:  # bad input: the message names the file and the fix
        print(f"plantwatch {command}: {error}", file=sys.stderr)
        raise SystemExit(2) from None
