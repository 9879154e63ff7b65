"""Transfer from ImageNet to the class's own upload: the imagenet part's target takes this session's
set (32x32, grey or RGB), scratch trains on its images as they are, and what the upload cannot give
(too few images per class) is refused in one line."""

from __future__ import annotations

import pytest

from cnnbp.data.archives import register_archive
from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import ConfigError, merge_frames, run_lesson, validate_config
from cnnbp.lessons.transfer import imagenet_source as source
from cnnbp.lessons.transfer.models import build_cnn
from cnnbp.train import RunControl
from tests.data.test_hostile_uploads import class_folders, make_zip

pytestmark = pytest.mark.skipif(bool(source.unavailable_reason()), reason=source.unavailable_reason() or "")
TRANSFER = LESSONS["transfer"]


@pytest.fixture(scope="module")
def pets():
    """Three classes of one colour each, 60 images apiece: 48 train / 12 test per class."""
    name, _ = register_archive(make_zip(class_folders({"cat": 60, "dog": 60, "fox": 60}, size=(20, 20))),
                               title="pets")
    return name


def settings(target: str, **kw) -> dict:
    return {**TRANSFER.quick, "parts": ["imagenet"], "imagenet_target": target, "imagenet_per_class": 5,
            "imagenet_steps": 10, "imagenet_test_per_class": 10, "seeds": 1, **kw}


def test_imagenet_transfers_to_an_uploaded_set(pets):
    final = merge_frames(list(run_lesson("transfer", settings(pets), control=RunControl())))
    table = {r["strategy"]: r for r in final.numbers["imagenet"]["strategies"]}
    assert set(table) == {"linear_probe", "top", "lora", "scratch"}
    per_seed = final.numbers["imagenet"]["per_seed"][0]
    assert per_seed["train_images"] == 15  # 5 per class, 3 classes
    # scored on 10 test images per class: every accuracy is a whole number of the 30
    for row in table.values():
        assert row["accuracy"] * 30 == pytest.approx(round(row["accuracy"] * 30), abs=1e-9)
    # one colour per class: the frozen ImageNet features separate them, as any sound pipeline would
    assert table["linear_probe"]["accuracy"] == 1.0
    # scratch took the upload's 3 x 32 x 32 images as they are (a grey network has fewer first-conv weights)
    weights = {c: sum(p.numel() for p in build_cnn(channels=c, num_classes=3, size=32, seed=0).parameters())
               for c in (1, 3)}
    assert table["scratch"]["trainable"] == weights[3] != weights[1]
    texts = " ".join(v.text for v in final.verdicts)
    assert "ImageNet -> your upload 'pets' (your own data)" in texts and "32x32 images" in texts
    assert pets not in texts and pets not in final.message


def test_what_the_upload_cannot_give_is_refused_in_one_line(pets):
    with pytest.raises(ConfigError) as err:
        validate_config(TRANSFER.config, settings(pets, imagenet_per_class=49))
    assert str(err.value) == ("settings: imagenet_target: your upload 'pets' has 48 training images in its smallest "
                              "class, fewer than the 49 per class asked for; lower it or upload more images per class")
    with pytest.raises(ConfigError, match="has 12 test images in its smallest class, fewer than the 13 per class"):
        validate_config(TRANSFER.config, settings(pets, imagenet_test_per_class=13))
    # the shipped small sources take it as their target too (tests/lessons/transfer/test_own_source.py)
    assert validate_config(TRANSFER.config, {**TRANSFER.quick, "target": pets, "parts": ["compare"]}).target == pets
    # the rule part runs on the two shipped sets whatever the target: an upload's size does not limit it
    validate_config(TRANSFER.config, settings(pets, parts=["imagenet_rule"], imagenet_large=100))
