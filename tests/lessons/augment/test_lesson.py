"""The augmentation lesson end to end on quick settings: figures = numbers, its cross-field
settings refused in one line, and every claim. (Stream, stop, budget, cost refusal, bad input,
same seed same numbers: tests/lessons/test_protocol.py, for every lesson.)"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from cnnbp.claims import CLAIMS
from cnnbp.lessons import get_lesson
from cnnbp.lessons.augment.config import AugmentConfig
from cnnbp.lessons.base import ConfigError, validate_config

LESSON = get_lesson("augment")
QUICK = validate_config(AugmentConfig, LESSON.quick)


def test_gallery_figure_shows_every_row_and_its_label(final):
    rows = final.numbers["gallery"]
    assert [r["name"] for r in rows] == QUICK.gallery
    images = [t for t in final.figures["gallery"].data if t.type == "image"]
    drawn = [r for r in rows if r["pixel_mean"] is not None]
    assert [t.name for t in images] == [r["name"] for r in drawn]
    for trace, row in zip(images, drawn):  # the strip is the row's copies side by side, white between
        strip = np.asarray(Image.open(io.BytesIO(base64.b64decode(trace.source.split(",", 1)[1]))))
        k, size = QUICK.gallery_size, 8  # digits: 8 x 8
        assert strip.shape == (size, k * (size + 2) - 2, 3)
        copies = np.concatenate([strip[:, i * (size + 2): i * (size + 2) + size] for i in range(k)], axis=1)
        assert copies.mean() / 255 == pytest.approx(row["pixel_mean"], abs=1e-9)
    assert list(final.tables["gallery"]["label"]) == [r["label"] for r in rows]
    saturation = next(r for r in rows if r["name"] == "saturation")
    assert saturation["pixel_mean"] is None and "RGB only" in saturation["label"]


def test_curves_and_bars_show_the_histories(final):
    training = final.numbers["training"]
    assert list(training) == ["plain, seed 0", "augmented, seed 0"]
    traces = {t.meta: t for t in final.figures["curves"].data}
    for h in training.values():
        assert list(traces[f"test {h['arm']}"].y) == h["test_accuracy"]
        assert list(traces[f"train {h['arm']}"].y) == h["train_accuracy"]
        assert h["final_gap"] == pytest.approx(h["train_accuracy"][-1] - h["test_accuracy"][-1])
    bars = {t.meta: list(t.y) for t in final.figures["accuracy"].data}
    assert bars["plain 1"] == [training["plain, seed 0"]["final_test"]]
    assert bars["augmented 2"] == [pytest.approx(training["augmented, seed 0"]["final_gap"])]
    over = final.numbers["over_seeds"]
    assert over["gains"] == [pytest.approx(training["augmented, seed 0"]["final_test"]
                                           - training["plain, seed 0"]["final_test"])]
    assert over["raises"] is None  # one seed: cannot tell


def test_flip_figure_shows_the_shares(final):
    flips = final.numbers["flips"]
    bars = {t.name: list(t.y) for t in final.figures["flips"].data}
    for name, shares in flips["per_class"].items():
        assert bars[name] == [round(v, 3) for v in shares]
    assert flips["images"] == QUICK.test_images
    assert list(final.tables["flips"]["class"]) == flips["classes"]


def test_tta_costs_views_times_images_and_the_figures_show_it(final):
    tta = final.numbers["tta"]
    assert tta["views"] == len(QUICK.views()) == 6  # digits: no mirrors; the whole image + 5 crops at 0.8
    assert tta["forward_passes"] == tta["views"] * QUICK.test_images
    bars = [list(t.y) for t in final.figures["tta"].data]
    assert bars == [[round(a, 4) for a in tta["single"]], [round(a, 4) for a in tta["tta"]]]
    views = final.numbers["tta_views"]
    heat = final.figures["tta_views"].data[0]
    assert [list(r) for r in heat.z] == views["p_true"] and list(heat.x) == [*views["views"], "average"]
    assert len(views["images"]) == QUICK.tta_examples
    for row in views["p_true"]:  # the average column is the mean of the views' columns
        assert row[-1] == pytest.approx(sum(row[:-1]) / (len(row) - 1), abs=1e-6)


def test_ensemble_figure_shows_the_curve(final):
    ens = final.numbers["ensemble"]
    traces = {t.meta: t for t in final.figures["ensemble"].data}
    for arm, c in ens.items():
        assert list(traces[arm].y) == c["accuracy"] and len(c["accuracy"]) == QUICK.seeds
        assert c["accuracy"][0] == c["members"][0]  # one model: the ensemble is that model
    assert ens["augmented"]["accuracy"][0] == final.numbers["tta"]["single"][0]


@pytest.mark.parametrize("values, field", [
    ({"parts": ["tta"]}, "parts"),
    ({"augmentations": ["saturation"]}, "augmentations"),
    ({"dataset": "digits", "image_index": 360}, "image_index"),
    ({"dataset": "digits", "train_images": 2000}, "train_images"),
    ({"train_images": 20, "batch_size": 32}, "batch_size"),
    ({"image": "not-a-file.png"}, "image"),
])
def test_settings_that_do_not_fit_are_refused_in_one_line(values, field):
    with pytest.raises(ConfigError) as err:
        validate_config(AugmentConfig, values)
    assert field in str(err.value) and "\n" not in str(err.value) and "/work" not in str(err.value)


def test_shapes_take_colour_jitter_and_mirrors_by_default():
    cfg = validate_config(AugmentConfig, {"dataset": "shapes", "augmentations": ["saturation", "hflip"],
                                          "tta_scales": ["1", "0.9", "0.8"]})
    assert cfg.flips_keep_label and len(cfg.views()) == 2 * 11


def test_the_claims_are_registered_with_the_lesson():
    mine = {c.id for c in CLAIMS.values() if c.lesson == "augment"}
    assert mine == {"augment.raises_test_accuracy", "augment.tta_raises_or_ties", "augment.ensemble_beats_member"}


def test_the_claims_read_the_lessons_own_predicates(final, monkeypatch):
    """Each claim's verdict is the number the lesson computed (here the quick run's, one seed:
    cannot tell), and its text carries the measurement."""
    from cnnbp.lessons.augment import claims

    monkeypatch.setattr(claims, "_numbers", lambda seed: final.numbers)
    for check, key in ((claims.raises_test_accuracy, final.numbers["over_seeds"]["raises"]),
                       (claims.tta_raises_or_ties, final.numbers["tta"]["raises_or_ties"]),
                       (claims.ensemble_beats_member, final.numbers["ensembles_beat"])):
        passed, measured = check(0)
        assert passed is key is None and "300 training images" in measured
    assert "views" in claims.tta_raises_or_ties(0)[1]
