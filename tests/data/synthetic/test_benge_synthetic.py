import hashlib

import numpy as np
import pytest

from plantwatch.cli import main
from plantwatch.data.benge.dataset import BenGe
from plantwatch.data.synthetic.benge import synthesize_benge

SUBSET = "ben-ge-synthetic"
CLASS = {"tree": 0, "grass": 2, "crop": 3, "built": 4, "bare": 5, "water": 7, "wetland": 8}


def _digests(root):
    return {p.relative_to(root): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("benge")
    main(["synth", "benge", str(root), "--patches", "24", "--size", "48", "--quiet"])
    return root


def test_it_loads_through_the_benge_reader_with_grouped_splits(synthetic):
    data = BenGe(synthetic, subset=SUBSET, modalities=("image", "image_s1", "dem", "lulc"))
    sample = data[0]
    assert len(data) == 24 and sample["image"].shape == (12, 48, 48)
    assert sample["image_s1"].shape == (2, 48, 48) and sample["dem"].shape == (1, 48, 48)
    groups = [
        set(BenGe(synthetic, split=s, subset=SUBSET).meta["plant_id"])
        for s in ("train", "val", "test")
    ]
    assert sum(map(len, groups)) == len(set().union(*groups)) == 6  # 4 patches per acquisition


def test_the_same_seed_writes_the_same_files_and_a_rerun_resumes(synthetic, tmp_path):
    again = synthesize_benge(tmp_path / "again", patches=24, size=48, seed=0, progress=False)
    assert _digests(again) == _digests(synthetic)
    lost = next((again / "dem").iterdir())
    lost.unlink()
    (again / "esaworldcover" / lost.name.replace("_dem", "_esaworldcover")).unlink()
    synthesize_benge(again, patches=24, size=48, seed=0, progress=False)
    assert _digests(again) == _digests(synthetic)
    other = synthesize_benge(tmp_path / "other", patches=4, size=48, seed=1, progress=False)
    assert _digests(other) != {k: v for k, v in _digests(synthetic).items() if k in _digests(other)}


def test_modalities_follow_the_land_cover_the_generator_promises(synthetic):
    data = BenGe(synthetic, subset=SUBSET, modalities=("image", "image_s1", "dem", "lulc"))
    pixels = {k: [] for k in ("class", "nir", "vv", "dem")}
    for i in range(len(data)):
        sample = data[i]
        pixels["class"].append(sample["lulc"].numpy().ravel())
        pixels["nir"].append(sample["image"][7].numpy().ravel())
        pixels["vv"].append(sample["image_s1"][0].numpy().ravel())
        pixels["dem"].append(sample["dem"][0].numpy().ravel())
    values = {k: np.concatenate(v) for k, v in pixels.items()}
    share = np.bincount(values["class"], minlength=11) / values["class"].size
    assert share[[CLASS["tree"], CLASS["grass"], CLASS["crop"]]].sum() > 0.6
    assert share[CLASS["built"]] < 0.1 and share[CLASS["water"]] > 0.0
    mean = {name: {k: values[k][values["class"] == c].mean() for k in ("nir", "vv", "dem")}
            for name, c in CLASS.items() if (values["class"] == c).any()}  # fmt: skip
    assert mean["water"]["nir"] == min(m["nir"] for m in mean.values())
    assert mean["water"]["vv"] == min(m["vv"] for m in mean.values())
    assert mean["bare"]["dem"] > mean["crop"]["dem"]
    # Confusable in S2, separable in S1: wetland against grassland, bare rock against built-up.
    assert abs(mean["wetland"]["nir"] - mean["grass"]["nir"]) < 0.1 * mean["grass"]["nir"]
    assert mean["wetland"]["vv"] > mean["grass"]["vv"] + 3.0
    assert mean["built"]["vv"] > mean["bare"]["vv"] + 5.0


def test_the_preview_shows_every_modality(synthetic, tmp_path, capsys):
    main(["preview", str(synthetic), "--out", str(tmp_path / "benge.png"), "--count", "2"])
    assert (tmp_path / "benge.png").stat().st_size > 10_000
    assert "benge.png" in capsys.readouterr().out
