"""Benchmarks that print figures (``plantwatch bench …``); never part of the tests."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader

from plantwatch.data.plants import PlantObservations
from plantwatch.data.synthetic.power_plants import synthesize_power_plants
from plantwatch.data.transforms import build_transforms


def bench_data(
    plants: int = 16,
    per_plant: int = 8,
    size: int = 120,
    product_name: str = "S2L2A",
    batch_size: int = 16,
    workers: tuple[int, ...] = (0, 2),
    epochs: int = 3,
) -> dict[str, float]:
    """Scenes generated per second and samples loaded per second (read + augment + collate).

    Returns the figures by name and prints them as a table.
    """
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bench"
        start = time.perf_counter()
        synthesize_power_plants(
            root, plants=plants, per_plant=per_plant, size=size,
            product_name=product_name, progress=False,
        )  # fmt: skip
        figures["synth scenes/s (render + GeoTIFF write)"] = (
            plants * per_plant / (time.perf_counter() - start)
        )
        dataset = PlantObservations(root, transforms=build_transforms())
        for count in workers:
            loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=count,
                                persistent_workers=count > 0)  # fmt: skip
            next(iter(loader))  # start the workers before timing
            start = time.perf_counter()
            seen = sum(len(batch["image"]) for _ in range(epochs) for batch in loader)
            figures[f"load samples/s (workers={count}, batch={batch_size})"] = seen / (
                time.perf_counter() - start
            )
        shape = tuple(dataset[0]["image"].shape)
    print(f"plantwatch bench data: {plants * per_plant} scenes, {product_name}, "
          f"{shape} per sample")  # fmt: skip
    width = max(len(k) for k in figures)
    for name, value in figures.items():
        print(f"  {name:<{width}}  {np.round(value, 1):>8}")
    return figures
