import lightning as L
import pytest
import torch
from torch.utils.data import default_collate

from plantwatch.data.datamodule import PlantDataModule
from plantwatch.data.plants import PlantObservations
from plantwatch.tasks.metrics import TaskMetrics
from plantwatch.tasks.multitask import MultiTaskTask


@pytest.fixture(scope="module")
def plume_batch(tiny_dataset):
    """Four labelled observations with plumes, collated."""
    data = PlantObservations(tiny_dataset)
    picked = [
        s
        for s in (data[i] for i in range(len(data)))
        if s["has_mask"] and (s["mask"] == 1).sum() > 20
    ]
    return default_collate(picked[:4])


def test_each_head_can_overfit_a_tiny_batch(plume_batch):
    torch.manual_seed(0)
    task = MultiTaskTask(dropout=0.0, dice_weight=0.5)
    optimizer = torch.optim.AdamW(task.parameters(), lr=3e-3)
    for _ in range(80):
        losses = task.task_losses(task(plume_batch), plume_batch)
        total = task.weighting(losses, dict.fromkeys(losses, True))
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    metrics = TaskMetrics(task.tasks, 4)
    with torch.no_grad():
        metrics.update(task(plume_batch), plume_batch)
    values = metrics.compute()
    assert values["plume_iou"] > 0.7
    assert values["fuel_accuracy"] == 1.0
    assert values["power_mae_mw"] < 0.1 * plume_batch["power"].mean()
    assert values["co2_mae_t_per_h"] < 0.1 * plume_batch["co2"].mean()


def head_gradients(task, batch, head):
    task.zero_grad()
    losses = task.task_losses(task(batch), batch)
    task.weighting(losses, dict.fromkeys(losses, True)).backward()
    module = task.model.segmentation_head if head == "plume" else task.model.heads[head]
    return {name: p.grad.clone() for name, p in module.named_parameters()}


@pytest.mark.parametrize(("head", "flag", "target", "junk"), [
    ("plume", "has_mask", "mask", torch.ones(48, 48, dtype=torch.long)),
    ("fuel", "has_fuel", "fuel", torch.tensor(3)),
    ("power", "has_power", "power", torch.tensor(12345.0)),
    ("co2", "has_co2", "co2", torch.tensor(12345.0)),
])  # fmt: skip
def test_a_sample_without_a_label_contributes_zero_gradient_to_that_head(
    plume_batch, head, flag, target, junk
):
    torch.manual_seed(1)
    task = MultiTaskTask(co2_mode="head").eval()  # fixed batch norm: samples do not interact
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


def test_the_model_refuses_data_with_other_bands(tmp_path):
    data = PlantDataModule(root=str(tmp_path / "ds"), plants=6, per_plant=2, size=32, batch_size=2)
    task = MultiTaskTask(bands=["B04", "B03", "B02"])
    trainer = L.Trainer(
        accelerator="cpu", fast_dev_run=True, logger=False, enable_progress_bar=False
    )
    with pytest.raises(ValueError, match=r"serves bands .* built for \['B04', 'B03', 'B02'\]"):
        trainer.fit(task, datamodule=data)


def test_a_frozen_encoder_does_not_change(tmp_path):
    data = PlantDataModule(root=str(tmp_path / "ds"), plants=6, per_plant=2, size=32, batch_size=4)
    task = MultiTaskTask(freeze_encoder=True, figure_examples=0)
    before = {k: v.clone() for k, v in task.model.encoder.state_dict().items()}
    heads = {k: v.clone() for k, v in task.model.heads.state_dict().items()}
    trainer = L.Trainer(accelerator="cpu", max_steps=2, logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, limit_val_batches=0)  # fmt: skip
    trainer.fit(task, datamodule=data)
    for name, value in task.model.encoder.state_dict().items():
        torch.testing.assert_close(value, before[name], msg=name)
    assert any(not torch.equal(v, heads[k]) for k, v in task.model.heads.state_dict().items())
