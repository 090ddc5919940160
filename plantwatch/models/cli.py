"""``plantwatch zoo``: export a run's encoder, import weights trained elsewhere, list."""

from __future__ import annotations

import argparse
from typing import Any

from plantwatch.arguments import examples


def _zoo_export(args: argparse.Namespace) -> None:
    from plantwatch.models.zoo import export_encoder

    folder = export_encoder(args.source, args.name, args.branch, args.zoo, args.overwrite)
    print(f"zoo entry {args.name}: {folder} (use it as encoder_checkpoint: {args.name})")


def _zoo_import(args: argparse.Namespace) -> None:
    from plantwatch.models.zoo import import_encoder

    folder = import_encoder(
        args.source, args.name, args.preset, encoder=args.encoder, bands=args.bands,
        mean=args.mean, std=args.std, method=args.method, data=args.data,
        licence=args.licence, zoo=args.zoo, overwrite=args.overwrite,
    )  # fmt: skip
    print(f"zoo entry {args.name}: {folder} (use it as encoder_checkpoint: {args.name})")


def _zoo_list(args: argparse.Namespace) -> None:
    from plantwatch.models.zoo import list_zoo

    table = list_zoo(args.zoo)
    print(table.to_string(index=False) if len(table) else "the zoo is empty")


def add_zoo_commands(commands: Any) -> None:
    """Add ``zoo export | import | list`` to the ``plantwatch`` subcommands."""
    zoo = commands.add_parser("zoo", help="the model zoo: export, import and list encoders")
    actions = zoo.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="write a run's encoder and card into the zoo",
        epilog=examples("plantwatch zoo export runs/quickstart/version_0 my-encoder"),
    )  # fmt: skip
    export.add_argument("source", help="run folder (its best checkpoint) or a .ckpt")
    export.add_argument("name", help="entry name (configs use it as encoder_checkpoint)")
    export.add_argument("--branch", default="image", help="late fusion: the modality branch")
    export.add_argument("--zoo", help="zoo folder (default $PLANTWATCH_ZOO or ./models)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing entry")
    export.set_defaults(run=_zoo_export)
    imported = actions.add_parser(
        "import", help="weights trained elsewhere (e.g. SSL4EO-S12) → a zoo entry",
        epilog=examples(
            "plantwatch zoo import resnet18_sentinel2_all_moco-59bfdff9.pth ssl4eo-s12-resnet18 "
            "--preset ssl4eo-s12-resnet18-moco",
            "plantwatch zoo import models/old-entry old-entry --overwrite  # encoder.pt → "
            "safetensors",
        ),
    )  # fmt: skip
    imported.add_argument("source", help="a .pth/.pt/.safetensors state dict, or a zoo entry of "
                          "an older plantwatch (folder with encoder.pt)")  # fmt: skip
    imported.add_argument("name", help="entry name (configs use it as encoder_checkpoint)")
    imported.add_argument("--preset", help="declares encoder, bands, normalisation, licence: "
                          "ssl4eo-s12-resnet18-moco, ssl4eo-s12-resnet50-moco, "
                          "ssl4eo-s12-resnet50-dino")  # fmt: skip
    imported.add_argument("--encoder", help="smp encoder the weights fit, e.g. resnet18")
    imported.add_argument("--bands", nargs="+", help="input bands in the first layer's order")
    imported.add_argument("--mean", nargs="+", type=float,
                          help="input mean per band in data units (one value: all bands)")
    imported.add_argument("--std", nargs="+", type=float,
                          help="input std per band in data units (one value: all bands)")
    imported.add_argument("--method", help="the pretraining method, for the card")
    imported.add_argument("--data", help="the pretraining data, for the card")
    imported.add_argument("--licence", help="the weights' licence, for the card")
    imported.add_argument("--zoo", help="zoo folder (default $PLANTWATCH_ZOO or ./models)")
    imported.add_argument("--overwrite", action="store_true", help="replace an existing entry")
    imported.set_defaults(run=_zoo_import)
    listing = actions.add_parser("list", help="print the zoo's entries",
                                 epilog=examples("plantwatch zoo list"))
    listing.add_argument("--zoo", help="zoo folder (default $PLANTWATCH_ZOO or ./models)")
    listing.set_defaults(run=_zoo_list)
