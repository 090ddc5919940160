import pandas as pd
import pytest

from plantwatch.data.format.splits import (
    fraction_split_name,
    nested_label_fractions,
    read_split,
    split_by_plant,
    split_folder,
    write_splits,
)


def observations(plants=40, per_plant=5) -> pd.DataFrame:
    fuels = ["lignite", "hard_coal", "gas", "peat_oil"]
    return pd.DataFrame(
        [
            {"obs_id": f"P{p}_{o}", "plant_id": f"P{p}", "fuel_type": fuels[p % 4]}
            for p in range(plants)
            for o in range(per_plant)
        ]
    )


def plants_of(frame, ids):
    return set(frame.set_index("obs_id").loc[ids, "plant_id"])


def test_no_plant_is_in_two_splits_and_every_observation_is_in_one():
    frame = observations()
    splits = split_by_plant(frame, 0.15, 0.15, seed=0)
    train, val, test = (plants_of(frame, splits[k]) for k in ("train", "val", "test"))
    assert not (train & val) and not (train & test) and not (val & test)
    assert sorted(i for ids in splits.values() for i in ids) == sorted(frame["obs_id"])
    assert 0.08 < len(splits["test"]) / len(frame) < 0.25
    assert 0.08 < len(splits["val"]) / len(frame) < 0.25


def test_plants_that_share_a_site_share_a_split():
    frame = observations()
    frame["site_id"] = frame["plant_id"].str[1:].astype(int) // 2  # plants 2k and 2k+1 together
    for seed in range(3):
        splits = split_by_plant(frame, seed=seed)
        sites = [set(frame.set_index("obs_id").loc[splits[n], "site_id"]) for n in splits]
        assert not (sites[0] & sites[1] or sites[0] & sites[2] or sites[1] & sites[2])


def test_splits_are_balanced_by_fuel_where_possible():
    frame = observations(plants=80)
    splits = split_by_plant(frame, 0.2, 0.2, seed=1)
    fuels = frame.set_index("obs_id").loc[splits["test"], "fuel_type"].value_counts()
    assert len(fuels) == 4 and fuels.max() - fuels.min() <= 10


def test_splits_work_with_fuels_too_rare_to_stratify():
    frame = observations(plants=3, per_plant=1)
    splits = split_by_plant(frame, 0.3, 0.3, seed=0)
    assert sorted(i for ids in splits.values() for i in ids) == sorted(frame["obs_id"])
    assert all(len(v) == 1 for v in splits.values())


def test_splits_depend_on_the_seed_only():
    frame = observations()
    assert split_by_plant(frame, seed=4) == split_by_plant(frame, seed=4)
    assert split_by_plant(frame, seed=4) != split_by_plant(frame, seed=5)


def test_label_fractions_are_nested_sized_and_stratified():
    frame = observations(plants=40, per_plant=10)
    subsets = nested_label_fractions(frame["obs_id"], frame["fuel_type"], (0.01, 0.1, 0.5, 1.0), 0)
    sizes = [len(subsets[f]) for f in (0.01, 0.1, 0.5, 1.0)]
    assert sizes == [4, 40, 200, 400]
    assert set(subsets[0.01]) <= set(subsets[0.1]) <= set(subsets[0.5]) <= set(subsets[1.0])
    fuels = frame.set_index("obs_id").loc[subsets[0.1], "fuel_type"].value_counts()
    assert fuels.min() >= 8 and fuels.max() <= 12


def test_a_tiny_fraction_still_holds_one_observation():
    subsets = nested_label_fractions(["a", "b", "c"], ["gas"] * 3, (0.001,), 0)
    assert len(subsets[0.001]) == 1


def test_split_files_round_trip_and_unknown_names_list_the_available(tmp_path):
    write_splits(split_folder(tmp_path), {"train": ["b", "a"], fraction_split_name(0.1): ["a"]})
    assert read_split(tmp_path, "train") == ["b", "a"]
    assert read_split(tmp_path, "train_10pct") == ["a"]
    with pytest.raises(FileNotFoundError, match=r"no such split.*'train', 'train_10pct'"):
        read_split(tmp_path, "val")


def test_fraction_split_names():
    assert [fraction_split_name(f) for f in (0.01, 0.1, 0.5, 0.005)] == [
        "train_1pct",
        "train_10pct",
        "train_50pct",
        "train_0.5pct",
    ]
