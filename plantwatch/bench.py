"""Benchmarks that print figures (``plantwatch bench …``); never part of the tests."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from plantwatch.data.datamodule import DataModule
from plantwatch.data.observations import PlantObservations
from plantwatch.data.sample import collate_samples
from plantwatch.data.synthetic.power_plants import synthesize_power_plants
from plantwatch.data.synthetic.source import SyntheticPlants
from plantwatch.data.transforms import Augmentation
from plantwatch.tasks.multitask_task import MultiTaskTask


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
        dataset = PlantObservations(root, transforms=Augmentation())
        for count in workers:
            loader = DataLoader(
                dataset, batch_size, shuffle=True, num_workers=count,
                collate_fn=collate_samples, persistent_workers=count > 0,
            )  # fmt: skip
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


class _StepTimer(L.Callback):
    """Wall time of the training steps after ``warmup`` steps."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start = self.end = 0.0

    def on_train_batch_start(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        self.end = time.perf_counter()


def _bare_loop(
    task: MultiTaskTask, loader: DataLoader, steps: int, warmup: int, bf16: bool
) -> float:
    """Seconds for ``steps`` plain PyTorch training steps after ``warmup`` steps."""
    optimizer = torch.optim.AdamW(task.parameters(), lr=1e-3)
    task.train()
    done, start = 0, 0.0
    while done < warmup + steps:
        for batch in loader:
            if done == warmup:
                start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                losses = task.task_losses(task(batch), batch)
                total = task.weighting(losses, dict.fromkeys(losses, True))
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            done += 1
            if done == warmup + steps:
                break
    return time.perf_counter() - start


def bench_fit(
    plants: int = 12,
    per_plant: int = 8,
    size: int = 120,
    batch_size: int = 16,
    steps: int = 20,
    warmup: int = 3,
    precision: str = "bf16-mixed",
    channels_last: bool = True,
) -> dict[str, float]:
    """Training samples/s of ``plantwatch fit`` (Lightning) and of a bare PyTorch loop.

    Same data pipeline (DataModule with augmentation), model, batch size and precision,
    on the CPU; Lightning adds logging, train metrics and its loop. Prints and returns the
    figures.
    """
    bf16 = precision.startswith("bf16")
    with tempfile.TemporaryDirectory() as tmp:
        source = SyntheticPlants(plants=plants, per_plant=per_plant, size=size, progress=False)
        data = DataModule(root=str(Path(tmp) / "data"), source=source, batch_size=batch_size)
        data.prepare_data()
        data.setup("fit")
        torch.manual_seed(0)
        bare = _bare_loop(
            MultiTaskTask(channels_last=channels_last), data.train_dataloader(), steps, warmup, bf16
        )
        timer = _StepTimer(warmup)
        trainer = L.Trainer(
            accelerator="cpu", precision=precision, max_steps=warmup + steps, limit_val_batches=0,
            logger=L.pytorch.loggers.TensorBoardLogger(tmp), callbacks=[timer],
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        )  # fmt: skip
        torch.manual_seed(0)
        trainer.fit(MultiTaskTask(channels_last=channels_last, figure_examples=0), datamodule=data)
        lightning = timer.end - timer.start
    figures = {
        "bare PyTorch loop samples/s": steps * batch_size / bare,
        "plantwatch fit samples/s": steps * batch_size / lightning,
    }
    figures["fit / bare"] = (
        figures["plantwatch fit samples/s"] / figures["bare PyTorch loop samples/s"]
    )
    print(f"plantwatch bench fit: MultiTaskUNet resnet18, batch {batch_size} × 12 × {size}², "
          f"{precision}, channels_last={channels_last}, {steps} steps after {warmup} warm-up, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    for name, value in figures.items():
        print(f"  {name:<30} {value:8.2f}")
    return figures
