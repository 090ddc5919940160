import pytest

from plantwatch.bench import bench_data, bench_fit


def test_data_benchmark_reports_positive_rates(capsys):
    figures = bench_data(plants=3, per_plant=2, size=32, batch_size=2, workers=(0,), epochs=1)
    assert set(figures) == {
        "synth scenes/s (render + GeoTIFF write)",
        "load samples/s (workers=0, batch=2)",
    }
    assert all(v > 0 for v in figures.values())
    assert "plantwatch bench data: 6 scenes" in capsys.readouterr().out


def test_fit_benchmark_compares_lightning_with_a_bare_loop(capsys):
    figures = bench_fit(plants=4, per_plant=2, size=32, batch_size=2, steps=2, warmup=1)
    assert figures["plantwatch fit samples/s"] > 0 and figures["bare PyTorch loop samples/s"] > 0
    assert figures["fit / bare"] == pytest.approx(
        figures["plantwatch fit samples/s"] / figures["bare PyTorch loop samples/s"]
    )
    assert "plantwatch bench fit" in capsys.readouterr().out
