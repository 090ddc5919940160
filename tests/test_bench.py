from plantwatch.bench import bench_data


def test_data_benchmark_reports_positive_rates(capsys):
    figures = bench_data(plants=3, per_plant=2, size=32, batch_size=2, workers=(0,), epochs=1)
    assert set(figures) == {
        "synth scenes/s (render + GeoTIFF write)",
        "load samples/s (workers=0, batch=2)",
    }
    assert all(v > 0 for v in figures.values())
    assert "plantwatch bench data: 6 scenes" in capsys.readouterr().out
