import hashlib

import numpy as np
import pytest

from plantwatch.cli import main
from plantwatch.data.readers.benge.dataset import BenGe
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


def test_realism_table_sets_the_synthetic_bands_beside_the_real_patches(synthetic, bigearthnet,
                                                                         capsys):  # fmt: skip
    from plantwatch.data.synthetic.realism import compare_bands

    table = compare_bands([synthetic], [bigearthnet["S1"], bigearthnet["S2"]])
    assert table.attrs["patches"] == {"real": 6, "synthetic": 24}
    assert list(table.index[-2:]) == ["VV", "VH"] and table.notna().all().all()
    s2 = table.drop(index=["VV", "VH"])
    assert s2["real mean"].between(0.0, 1.0).all() and s2["synthetic mean"].between(0, 1).all()
    # no band is off by more than a factor of 2.5 (S2) or 3 dB (S1): the table guards that
    assert s2["synthetic vs real"].between(0.4, 2.5).all()
    assert table.loc[["VV", "VH"], "synthetic vs real"].abs().max() < 3.0
    main(["synth", "realism", str(synthetic), "--real", str(bigearthnet["S1"]),
          str(bigearthnet["S2"])])  # fmt: skip
    assert "| B08 |" in capsys.readouterr().out


def test_the_source_generates_once_and_warns_when_settings_differ(tmp_path):
    from plantwatch.data.synthetic.source import SyntheticBenGe

    SyntheticBenGe(patches=8, size=24, progress=False).prepare(tmp_path)
    written = _digests(tmp_path)
    assert len(BenGe(tmp_path, subset=SUBSET)) == 8
    with pytest.warns(UserWarning, match="other settings"):
        SyntheticBenGe(patches=12, size=24, progress=False).prepare(tmp_path)
    assert _digests(tmp_path) == written  # the data on disk is kept, not regenerated


def test_the_fusion_studys_benchmark_has_every_rare_class_in_every_split(tmp_path):
    """At the size of experiments/studies/benge_fusion.yaml (256 patches of 60 px, seed 0),
    built-up and herbaceous wetland cover well under 1 % of the pixels, yet every split has
    patches with each, so each is trained, selected on and scored."""
    import pandas as pd

    root = synthesize_benge(tmp_path, patches=256, size=60, seed=0, subset=SUBSET,
                            progress=False)  # fmt: skip
    fractions = pd.read_csv(root / f"{SUBSET}_esaworldcover.csv", index_col=0)
    for split in ("train", "val", "test"):
        ids = pd.read_csv(root / "splits" / f"{SUBSET}_{split}.csv", header=None)[0]
        present = (fractions.loc[ids] > 0).sum()
        assert present["50"] >= 10 and present["90"] >= 10, split  # built-up, wetland patches
        assert fractions.loc[ids, ["50", "90"]].to_numpy().mean() < 0.01
