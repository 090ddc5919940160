import math

import pytest

from plantwatch.bench import bench_data, bench_fit


def test_data_benchmark_sets_supply_against_demand(capsys):
    figures = bench_data(plants=3, per_plant=2, size=32, batch_size=2, workers=(0,), seconds=0.1,
                         model_steps=1)  # fmt: skip
    assert all(math.isfinite(v) and v > 0 for v in figures.values()), figures
    assert figures["packed / GeoTIFF (workers=0)"] == pytest.approx(
        figures["packed read+collate samples/s (workers=0)"]
        / figures["GeoTIFF read+collate samples/s (workers=0)"]
    )
    # ResNet-18 U-Net at 12 × 32²: counted by torch's FLOP counter, the same on any machine
    # (about (120 / 32)² times fewer than the 7.8 GFLOP at 120²)
    assert figures["model GFLOP per training sample (fwd + bwd)"] == pytest.approx(0.531347)
    assert figures["supply / demand (packed, workers=0)"] == pytest.approx(
        figures["packed read+collate samples/s (workers=0)"]
        / figures["model training samples/s (cpu, bf16)"]
    )
    assert "plantwatch bench data: 6 scenes" in capsys.readouterr().out


def test_fit_benchmark_compares_lightning_with_a_bare_loop(capsys):
    figures = bench_fit(plants=4, per_plant=2, size=32, batch_size=2, steps=2, warmup=1)
    assert all(math.isfinite(v) and v > 0 for v in figures.values()), figures
    assert figures["fit / bare"] == pytest.approx(
        figures["plantwatch fit samples/s"] / figures["bare PyTorch loop samples/s"]
    )
    assert figures["GFLOP per training sample"] == pytest.approx(0.531347)  # as bench data
    assert "model FLOP utilisation (fit)" not in figures  # a CPU has no known peak
    assert "plantwatch bench fit" in capsys.readouterr().out
