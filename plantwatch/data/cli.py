"""``plantwatch data clouds``: the s2cloudless cloud mask of an L1C dataset
(`tools.cloud_masks`)."""

from __future__ import annotations

import argparse
from typing import Any

from plantwatch.arguments import examples, non_negative_float, open_fraction, positive_int


def _data_clouds(args: argparse.Namespace) -> None:
    from plantwatch.data.tools.cloud_masks import add_cloud_masks

    made = add_cloud_masks(args.root, args.threshold, args.average_over_px, args.dilation_px,
                           args.plant_radius_m, progress=not args.quiet)  # fmt: skip
    if made == 0:
        print(f"{args.root} has its cloud mask (clm) already: nothing to do")
        return
    print(f"wrote {made} cloud masks into {args.root}/clm and the cloud shares into "
          f"observations.csv (plantwatch errors PREDICTIONS --dataset {args.root} "
          "--by plant_cloud_pct stratifies a model's errors by them)")  # fmt: skip


def add_clouds_command(actions: Any) -> None:
    """Add ``clouds`` to the ``plantwatch data`` actions."""
    clouds = actions.add_parser(
        "clouds", help="an s2cloudless cloud mask per observation of an L1C dataset",
        epilog=examples("plantwatch data clouds data/smoke-plumes"),
    )  # fmt: skip
    clouds.add_argument("root", help="a canonical L1C dataset (13 bands) without a cloud mask")
    clouds.add_argument("--threshold", type=open_fraction, default=0.4,
                        help="cloud probability above which a pixel is cloud")  # fmt: skip
    clouds.add_argument("--average-over-px", type=positive_int, default=4,
                        help="radius of the disk probabilities are averaged over, px")  # fmt: skip
    clouds.add_argument("--dilation-px", type=positive_int, default=2,
                        help="radius of the disk the mask is dilated with, px")  # fmt: skip
    clouds.add_argument("--plant-radius-m", type=non_negative_float, default=500.0,
                        help="radius around the plant of plant_cloud_pct, m")  # fmt: skip
    clouds.add_argument("--quiet", action="store_true", help="no progress bar")
    clouds.set_defaults(run=_data_clouds)
