"""Benchmarks that print figures (``plantwatch bench …``); never part of the tests.

``bench data`` sets what the data path supplies against what the model demands: samples/s
read and collated from GeoTIFFs and from the packed copy (0 and 2 workers), the CPU
augmentation, the decoding and augmentation on the device, the training samples/s of the
model on the device and its FLOPs per sample. ``bench fit`` times ``plantwatch fit``
against a bare PyTorch loop; on a GPU it reads the packed path and reports the model FLOP
utilisation.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from plantwatch.data.augmentation.device import DeviceAugmentation
from plantwatch.data.augmentation.transforms import Augmentation
from plantwatch.data.loading.datamodule import DataModule
from plantwatch.data.loading.sample import collate_samples
from plantwatch.data.packing.reader import PackedDataset
from plantwatch.data.packing.writer import pack_dataset
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.data.synthetic.power_plants import synthesize_power_plants
from plantwatch.data.synthetic.source import SyntheticPlants
from plantwatch.tasks.multitask_task import MultiTaskTask

# Dense bf16 tensor throughput by device name, TFLOP/s (vendor data sheets, SXM parts).
PEAK_BF16_TFLOPS: dict[str, float] = {"H200": 989.0, "H100": 989.0, "A100": 312.0}


def default_device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def peak_tflops(device: torch.device) -> float | None:
    """Dense bf16 peak of a known GPU, TFLOP/s; None for the CPU and unknown GPUs."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    """A batch with its tensors on ``device`` (non-blocking from pinned memory)."""
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
        for k, v in batch.items()
    }


def loader_rate(loader: DataLoader, seconds: float) -> float:
    """Samples/s over whole epochs of ``loader`` until ``seconds`` have passed (workers
    started before the clock)."""
    next(iter(loader))
    seen, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        seen += sum(len(batch["image"]) for batch in loader)
    return seen / (time.perf_counter() - start)


def flops_per_sample(task: MultiTaskTask, batch: Mapping[str, Any]) -> float:
    """FLOPs of one training step (forward and backward) per sample
    (``torch.utils.flop_counter``: matrix multiplications and convolutions)."""
    with FlopCounterMode(display=False) as counter:
        losses = task.losses(task(batch), batch)
        task.weighting(losses, dict.fromkeys(losses, True)).backward()
    task.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(batch["image"])


def train_rate(task: MultiTaskTask, batches: Iterable[Mapping[str, Any]], steps: int,
               warmup: int, bf16: bool) -> float:  # fmt: skip
    """Training samples/s of a bare PyTorch loop (AdamW) over ``batches`` (at least
    ``warmup + steps`` of them), on the task's device, after ``warmup`` steps."""
    optimizer = torch.optim.AdamW(task.parameters(), lr=1e-3)
    task.train()
    device = task.device
    seen, start = 0, 0.0
    for step, batch in enumerate(itertools.islice(batches, warmup + steps)):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seen, start = 0, time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            losses = task.losses(task(batch), batch)
            total = task.weighting(losses, dict.fromkeys(losses, True))
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        seen += len(batch["image"])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return seen / (time.perf_counter() - start)


def _print(title: str, figures: Mapping[str, float]) -> None:
    print(title)
    width = max(len(k) for k in figures)
    for name, value in figures.items():
        print(f"  {name:<{width}}  {value:>10.4g}")


def bench_data(
    plants: int = 16,
    per_plant: int = 8,
    size: int = 120,
    product_name: str = "S2L2A",
    batch_size: int = 16,
    workers: tuple[int, ...] = (0, 2),
    seconds: float = 3.0,
    model_steps: int = 3,
) -> dict[str, float]:
    """Supply and demand of training samples on this machine (see the module docstring).

    Returns the figures by name and prints them.
    """
    device = default_device()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root, packed = Path(tmp) / "bench", Path(tmp) / "bench-packed"
        start = time.perf_counter()
        synthesize_power_plants(root, plants=plants, per_plant=per_plant, size=size,
                                product_name=product_name, progress=False)  # fmt: skip
        count = plants * per_plant
        figures["synth scenes/s (render + GeoTIFF write)"] = count / (time.perf_counter() - start)
        start = time.perf_counter()
        pack_dataset(lambda split, seed: PlantObservations(root, split, split_seed=seed), packed,
                     root, progress=False)  # fmt: skip
        figures["pack samples/s (GeoTIFF → shards)"] = count / (time.perf_counter() - start)
        sources = {
            "GeoTIFF": PlantObservations(root),
            "GeoTIFF + CPU augmentation": PlantObservations(root, transforms=Augmentation()),
            "packed": PackedDataset(packed),
        }
        for (name, dataset), count_workers in itertools.product(sources.items(), workers):
            loader = DataLoader(dataset, batch_size, shuffle=True, num_workers=count_workers,
                                collate_fn=collate_samples,
                                persistent_workers=count_workers > 0)  # fmt: skip
            figures[f"{name} read+collate samples/s (workers={count_workers})"] = loader_rate(
                loader, seconds
            )
        for count_workers in workers:
            figures[f"packed / GeoTIFF (workers={count_workers})"] = (
                figures[f"packed read+collate samples/s (workers={count_workers})"]
                / figures[f"GeoTIFF read+collate samples/s (workers={count_workers})"]
            )
        dataset = sources["packed"]
        stored = [dataset.__getitems__(list(range(i, i + batch_size)))
                  for i in range(0, len(dataset) - batch_size + 1, batch_size)]  # fmt: skip
        augmentation = DeviceAugmentation()
        batches = [augmentation(dataset.decode(to_device(b, device))) for b in stored]
        start, seen = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            for batch in stored:
                augmentation(dataset.decode(to_device(batch, device)))
                seen += len(batch["image"])
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        figures[f"transfer + decode + augmentation samples/s ({device.type})"] = seen / (
            time.perf_counter() - start
        )
        torch.manual_seed(0)
        task = MultiTaskTask(channels_last=True, figure_examples=0)
        figures["model GFLOP per training sample (fwd + bwd)"] = (
            flops_per_sample(task, batches[0]) / 1e9
        )
        demand = train_rate(task.to(device), itertools.cycle(batches), model_steps, 1, bf16=True)
        figures[f"model training samples/s ({device.type}, bf16)"] = demand
        for count_workers in workers:
            supply = figures[f"packed read+collate samples/s (workers={count_workers})"]
            figures[f"supply / demand (packed, workers={count_workers})"] = supply / demand
        shape = tuple(dataset[0]["image"].shape)
    _print(f"plantwatch bench data: {count} scenes, {product_name}, {shape} per sample, batch "
           f"{batch_size}, {os.cpu_count()} CPU cores, device {device}", figures)  # fmt: skip
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
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()
        self.end = time.perf_counter()


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

    Same data, model, batch size and precision, on the GPU when there is one (packed data
    read in the main process into pinned memory, augmentation on the device, as
    the bundled ``gpu`` preset) else on the CPU (GeoTIFFs, CPU augmentation);
    Lightning adds logging, train metrics and its loop. Prints and returns the figures, with
    the model FLOP utilisation on a GPU of known peak.
    """
    bf16 = precision.startswith("bf16")
    device = default_device()
    gpu = device.type == "cuda"
    with tempfile.TemporaryDirectory() as tmp:
        source = SyntheticPlants(plants=plants, per_plant=per_plant, size=size, progress=False)
        data = DataModule(
            root=str(Path(tmp) / "data"), source=source, batch_size=batch_size, pack=gpu,
            augmentation=DeviceAugmentation() if gpu else Augmentation(),
            num_workers=0, pin_memory=gpu,
        )  # fmt: skip
        data.prepare_data()
        data.setup("fit")
        torch.manual_seed(0)
        task = MultiTaskTask(channels_last=channels_last, figure_examples=0).to(device)

        def batches() -> Iterable[dict[str, Any]]:
            """Training batches as ``fit`` sees them, epoch after epoch."""
            while True:
                for batch in data.train_dataloader():
                    batch = data.decode(to_device(batch, device), "train")
                    yield data.augmentation(batch) if gpu else batch

        flops = flops_per_sample(task, next(batches()))
        bare = train_rate(task, batches(), steps, warmup, bf16)
        timer = _StepTimer(warmup)
        trainer = L.Trainer(
            accelerator=device.type, devices=1, precision=precision, max_steps=warmup + steps,
            limit_val_batches=0, logger=L.pytorch.loggers.TensorBoardLogger(tmp),
            # as the quickstart logs (every 10 steps), at least once an epoch
            log_every_n_steps=min(10, len(data.train_dataloader())),
            callbacks=[timer], enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False,
        )  # fmt: skip
        torch.manual_seed(0)
        trainer.fit(MultiTaskTask(channels_last=channels_last, figure_examples=0), datamodule=data)
        lightning = steps * batch_size / (timer.end - timer.start)
    figures = {
        "bare PyTorch loop samples/s": bare,
        "plantwatch fit samples/s": lightning,
        "fit / bare": lightning / bare,
        "GFLOP per training sample": flops / 1e9,
        "plantwatch fit TFLOP/s": flops * lightning / 1e12,
    }
    peak = peak_tflops(device)
    if peak:
        figures["model FLOP utilisation (fit)"] = figures["plantwatch fit TFLOP/s"] / peak
    _print(f"plantwatch bench fit: MultiTaskUNet resnet18, batch {batch_size} × 12 × {size}², "
           f"{precision}, channels_last={channels_last}, {steps} steps after {warmup} warm-up, "
           f"device {device}, {torch.get_num_threads()} threads", figures)  # fmt: skip
    return figures
