import numpy as np
import torch

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.task_registry import get_tasks
from plantwatch.tasks.plots import ExampleCollector, scatter_figure


def batch_of(plants: list[str]) -> dict:
    n = len(plants)
    return {
        "image": torch.rand(n, 12, 16, 16) * 0.3, "plant_id": plants,
        "obs_id": [f"{p}_{i}" for i, p in enumerate(plants)],
        "mask": torch.zeros(n, 16, 16, dtype=torch.long), "has_mask": torch.ones(n).bool(),
        "power": torch.full((n,), 300.0), "has_power": torch.tensor([True] * (n - 1) + [False]),
    }  # fmt: skip


def test_examples_show_several_plants_and_scatter_only_labelled_pairs():
    specs = get_tasks(["plume", "power"])
    collector = ExampleCollector(count=3)
    for plants in (["A", "A", "A", "B"], ["B", "C", "D", "D"]):
        outputs = {"plume": torch.zeros(4, 16, 16), "power": torch.full((4,), 250.0)}
        collector.add(specs, outputs, batch_of(plants))
    assert [s["plant_id"] for s in collector.samples] == ["A", "B", "C"]
    predicted, true = np.concatenate(collector.pairs["power"], axis=1)
    assert len(true) == 6 and set(predicted.tolist()) == {250.0}  # two unlabelled left out
    figure = collector.figure(specs, L2A_BAND_NAMES)
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert len(titles) == 3 and "power 300 → 250 MW" in titles[0]


def test_the_scatter_draws_plants_that_are_off_apart():
    figure = scatter_figure(
        np.array([900.0, 500.0, 700.0]), np.array([0.0, 480.0, 0.0]), "power", "MW"
    )
    ax = figure.axes[0]
    sizes = [len(c.get_offsets()) for c in ax.collections]
    assert sizes == [1, 2] and ax.get_legend() is not None


def test_land_cover_examples_show_the_true_and_predicted_map_in_legend_colours():
    from matplotlib.colors import to_rgba

    from plantwatch.bands import WORLDCOVER_COLOURS

    specs = get_tasks(["land_cover"])
    collector = ExampleCollector(count=2)
    lulc = torch.zeros(2, 16, 16, dtype=torch.long)
    lulc[:, :, 8:] = 7  # left tree cover, right water
    logits = torch.nn.functional.one_hot(lulc, 11).permute(0, 3, 1, 2).float()
    batch = {"image": torch.rand(2, 12, 16, 16) * 0.3, "plant_id": ["a", "b"],
             "obs_id": ["p1", "p2"], "lulc": lulc, "has_lulc": torch.ones(2).bool()}  # fmt: skip
    collector.add(specs, {"land_cover": logits}, batch)
    figure = collector.figure(specs, L2A_BAND_NAMES)
    assert [ax.get_title() for ax in figure.axes[:3]] == ["p1", "true", "predicted"]
    shown = figure.axes[2].images[0]
    water = shown.cmap(shown.norm(7))
    assert np.allclose(water, to_rgba(WORLDCOVER_COLOURS[7]))
    assert (shown.get_array()[:, 8:] == 7).all()
