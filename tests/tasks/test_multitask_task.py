from functools import partial

import lightning as L
import numpy as np
import pytest
import rasterio
import torch

from plantwatch.data.format.splits import read_split
from plantwatch.data.format.statistics import default_statistics
from plantwatch.data.loading.datamodule import DataModule
from plantwatch.data.loading.sample import WEATHER_COLUMNS, collate_samples
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.task_registry import TASKS, TaskSpec, register_task
from plantwatch.tasks.metrics import TaskMetrics
from plantwatch.tasks.multitask_task import MultiTaskTask
from tests.data.fakes import copy_dataset, make_dataset


@pytest.fixture(scope="module")
def plume_batch(tiny_dataset):
    """Four labelled observations with plumes, collated."""
    data = PlantObservations(tiny_dataset)
    picked = [
        s
        for s in (data[i] for i in range(len(data)))
        if s["has_mask"] and (s["mask"] == 1).sum() > 20
    ]
    return collate_samples(picked[:4])


def normalised_task(dataset_root, **kwargs) -> MultiTaskTask:
    task = MultiTaskTask(**kwargs)
    data = PlantObservations(dataset_root, split="train")
    task.set_statistics(data.statistics, data.aux_columns)
    return task


def overfit(task: MultiTaskTask, batch: dict, steps: int) -> None:
    """``steps`` AdamW steps (lr 3e-3) on one batch, all tasks weighted as configured."""
    optimizer = torch.optim.AdamW(task.parameters(), lr=3e-3)
    for _ in range(steps):
        losses = task.losses(task(batch), batch)
        total = task.weighting(losses, dict.fromkeys(losses, True))
        optimizer.zero_grad()
        total.backward()
        optimizer.step()


def quiet_trainer(**kwargs) -> L.Trainer:
    settings = {"accelerator": "cpu", "logger": False, "enable_progress_bar": False,
                "enable_checkpointing": False, "enable_model_summary": False}  # fmt: skip
    return L.Trainer(**{**settings, **kwargs})


@pytest.fixture
def one_thread():
    """One CPU thread: float sums in one order, so a result does not depend on the machine's
    core count or load."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_each_head_can_overfit_a_tiny_batch(plume_batch, tiny_dataset, one_thread):
    torch.manual_seed(0)
    task = normalised_task(tiny_dataset, dropout=0.0, dice_weight=0.5)
    overfit(task, plume_batch, steps=80)
    metrics = TaskMetrics(task.specs)
    with torch.no_grad():
        metrics.update(task(plume_batch), plume_batch)
    values = metrics.compute()
    assert values["plume_iou"] > 0.7
    assert values["fuel_accuracy"] == 1.0
    # 15 % of the mean: predicting the batch mean errs by ~70 %
    assert values["power_mae_mw"] < 0.15 * plume_batch["power"].mean()
    assert values["co2_mae_t_per_h"] < 0.15 * plume_batch["co2"].mean()


def test_an_untrained_models_task_losses_are_within_one_order_of_magnitude(tiny_dataset):
    data = PlantObservations(tiny_dataset, split="train")
    batch = collate_samples([data[i] for i in range(0, len(data), 2)])
    losses = []
    for seed in range(3):
        torch.manual_seed(seed)
        task = normalised_task(tiny_dataset).eval()
        with torch.no_grad():
            values = {k: float(v) for k, v in task.losses(task(batch), batch).items()}
        assert set(values) == {"plume", "fuel", "power", "co2"}
        losses.append(values)
    mean = {t: np.mean([v[t] for v in losses]) for t in losses[0]}
    assert max(mean.values()) / min(mean.values()) < 10, mean


def head_gradients(task, batch, head):
    task.zero_grad()
    losses = task.losses(task(batch), batch)
    task.weighting(losses, dict.fromkeys(losses, True)).backward()
    module = task.model.dense_heads[head] if head == "plume" else task.model.heads[head]
    return {name: p.grad.clone() for name, p in module.named_parameters()}


@pytest.mark.parametrize(("head", "flag", "target", "junk"), [
    ("plume", "has_mask", "mask", torch.ones(48, 48, dtype=torch.long)),
    ("fuel", "has_fuel", "fuel", torch.tensor(3)),
    ("power", "has_power", "power", torch.tensor(12345.0)),
    ("co2", "has_co2", "co2", torch.tensor(12345.0)),
])  # fmt: skip
def test_a_sample_without_a_label_contributes_zero_gradient_to_that_head(
    plume_batch, tiny_dataset, head, flag, target, junk
):
    torch.manual_seed(1)
    task = normalised_task(tiny_dataset, co2_mode="head").eval()  # samples do not interact
    both = {k: v[:2] for k, v in plume_batch.items()}
    both[flag] = torch.tensor([True, False])
    both[target] = torch.stack([both[target][0], junk])  # a wrong label that must be ignored
    alone = {k: v[:1] for k, v in both.items()}
    with_unlabelled, labelled_only = (
        head_gradients(task, both, head),
        head_gradients(task, alone, head),
    )
    for name, grad in labelled_only.items():
        torch.testing.assert_close(with_unlabelled[name], grad, msg=name)
    nothing = {**both, flag: torch.tensor([False, False])}
    assert all((g == 0).all() for g in head_gradients(task, nothing, head).values())


def data_module(root, **kwargs) -> DataModule:
    settings = {"batch_size": 4, "augmentation": None}
    return DataModule(root=str(root), **{**settings, **kwargs})


def test_data_without_training_statistics_is_named_not_silently_unnormalised(plume_batch):
    loader = torch.utils.data.DataLoader([plume_batch], batch_size=None)
    with pytest.warns(UserWarning, match="no training statistics.*unnormalised"):
        quiet_trainer(fast_dev_run=True).fit(MultiTaskTask(figure_examples=0), loader, loader)


def test_the_model_refuses_data_with_other_bands(tiny_dataset):
    task = MultiTaskTask(bands=["B04", "B03", "B02"])
    with pytest.raises(ValueError, match=r"serves bands .* built for \['B04', 'B03', 'B02'\]"):
        quiet_trainer(fast_dev_run=True).fit(task, datamodule=data_module(tiny_dataset))


@pytest.mark.parametrize(
    ("frozen", "trainable"),
    [
        (["model.encoder"], ("model.heads.", "model.dense_heads.", "model.decoder.")),
        (["model.encoder", "model.decoder"], ("model.heads.", "model.dense_heads.")),  # probe
    ],
    ids=["frozen_encoder", "linear_probe"],
)
def test_frozen_modules_keep_their_weights_while_the_rest_trains(tiny_dataset, frozen, trainable):
    task = MultiTaskTask(freeze=frozen, figure_examples=0)
    before = {k: v.clone() for k, v in task.state_dict().items()}
    quiet_trainer(max_steps=2, limit_val_batches=0).fit(task, datamodule=data_module(tiny_dataset))
    changed = {k for k, v in task.state_dict().items() if not torch.equal(v, before[k])}
    trained = {k for k in changed if not k.startswith(("input_", "aux_", "normalization_",
                                                       "losses."))}  # fmt: skip
    assert trained and all(k.startswith(trainable) for k in trained)
    assert {"model.heads.", "model.dense_heads."} <= {p for p in trainable if any(
        k.startswith(p) for k in trained)}  # fmt: skip
    # batch-norm running statistics of the frozen modules did not drift either
    assert not any(k.startswith(tuple(f"{m}." for m in frozen)) for k in changed)
    assert not task.model.encoder.training and task.model.heads.training


def test_learning_rate_multipliers_and_no_decay_make_the_parameter_groups():
    multipliers = {"model.encoder": 0.1, "model.encoder.layer4": 0.5}
    task = MultiTaskTask(
        lr=1e-3, weight_decay=0.05, loss_weighting="uncertainty", lr_multipliers=multipliers
    )
    groups = {(g["lr"], g["weight_decay"]): g["params"] for g in task.parameter_groups()}
    ids = {k: {id(p) for p in v} for k, v in groups.items()}
    named = dict(task.named_parameters())
    assert set(groups) == {(1e-4, 0.05), (1e-4, 0.0), (5e-4, 0.05), (5e-4, 0.0),
                           (1e-3, 0.05), (1e-3, 0.0)}  # fmt: skip
    assert id(named["model.encoder.conv1.weight"]) in ids[(1e-4, 0.05)]
    assert id(named["model.encoder.bn1.weight"]) in ids[(1e-4, 0.0)]  # a norm: no decay
    assert id(named["model.encoder.layer4.0.conv1.weight"]) in ids[(5e-4, 0.05)]
    assert id(named["weighting.log_vars"]) in ids[(1e-3, 0.0)]  # learned loss weights
    assert id(named["model.heads.fuel.0.bias"]) in ids[(1e-3, 0.0)]
    assert sum(len(v) for v in groups.values()) == len(named)
    with pytest.raises(ValueError, match=r"do not exist: \['model.encoderr'\]"):
        MultiTaskTask(lr_multipliers={"model.encoderr": 0.1}).parameter_groups()


@pytest.fixture(scope="module")
def brighter_holdout(tiny_dataset, tmp_path_factory):
    """The tiny dataset with every val and test image 1.6 × brighter than training."""
    root = copy_dataset(tiny_dataset, tmp_path_factory.mktemp("bright") / "ds")
    data = PlantObservations(root)
    for split in ("val", "test"):
        for obs in read_split(root, split):
            path = root / data.observations.loc[obs, "image"]
            with rasterio.open(path, "r+") as src:
                src.write((src.read() * 1.6).astype(np.uint16))
    return root


def test_val_and_test_are_normalised_with_the_training_statistics(brighter_holdout):
    dm = data_module(brighter_holdout)
    task = MultiTaskTask(figure_examples=0)
    quiet_trainer(max_steps=1, limit_val_batches=1).fit(task, datamodule=dm)
    train_mean, train_std = dm.datasets["train"].statistics.of(task.bands)
    torch.testing.assert_close(task.input_mean, torch.from_numpy(train_mean))
    dm.setup("test")
    test = collate_samples([dm.datasets["test"][i] for i in range(len(dm.datasets["test"]))])
    image, _, _ = task.normalize(test)
    expected = (test["image"] - torch.from_numpy(train_mean)[:, None, None]) / torch.from_numpy(
        train_std
    )[:, None, None]
    torch.testing.assert_close(image, expected)
    assert image.mean() > 0.3  # brighter than training, as it should look: not re-centred


def test_a_checkpoint_carries_its_normalisation(brighter_holdout, tiny_dataset, tmp_path):
    task = MultiTaskTask(figure_examples=0, tasks=["power"])
    trainer = quiet_trainer(max_steps=1, limit_val_batches=0)
    trainer.fit(task, datamodule=data_module(tiny_dataset))
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    loaded = MultiTaskTask.load_from_checkpoint(tmp_path / "model.ckpt")
    torch.testing.assert_close(loaded.input_mean, task.input_mean)
    torch.testing.assert_close(loaded.losses.target_scales, task.losses.target_scales)
    other = data_module(brighter_holdout, split_seed=2)  # other statistics entirely
    quiet_trainer().predict(loaded, datamodule=other)
    torch.testing.assert_close(loaded.input_mean, task.input_mean)
    assert not torch.allclose(
        loaded.input_mean, torch.from_numpy(other.statistics.of(task.bands)[0])
    )
    older = torch.load(tmp_path / "model.ckpt", weights_only=True)  # the scales' former key
    older["state_dict"]["target_scales"] = older["state_dict"].pop("losses.target_scales")
    torch.save(older, tmp_path / "older.ckpt")
    loaded = MultiTaskTask.load_from_checkpoint(tmp_path / "older.ckpt")
    torch.testing.assert_close(loaded.losses.target_scales, task.losses.target_scales)


def test_a_toy_task_trains_from_a_registry_entry_alone(tiny_dataset, monkeypatch):
    spec = register_task(TaskSpec("air_temperature", "regression", target="air_temperature",
                                  flag="has_air_temperature", unit="°C", unit_tag="c",
                                  scale=10.0))  # fmt: skip
    monkeypatch.setenv("PL_GLOBAL_SEED", "0")  # a seeded run (each epoch seeded), in any order
    try:
        torch.manual_seed(0)
        dataset = lambda root, split, **kw: PlantObservations(  # noqa: E731
            root, split, targets={"air_temperature": "temperature_c"}, **kw
        )
        dm = data_module(tiny_dataset, dataset=dataset)
        task = MultiTaskTask(tasks=[spec.name], lr=3e-3, figure_examples=0)
        trainer = quiet_trainer(max_epochs=8)
        before = trainer.validate(task, datamodule=dm, verbose=False)[0]
        trainer.fit(task, datamodule=dm)
        after = trainer.validate(task, datamodule=dm, verbose=False)[0]
        assert after["val/air_temperature_mae_c"] < 0.5 * before["val/air_temperature_mae_c"]
        assert task.losses.scale(spec.name) == pytest.approx(
            dm.statistics.std["temperature_c"], rel=1e-5
        )
    finally:
        TASKS.pop(spec.name)


def test_model_selection_weighs_task_losses_by_their_labels_and_ignores_learned_weights(
    tiny_dataset,
):
    torch.manual_seed(0)
    task = MultiTaskTask(figure_examples=0, loss_weighting="uncertainty")
    trainer, data = quiet_trainer(), data_module(tiny_dataset)
    plain = trainer.validate(task, datamodule=data, verbose=False)[0]
    with torch.no_grad():
        task.weighting.log_vars.copy_(torch.tensor([-3.0, 2.0, -1.0, 4.0]))
    reweighted = trainer.validate(task, datamodule=data, verbose=False)[0]
    val = PlantObservations(tiny_dataset, split="val").labels()
    counts = {"plume": val["has_mask"].sum(), "fuel": val["has_fuel"].sum(),
              "power": val["has_power"].sum(), "co2": val["has_co2"].sum()}  # fmt: skip
    expected = sum(counts[t] * plain[f"val/loss_{t}"] for t in counts) / sum(counts.values())
    assert plain["val/selection_loss"] == pytest.approx(expected, rel=1e-5)
    assert reweighted["val/loss"] != pytest.approx(plain["val/loss"])  # the objective moved
    assert reweighted["val/selection_loss"] == pytest.approx(plain["val/selection_loss"])


def test_a_plant_that_is_off_gets_less_power_than_the_same_plant_on(tmp_path):
    root = make_dataset(tmp_path / "ds", plants=4, per_plant=12, size=48, mask_fraction=1.0,
                        seed=3)  # fmt: skip
    data = PlantObservations(root)
    picked = [i for i, plant in enumerate(data.observations["plant_id"]) if plant == "P0000"]
    batch = collate_samples([data[i] for i in picked])
    off = batch["power"] == 0
    assert 0 < off.sum() < len(off) and not (batch["mask"][off] == 1).any()  # off: no plume
    torch.manual_seed(0)
    task = normalised_task(root, dropout=0.0, plume_pooling=True)
    overfit(task, batch, steps=60)
    with torch.no_grad():
        power = task(batch)["power"]
    assert power[off].mean() < 0.5 * power[~off].mean()  # same plant, same capacity


def test_further_modalities_are_normalised_by_channel_name():
    task = MultiTaskTask(tasks=["land_cover"], extra_modalities={"image_s1": ["VV", "VH"]},
                         fusion="late")  # fmt: skip
    statistics = default_statistics("S2L2A", 10_000)
    task.set_statistics(statistics, WEATHER_COLUMNS)
    mean, std = statistics.of(["VV", "VH"])
    s1 = torch.from_numpy(mean + std)[None, :, None, None].expand(2, 2, 32, 32)  # mean + 1 std
    batch = {"image": torch.zeros(2, 12, 32, 32), "image_s1": s1, "aux": torch.zeros(2, 4)}
    _, _, extras = task.normalize(batch)
    assert torch.allclose(extras["image_s1"], torch.ones(2, 2, 32, 32))
    assert task(batch)["land_cover"].shape == (2, 11, 32, 32)


def test_scalar_modalities_are_encoded_and_cannot_leak_a_target():
    from plantwatch.tasks.base import scalar_vector

    batch = {"season": torch.tensor([0.0, 1.0, 0.5]),
             "has_season": torch.tensor([True, True, False]),
             "climate_zone": torch.tensor([2, 14, 0]),
             "has_climate_zone": torch.tensor([True, True, False])}  # fmt: skip
    assert scalar_vector(batch, "season", None)[:, 0].tolist() == [-1.0, 1.0, 0.0]
    zone = scalar_vector(batch, "climate_zone", None)
    assert zone.shape == (3, 30) and zone[0, 2] == 1 and zone[1, 14] == 1 and zone[2].sum() == 0
    with pytest.raises(ValueError, match=r"\['climate_zone'\] are targets"):
        MultiTaskTask(tasks=["land_cover", "climate_zone"], scalar_modalities=["climate_zone"])
    task = MultiTaskTask(tasks=["land_cover"], use_aux=False, scalar_modalities=["aux", "season"])
    assert task.aux_mean.numel() == 4 and task.model.aux_features == 0  # weather as channels only
    inputs = {"image": torch.zeros(2, 12, 32, 32), "aux": torch.zeros(2, 4), **{
        k: v[:2] for k, v in batch.items()}}  # fmt: skip
    assert task(inputs)["land_cover"].shape == (2, 11, 32, 32)


def test_the_plant_model_fuses_its_weather_as_input_channels(plume_batch, tiny_dataset):
    torch.manual_seed(0)
    task = normalised_task(tiny_dataset, scalar_modalities=["aux"], fusion="early")
    assert task.model.early is not None and task.model.early.out_channels == 12 + 4
    outputs = task(plume_batch)
    assert outputs["plume"].shape == plume_batch["mask"].shape and outputs["power"].isfinite().all()
    task.eval()
    warmer = {**plume_batch, "aux": plume_batch["aux"] + torch.tensor([10.0, 0, 0, 0])}
    with torch.no_grad():
        assert not torch.allclose(task(plume_batch)["plume"], task(warmer)["plume"])


def test_the_s2_branch_of_a_late_fusion_checkpoint_loads_into_an_s2_only_plant_model(tmp_path):
    torch.manual_seed(0)
    fused = MultiTaskTask(tasks=["land_cover"], extra_modalities={"image_s1": ["VV", "VH"]},
                          fusion="late")  # fmt: skip
    path = tmp_path / "fused.ckpt"
    torch.save({"state_dict": fused.state_dict(), "hyper_parameters": dict(fused.hparams)}, path)
    plant = MultiTaskTask(tasks=["plume", "fuel", "power", "co2"], encoder_checkpoint=str(path))
    image = torch.randn(2, 12, 64, 64)
    branch, plain = fused.model.encoder.branches["image"].eval(), plant.model.encoder.eval()
    with torch.no_grad():
        for theirs, mine in zip(branch(image), plain(image), strict=True):
            assert torch.equal(theirs, mine)


def test_the_compile_switch_compiles_in_place_and_keeps_checkpoint_keys():
    torch.manual_seed(0)
    eager = MultiTaskTask(figure_examples=0)
    torch.manual_seed(0)
    compiled = MultiTaskTask(compile=True, figure_examples=0)
    assert (
        compiled.model._compiled_call_impl is not None and eager.model._compiled_call_impl is None
    )
    assert list(compiled.state_dict()) == list(eager.state_dict())  # no _orig_mod. prefix


def test_a_compiled_model_computes_what_the_eager_one_does():
    """The encoder and a global head (no decoder): about 25 s of inductor compilation on 2
    CPU cores, where the whole U-Net takes 70 s."""
    torch.manual_seed(0)
    eager = MultiTaskTask(tasks=["power"], figure_examples=0).eval()
    compiled = MultiTaskTask(tasks=["power"], compile=True, figure_examples=0).eval()
    compiled.load_state_dict(eager.state_dict())
    batch = {"image": torch.rand(2, 12, 32, 32), "aux": torch.zeros(2, 4),
             "capacity": torch.full((2,), 500.0),
             "has_capacity": torch.ones(2, dtype=torch.bool)}  # fmt: skip
    with torch.no_grad():
        expected, got = eager(batch), compiled(batch)
    for name, value in expected.items():
        torch.testing.assert_close(got[name], value, rtol=1e-4, atol=1e-4)


def test_the_reference_is_normalised_as_the_image_and_required_of_the_data(tiny_dataset):
    with_reference = partial(PlantObservations, modalities=("image", "reference"),
                             reference_min_others=3)  # fmt: skip
    task = MultiTaskTask(reference_fusion="difference", figure_examples=0)
    with pytest.raises(ValueError, match=r"modalities: \[image, reference\]"):
        quiet_trainer(fast_dev_run=True).fit(task, datamodule=data_module(tiny_dataset))
    quiet_trainer(fast_dev_run=True).test(
        task, datamodule=data_module(tiny_dataset, dataset=with_reference)
    )
    batch = collate_samples([with_reference(tiny_dataset, "train")[i] for i in range(2)])
    _, _, extras = task.normalize(batch)
    image, _, _ = task.normalize({**batch, "image": batch["reference"]})
    assert torch.equal(extras["reference"], image) and extras["has_reference"].all()
    assert {"test/fuel_plant_accuracy", "test/fuel_plant_macro_f1"} <= set(task.final_metrics)
