"""The acquisition subcommands of ``plantwatch``: ``registry`` and ``download``.

Heavy modules are imported when a command runs, so ``plantwatch --help`` stays instant.
"""

from __future__ import annotations

import argparse
from typing import Any

from plantwatch.arguments import examples, non_negative_float, percent, positive_int
from plantwatch.errors import UserError


def _registry_jrc(args: argparse.Namespace) -> None:
    from plantwatch.sources.jrc import ATTRIBUTION, registry_from_jrc

    registry = registry_from_jrc(args.units, args.linkages)
    print(f"wrote {len(registry)} plants to {registry.write(args.out)}; source: {ATTRIBUTION}")


def _registry_show(args: argparse.Namespace) -> None:
    from plantwatch.sources.registry import PlantRegistry

    registry = PlantRegistry.read(args.registry).filter(
        countries=args.country,
        fuels=args.fuel,
        min_capacity_mw=args.min_capacity_mw,
        max_capacity_mw=args.max_capacity_mw,
        bbox=tuple(args.bbox) if args.bbox else None,
    )
    table = registry.plants.drop(columns="geometry")
    table["lon"], table["lat"] = registry.plants.geometry.x, registry.plants.geometry.y
    columns = ["plant_id", "name", "country", "fuel_type", "capacity_mw", "lon", "lat"]
    print(table[columns].to_string(index=False) if len(table) else "no plant passes the filters")
    if args.out:
        print(f"wrote {len(registry)} plants to {registry.write(args.out)}")


def _download(args: argparse.Namespace) -> None:
    from plantwatch.sources.download import download_dataset, plan_lines
    from plantwatch.sources.download_settings import DownloadSettings
    from plantwatch.sources.generation import read_annual_emissions
    from plantwatch.sources.labels import ObservationLabels
    from plantwatch.sources.registry import PlantRegistry

    registry = PlantRegistry.read(args.registry)
    settings = DownloadSettings(
        start=args.start, end=args.end, product=args.product, size_px=args.size,
        max_cloud_pct=args.max_cloud, s1=args.s1, s1_window_days=args.s1_window_days,
        service=args.service, base_url=args.sh_base_url, token_url=args.sh_token_url,
        max_patch_cloud_pct=args.max_patch_cloud,
    )  # fmt: skip
    labels = None
    if args.generation or args.weather:
        annual = read_annual_emissions(args.annual_emissions) if args.annual_emissions else None
        labels = ObservationLabels.read(registry, args.generation or (), annual, args.weather,
                                        args.tolerance_min)  # fmt: skip
    try:
        summary = download_dataset(registry, args.out, settings, labels, args.threads,
                                   args.dry_run, progress=not args.quiet)  # fmt: skip
    except (PermissionError, FileExistsError, ValueError) as error:
        raise UserError(str(error)) from None
    print("\n".join(plan_lines(summary, settings) if args.dry_run else summary.lines()))
    if args.dry_run:
        return
    if summary.complete:
        print(f"wrote {args.out} (plantwatch data check {args.out})")
    else:
        raise SystemExit(f"{args.out} is incomplete; rerun the same command to finish it")


def add_source_commands(commands: Any) -> None:
    """Add ``registry`` and ``download`` to the ``plantwatch`` subcommands."""
    registry = commands.add_parser("registry", help="plant registries: build, filter, show")
    actions = registry.add_subparsers(dest="action", required=True, metavar="ACTION")
    jrc = actions.add_parser(
        "jrc", help="a registry from the JRC Open Power Plants Database",
        epilog=examples("plantwatch registry jrc JRC_OPEN_UNITS.csv data/plants.geojson "
                        "--linkages JRC_OPEN_LINKAGES.csv"),
    )  # fmt: skip
    jrc.add_argument("units", help="JRC_OPEN_UNITS.csv (or an extract with its columns)")
    jrc.add_argument("out", help="registry to write (.geojson, .gpkg or .csv)")
    jrc.add_argument("--linkages", help="JRC_OPEN_LINKAGES.csv: adds the E-PRTR facility id")
    jrc.set_defaults(run=_registry_jrc)
    show = actions.add_parser(
        "show", help="print (and write) the plants that pass filters",
        epilog=examples("plantwatch registry show data_sources/plants/jrc_ppdb_open_17.geojson "
                        "--country Poland --fuel lignite --min-capacity-mw 1000"),
    )  # fmt: skip
    show.add_argument("registry", help="registry file (.geojson, .gpkg or .csv)")
    show.add_argument("--country", nargs="+", help="country names or codes")
    show.add_argument("--fuel", nargs="+", help="fuel classes or ENTSO-E production types")
    show.add_argument("--min-capacity-mw", type=float, help="smallest plant capacity, MW")
    show.add_argument("--max-capacity-mw", type=float, help="largest plant capacity, MW")
    show.add_argument("--bbox", nargs=4, type=float, metavar=("W", "S", "E", "N"),
                      help="bounding box in degrees")  # fmt: skip
    show.add_argument("--out", help="write the filtered registry here")
    show.set_defaults(run=_registry_show)

    download = commands.add_parser(
        "download", help="registry + dates → Sentinel-2/1 patches with labels (canonical format)",
        epilog=examples(
            "plantwatch download plants.geojson data/downloaded --start 2018-06-01 "
            "--end 2018-06-30 --dry-run  # needs Sentinel Hub credentials",
        ),
    )  # fmt: skip
    download.add_argument("registry", help="plant registry (.geojson, .gpkg or .csv)")
    download.add_argument("out", help="dataset folder to write (a rerun resumes it)")
    download.add_argument("--start", required=True, help="first date, YYYY-MM-DD (UTC)")
    download.add_argument("--end", required=True, help="last date, YYYY-MM-DD (UTC, inclusive)")
    download.add_argument("--product", choices=("S2L2A", "S2L1C"), default="S2L2A",
                          help="Sentinel-2 product: bands and radiometry")  # fmt: skip
    download.add_argument("--size", type=positive_int, default=120, help="patch side, 10 m pixels")
    download.add_argument("--max-cloud", type=percent, default=20.0, help="scene cloud cover, %%")
    download.add_argument(
        "--max-patch-cloud", type=percent,
        help="largest share of the patch under cloud, cirrus or cloud shadow by the scene "
        "classification (L2A) or cloud mask (L1C), %%; default: keep every patch",
    )  # fmt: skip
    download.add_argument("--s1", action="store_true", help="add a Sentinel-1 VV/VH companion")
    download.add_argument("--s1-window-days", type=non_negative_float, default=3.0,
                          help="largest S2–S1 time gap, days")  # fmt: skip
    download.add_argument("--generation", nargs="+", help="ENTSO-E 16.1.A files (either layout)")
    download.add_argument("--annual-emissions", help="reported annual CO₂ and generation per "
                          "plant or unit (CSV; or JRC_OPEN_TEMPORAL.csv)")  # fmt: skip
    download.add_argument("--weather", help="weather CSV: plant_id, datetime and weather columns")
    download.add_argument(
        "--tolerance-min", type=non_negative_float, default=30.0,
        help="largest gap to a generation interval or weather row, min",
    )  # fmt: skip
    download.add_argument(
        "--service", choices=("sentinel-hub", "cdse", "earth-search", "planetary-computer"),
        default="sentinel-hub",
        help="Sentinel Hub or the Copernicus Data Space Ecosystem (an account), or the STAC "
        "APIs of Element 84's Earth Search or Microsoft's Planetary Computer (no account; "
        "S2L2A; Sentinel-1 as terrain-flattened γ⁰ from the Planetary Computer with "
        "PC_SDK_SUBSCRIPTION_KEY)",
    )  # fmt: skip
    download.add_argument("--sh-base-url", help="override the service's base URL (a STAC "
                          "service: its STAC API URL)")  # fmt: skip
    download.add_argument("--sh-token-url", help="override the service's token URL")
    download.add_argument("--threads", type=positive_int, default=4,
                          help="parallel process requests")  # fmt: skip
    download.add_argument(
        "--dry-run", action="store_true",
        help="search the catalog, list what would be fetched, write nothing",
    )  # fmt: skip
    download.add_argument("--quiet", action="store_true", help="no progress bars")
    download.set_defaults(run=_download)
