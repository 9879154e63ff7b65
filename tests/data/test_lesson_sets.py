"""The datasets every lesson that trains on one offers: the shipped MNIST and Fashion-MNIST beside
the digits and shapes, at the size the lessons train on, with costs the Config estimates from it."""

from __future__ import annotations

import pytest
import torch

from cnnbp.data import LESSON_DATASETS, LESSON_OPTIONS, lesson_dataset, lesson_shape
from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import ConfigError, cost_budget, field_choices, merge_frames, run_lesson, validate_config
from cnnbp.train import RunControl

# The lessons whose Config has a dataset field of their own (visualise and transfer have their own lists).
TAKING_A_DATASET = ["activations", "batchnorm", "imbalance", "init", "norms", "preprocessing"]


def test_every_lesson_that_takes_a_dataset_offers_the_shipped_real_sets():
    for name in TAKING_A_DATASET:
        options = field_choices(LESSONS[name].config.model_fields["dataset"])
        assert options == list(LESSON_DATASETS), name
        assert {"mnist", "fashion_mnist"} <= set(options)


@pytest.mark.parametrize("name", LESSON_DATASETS)
def test_lesson_shape_is_what_lesson_dataset_loads(name):
    shape, ds = lesson_shape(name), lesson_dataset(name, seed=3)
    assert (len(ds.y_train), len(ds.y_test), ds.in_channels, ds.image_size[0], ds.num_classes) == (
        shape.n_train, shape.n_test, shape.channels, shape.size, shape.classes)


def test_the_real_sets_are_stratified_subsets_of_the_size_in_lesson_options():
    ds = lesson_dataset("fashion_mnist", seed=0)
    assert len(ds.y_train) == LESSON_OPTIONS["fashion_mnist"]["n_train"] == 1500
    assert torch.bincount(ds.y_train).tolist() == [150] * 10  # stratified: the shipped set is balanced
    again = lesson_dataset("fashion_mnist", seed=0)
    assert torch.equal(ds.x_train, again.x_train)  # same seed, same images
    assert not torch.equal(ds.x_train, lesson_dataset("fashion_mnist", seed=1).x_train)


def test_the_cost_follows_the_dataset():
    # 28 x 28 is 12.25x the digits' 8 x 8 pixels: a lesson's estimate grows with it (by the first
    # layer's share: less than 12.25x, more than the image-count ratio alone)
    for name in ("norms", "init", "batchnorm"):
        cfg = LESSONS[name].config
        digits = validate_config(cfg, {**LESSONS[name].quick}).cost_seconds()
        mnist = cfg.model_validate({**LESSONS[name].quick, "dataset": "mnist"}).cost_seconds()
        assert 2 * digits < mnist < 14 * digits, name


def test_quick_settings_on_fashion_mnist_fit_the_budget_where_the_lesson_is_small_enough():
    fits = {name: LESSONS[name].config.model_validate({**LESSONS[name].quick, "dataset": "fashion_mnist"})
            .cost_seconds() <= cost_budget() for name in TAKING_A_DATASET}
    assert fits == {"activations": False, "batchnorm": True, "imbalance": True, "init": True, "norms": True,
                    "preprocessing": True}
    with pytest.raises(ConfigError, match=r"^this job is too big: estimated \d+ s"):
        run_lesson("activations", {**LESSONS["activations"].quick, "dataset": "fashion_mnist"})


def test_norms_trains_on_fashion_mnist():
    settings = {**LESSONS["norms"].quick, "dataset": "fashion_mnist", "parts": ["compare"], "norms": ["batch", "none"]}
    final = merge_frames(list(run_lesson("norms", settings, control=RunControl())))
    assert final.progress == 1.0
    accuracies = [v for k, v in _flat(final.numbers) if "acc" in k and isinstance(v, float)]
    assert accuracies and max(accuracies) > 0.3  # one epoch of a small CNN on 10 classes: well above 10%


def test_an_unknown_dataset_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="unknown dataset 'cifar100'; choose from digits, shapes, mnist, "
                                          "fashion_mnist") as err:
        run_lesson("norms", {"dataset": "cifar100"})
    assert "\n" not in str(err.value)


def _flat(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flat(v, f"{prefix}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _flat(v, f"{prefix}[{i}]")
    else:
        yield prefix, obj
