import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, mean_absolute_error, r2_score

from plantwatch.task_registry import get_tasks
from plantwatch.tasks.metrics import BothNonEmptyIoU, TaskMetrics, describe_metric


def batch(mask, has_mask, fuel=None, power=None):
    n = len(mask)
    return {
        "mask": mask,
        "has_mask": torch.tensor(has_mask),
        "fuel": torch.tensor(fuel if fuel is not None else [0] * n),
        "has_fuel": torch.tensor([fuel is not None] * n),
        "power": torch.tensor(power if power is not None else [0.0] * n),
        "has_power": torch.tensor([power is not None] * n),
        "co2": torch.zeros(n),
        "has_co2": torch.zeros(n, dtype=torch.bool),
    }


def logits_from(predicted: torch.Tensor) -> torch.Tensor:
    return predicted.float() * 20 - 10


def test_plume_iou_counts_false_alarms_on_empty_scenes_unlike_the_old_iou():
    truth = torch.zeros(2, 10, 10, dtype=torch.long)
    truth[0, :5] = 1  # 50 plume pixels in image 0, image 1 is empty
    predicted = truth.clone().bool()
    predicted[1, :5] = True  # a false alarm of 50 pixels on the empty image
    metrics = TaskMetrics(get_tasks(["plume"]), detection_min_pixels=10)
    metrics.update({"plume": logits_from(predicted)}, batch(truth, [True, True]))
    values = metrics.compute()
    assert values["plume_iou"].item() == pytest.approx(0.5)
    assert values["plume_iou_both_nonempty"].item() == pytest.approx(1.0)
    assert values["plume_detection_precision"].item() == pytest.approx(0.5)
    assert values["plume_detection_recall"].item() == pytest.approx(1.0)
    assert values["plume_f1"].item() == pytest.approx(2 * 50 / (2 * 50 + 50))


def test_unlabelled_images_and_pixels_do_not_count():
    truth = torch.ones(2, 4, 4, dtype=torch.long)
    truth[0, 0] = 255
    predicted = torch.zeros(2, 4, 4, dtype=torch.bool)
    predicted[0] = True
    metrics = TaskMetrics(get_tasks(["plume"]))
    metrics.update({"plume": logits_from(predicted)}, batch(truth, [True, False]))
    assert metrics.compute()["plume_iou"].item() == pytest.approx(1.0)
    assert metrics.counts == {"plume": 1}


def test_both_nonempty_iou_is_undefined_without_such_images():
    metric = BothNonEmptyIoU()
    metric.update(torch.zeros(1, 3, 3, dtype=torch.bool), torch.zeros(1, 3, 3, dtype=torch.long))
    assert torch.isnan(metric.compute())


def test_fuel_and_power_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    true_fuel, pred_fuel = rng.integers(0, 4, 40), rng.integers(0, 4, 40)
    true_mw, pred_mw = rng.uniform(0, 2000, 40), rng.uniform(0, 2000, 40)
    metrics = TaskMetrics(get_tasks(["fuel", "power"]))
    for part in np.array_split(np.arange(40), 3):
        logits = torch.nn.functional.one_hot(torch.tensor(pred_fuel[part]), 4).float()
        b = batch(
            torch.zeros(len(part), 1, 1),
            [False] * len(part),
            true_fuel[part].tolist(),
            true_mw[part].tolist(),
        )
        metrics.update(
            {"fuel": logits, "power": torch.tensor(pred_mw[part], dtype=torch.float32)}, b
        )
    values = metrics.compute()
    assert values["fuel_accuracy"].item() == pytest.approx(np.mean(true_fuel == pred_fuel))
    assert values["fuel_macro_f1"].item() == pytest.approx(
        f1_score(true_fuel, pred_fuel, average="macro"), abs=1e-5
    )
    assert values["power_mae_mw"].item() == pytest.approx(
        mean_absolute_error(true_mw, pred_mw), rel=1e-5
    )
    assert values["power_r2"].item() == pytest.approx(r2_score(true_mw, pred_mw), abs=1e-4)
    matrix = metrics.confusion_matrices()["fuel"]
    assert matrix.sum().item() == 40 and matrix[1, 2].item() == np.sum(
        (true_fuel == 1) & (pred_fuel == 2)
    )


def test_tasks_without_any_label_are_not_reported():
    metrics = TaskMetrics(get_tasks(["plume", "power"]))
    truth = torch.zeros(2, 4, 4, dtype=torch.long)
    metrics.update(
        {"plume": torch.zeros(2, 4, 4), "power": torch.zeros(2)}, batch(truth, [True, True])
    )
    values = metrics.compute()
    assert "plume_iou" in values and not any(k.startswith("power") for k in values)
    metrics.reset()
    assert metrics.compute() == {}


def test_detection_counts_truth_and_prediction_by_the_same_pixel_rule():
    truth = torch.zeros(3, 10, 10, dtype=torch.long)
    truth[0, 0, :5] = 1  # 5 plume pixels: below the rule, no plume
    truth[1, :2] = 1  # 20 pixels: a plume
    predicted = truth.clone().bool()  # a perfect segmentation
    metrics = TaskMetrics(get_tasks(["plume"]), detection_min_pixels=10)
    metrics.update({"plume": logits_from(predicted)}, batch(truth, [True, True, True]))
    values = metrics.compute()
    assert values["plume_detection_precision"].item() == 1.0
    assert values["plume_detection_recall"].item() == 1.0


def test_metric_labels_carry_units_and_directions():
    assert describe_metric("power_mae_mw") == ("power MAE (MW)", False)
    assert describe_metric("co2_r2") == ("CO₂ R²", True)
    assert describe_metric("plume_iou")[1] is True
    with pytest.raises(KeyError):
        describe_metric("smoke_iou")


def test_land_cover_iou_per_class_matches_scikit_learn_and_skips_absent_classes():
    from sklearn.metrics import jaccard_score

    rng = np.random.default_rng(1)
    truth = torch.tensor(rng.integers(0, 3, (4, 8, 8)))  # classes 0-2 of 11 occur
    truth[0, 0, :4] = 255  # unlabelled pixels
    predicted = torch.where(torch.tensor(rng.random((4, 8, 8)) < 0.7), truth, 1)
    predicted[truth == 255] = 5  # predictions on unlabelled pixels do not count
    logits = torch.nn.functional.one_hot(predicted, 11).permute(0, 3, 1, 2).float()
    metrics = TaskMetrics(get_tasks(["land_cover"]))
    metrics.update({"land_cover": logits}, {"lulc": truth, "has_lulc": torch.ones(4, dtype=bool)})
    values = metrics.compute()
    valid = truth != 255
    expected = jaccard_score(truth[valid], predicted[valid], labels=[0, 1, 2], average=None)
    names = ("tree_cover", "shrubland", "grassland")
    for name, iou in zip(names, expected, strict=True):
        assert values[f"land_cover_iou_{name}"].item() == pytest.approx(iou, abs=1e-6)
    assert "land_cover_iou_cropland" not in values  # in neither truth nor prediction
    assert values["land_cover_miou"].item() == pytest.approx(expected.mean(), abs=1e-6)
    assert values["land_cover_pixel_accuracy"].item() == pytest.approx(
        (truth[valid] == predicted[valid]).float().mean().item()
    )
    assert set(values) <= set(metrics.names())


def test_multilabel_map_averages_only_classes_with_positives():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, (30, 11))
    labels[:, 9] = 0  # no patch holds mangroves: no average precision to speak of
    scores = labels + rng.normal(0, 0.8, labels.shape)
    metrics = TaskMetrics(get_tasks(["land_cover_labels"]))
    metrics.update(
        {"land_cover_labels": torch.tensor(scores, dtype=torch.float32)},
        {"lulc_multilabel": torch.tensor(labels, dtype=torch.float32),
         "has_lulc_multilabel": torch.ones(30, dtype=bool)},
    )  # fmt: skip
    present = [c for c in range(11) if labels[:, c].any()]
    expected = np.mean([average_precision_score(labels[:, c], scores[:, c]) for c in present])
    assert metrics.compute()["land_cover_labels_map"].item() == pytest.approx(expected, abs=1e-5)


def test_fraction_errors_are_in_percentage_points():
    truth = torch.tensor([[0.5, 0.5] + [0.0] * 9, [1.0] + [0.0] * 10])
    predicted = torch.tensor([[0.7, 0.3] + [0.0] * 9, [0.9, 0.1] + [0.0] * 9])
    metrics = TaskMetrics(get_tasks(["land_cover_fractions"]))
    metrics.update(
        {"land_cover_fractions": torch.log(predicted.clamp_min(1e-9))},
        {"lulc_fractions": truth, "has_lulc_fractions": torch.ones(2, dtype=bool)},
    )
    values = metrics.compute()
    assert values["land_cover_fractions_mae_pp"].item() == pytest.approx(60 / 22, rel=1e-4)
    assert describe_metric("land_cover_fractions_mae_pp") == (
        "land-cover fractions MAE (percentage points)", False)  # fmt: skip
    assert describe_metric("land_cover_iou_cropland") == ("land cover IoU of cropland", True)


def _random_epoch(samples: int = 11) -> tuple[dict, dict]:
    """Outputs and a batch of ``samples`` with random targets and random label presence."""
    generator = torch.Generator().manual_seed(5)
    mask = (torch.rand(samples, 16, 16, generator=generator) > 0.7).long()
    mask[torch.rand(samples, 16, 16, generator=generator) > 0.9] = 255  # unlabelled pixels
    batch = {
        "mask": mask, "fuel": torch.randint(0, 4, (samples,), generator=generator),
        "power": torch.rand(samples, generator=generator) * 900,
        "co2": torch.rand(samples, generator=generator) * 800,
    }  # fmt: skip
    for key in ("mask", "fuel", "power", "co2"):
        batch[f"has_{key}"] = torch.rand(samples, generator=generator) > 0.3
    outputs = {
        "plume": torch.randn(samples, 16, 16, generator=generator) * 3,
        "fuel": torch.randn(samples, 4, generator=generator),
        "power": batch["power"] + torch.randn(samples, generator=generator) * 100,
        "co2": batch["co2"] + torch.randn(samples, generator=generator) * 100,
    }
    return outputs, batch


def _metrics_of(shares: list[slice]) -> dict[str, float]:
    outputs, batch = _random_epoch()
    metrics = TaskMetrics(get_tasks(["plume", "fuel", "power", "co2"]))
    for part in shares:
        metrics.update({k: v[part] for k, v in outputs.items()},
                       {k: v[part] for k, v in batch.items()})  # fmt: skip
    values = {k: float(v) for k, v in metrics.compute().items()}
    values.update({f"count_{k}": float(v) for k, v in metrics.labelled_counts().items()})
    return values


def _rank(rank: int, rendezvous: str, out: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=2)
    # uneven shards: rank 0 reads two batches (4 + 3 samples), rank 1 one batch of 4
    shares = [slice(0, 4), slice(4, 7)] if rank == 0 else [slice(7, 11)]
    torch.save(_metrics_of(shares), f"{out}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_metrics_over_two_processes_with_uneven_shards_equal_one_processs(tmp_path):
    single = _metrics_of([slice(0, 5), slice(5, 11)])
    torch.multiprocessing.start_processes(
        _rank, args=(f"file://{tmp_path / 'rendezvous'}", str(tmp_path)), nprocs=2,
        start_method="spawn",
    )  # fmt: skip
    for rank in (0, 1):
        synced = torch.load(tmp_path / f"rank{rank}.pt")
        assert synced.keys() == single.keys()
        for name, value in single.items():
            assert synced[name] == pytest.approx(value, rel=1e-5, abs=1e-6), (rank, name)
    assert single["count_power"] < 11 and "plume_iou" in single  # flags took effect
