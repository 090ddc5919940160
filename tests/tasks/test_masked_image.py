import lightning as L
import pytest
import torch

from plantwatch.data.format.statistics import Statistics
from plantwatch.data.loading.datamodule import DataModule
from plantwatch.tasks.masked_image import MaskedImageTask, patch_mask
from plantwatch.tasks.multitask_task import MultiTaskTask


def test_patch_masks_hide_exactly_the_share_of_patches_asked_for():
    hidden = patch_mask(3, 20, 16, 4, 0.5, torch.Generator().manual_seed(0))
    assert hidden.shape == (3, 20, 16) and hidden.dtype == torch.bool
    patches = hidden[:, ::4, ::4]  # one pixel per 4 × 4 patch: a 5 × 4 grid
    assert patches.flatten(1).sum(dim=1).tolist() == [10, 10, 10]
    blocks = hidden.view(3, 5, 4, 4, 4)  # every patch hidden whole or not at all
    assert ((blocks.all(dim=(2, 4))) | (~blocks.any(dim=(2, 4)))).all()
    again = patch_mask(3, 20, 16, 4, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(hidden, again)
    assert not torch.equal(hidden[0], hidden[1])


@pytest.mark.parametrize("seed", [0, 1])
def test_the_masked_pretext_reconstructs_a_constant_image_at_convergence(seed):
    torch.manual_seed(seed)
    bands = ["B02", "B03", "B04"]
    task = MaskedImageTask(bands=bands, mask_patch_px=4, loss="mse", knn_label=None)
    task.set_statistics(Statistics(dict.fromkeys(bands, 0.1), dict.fromkeys(bands, 0.05)), [])
    reflectance = torch.tensor([0.05, 0.12, 0.2])  # −1, 0.4 and 2 standard deviations
    image, _, _ = task.normalize({"image": reflectance[None, :, None, None].expand(2, 3, 32, 32)})
    fixed = patch_mask(2, 32, 32, 4, 0.6, torch.Generator().manual_seed(99))
    with torch.no_grad():  # an untrained model predicts the band means: (1 + 0.16 + 4) / 3
        assert task.masked_error(image, fixed).item() == pytest.approx(1.72, abs=1e-6)
    optimizer = torch.optim.Adam(task.parameters(), lr=1e-2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 60)
    for _ in range(60):
        loss = task.masked_error(image, patch_mask(2, 32, 32, 4, 0.6))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    task.eval()
    with torch.no_grad():
        assert task.masked_error(image, fixed).item() < 0.02  # under 1.2 % of the start


def test_mask_settings_are_checked():
    with pytest.raises(ValueError, match="mask_ratio 1.0 must lie in"):
        MaskedImageTask(mask_ratio=1.0)


def test_a_fit_logs_the_fuel_probe_and_its_encoder_transfers(tiny_dataset, tmp_path):
    torch.manual_seed(0)
    task = MaskedImageTask(knn_label="fuel", knn_k=1)
    data = DataModule(root=str(tiny_dataset), batch_size=4, augmentation=None)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, enable_model_summary=False, max_epochs=1,
                        limit_train_batches=2, num_sanity_val_steps=0)  # fmt: skip
    trainer.fit(task, datamodule=data)
    logged = trainer.callback_metrics
    assert torch.isfinite(logged["val/loss"]) and 0 <= logged["val/knn_accuracy"] <= 1
    assert 0 <= logged["val/knn_chance"] <= 1
    trainer.save_checkpoint(tmp_path / "masked.ckpt")
    plant = MultiTaskTask(tasks=["plume", "fuel"], encoder_checkpoint=str(tmp_path / "masked.ckpt"))
    pretrained = task.network.encoder.state_dict()
    for name, value in plant.model.encoder.state_dict().items():
        torch.testing.assert_close(value, pretrained[name])
