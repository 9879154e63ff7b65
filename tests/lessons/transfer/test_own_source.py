"""The class's own files in the transfer lesson: a model file (another tab's Download, or a ResNet
checkpoint) as the source of every strategy, and an upload as the target of the shipped small
sources (resized to the source's input, with a note). What cannot be adapted is refused in one line."""

from __future__ import annotations

import json

import pytest
import torch
from torchvision.models import resnet18, squeezenet1_1

from cnnbp.data.archives import register_archive
from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import ConfigError, merge_frames, run_lesson, validate_config
from cnnbp.lessons.transfer.models import build_cnn, embed
from cnnbp.lessons.transfer.tasks import get_target
from cnnbp.nn import SmallCNN
from cnnbp.nn.checkpoints import checkpoint_bytes, load_model_path
from cnnbp.train import RunControl
from tests.pets import pets_archive

TRANSFER = LESSONS["transfer"]
QUICK = {**TRANSFER.quick, "parts": ["compare"], "strategies": ["linear_probe", "freeze", "finetune", "scratch"]}


@pytest.fixture(scope="module")
def pets():
    name, _ = register_archive(pets_archive({"cat": 30, "dog": 30, "fox": 30}), title="pets")
    return name


@pytest.fixture(scope="module")
def pets_model(tmp_path_factory):
    """A SmallCNN as the Download writes it: 3 x 32 x 32 input, 3 classes, depth 3 (not the shipped sources' 4)."""
    torch.manual_seed(0)
    net = SmallCNN(3, 3, depth=3, width=8, image_size=32, norm="batch")
    path = tmp_path_factory.mktemp("models") / "pets_batch.pt"
    path.write_bytes(checkpoint_bytes(net, classes=("cat", "dog", "fox"), trained_on="pets"))
    return path, net


def test_a_model_file_is_the_source_of_every_strategy(pets_model):
    path, net = pets_model
    values = {**QUICK, "model_file": str(path), "stage": 3, "freeze_stages": 1,
              "strategies": ["linear_probe", "freeze", "finetune", "discriminative", "lora", "scratch"]}
    frames = list(run_lesson("transfer", values, control=RunControl()))
    assert frames[0].message == "starting: source your model 'pets_batch.pt' -> target digits_5to9, 1 parts"
    loaded = next(f.message for f in frames if "loaded" in f.message)
    assert loaded == ("your model 'pets_batch.pt' loaded (the 8x8 grey images of digits_5to9 are resized to 32x32 RGB "
                      "for your model 'pets_batch.pt'; scratch trains on them as they are; a new 5-class head replaces "
                      "its 3-class one)")
    final = merge_frames(frames)
    assert str(path.parent) not in json.dumps(final.numbers, default=str)  # the file's name, never its folder
    rows = {r["name"]: r for r in final.numbers["strategies"]}
    assert set(rows) == {"linear_probe", "freeze", "finetune", "discriminative", "lora", "scratch"}
    runs = {r["name"]: r for r in final.numbers["runs"]}
    # three stages, as the file's network has (the shipped sources have 4)
    assert len(final.numbers["linear_probe"]["per_stage"]) == 3
    # fine-tuning trains every weight of the file's network, its head replaced by a 5-class one
    body = sum(p.numel() for n, p in net.named_parameters() if not n.startswith("head."))
    assert runs["finetune"]["trainable"] == runs["finetune"]["total"] == body + (net.feature_dim + 1) * 5
    # the linear probe reads the file's own features: the top stage's embedding width
    assert rows["linear_probe"]["trainable"] == (embed(net, torch.zeros(1, 3, 32, 32), stage=3).shape[1] + 1) * 5
    # scratch is the lesson's own network on the target as it is (8x8 grey), not the file's
    assert runs["scratch"]["total"] != runs["finetune"]["total"]
    assert "your model 'pets_batch.pt'" in " ".join(v.text for v in final.verdicts)


def test_the_model_file_is_not_changed_by_training(pets_model):
    path, _ = pets_model
    before = torch.load(path, weights_only=True)["state_dict"]
    merge_frames(list(run_lesson("transfer", {**QUICK, "model_file": str(path), "stage": 3, "freeze_stages": 1},
                                 control=RunControl())))
    after = load_model_path(path).model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_what_a_model_file_cannot_do_is_refused_in_one_line(pets_model, tmp_path):
    path, _ = pets_model

    def refused(values: dict) -> str:
        with pytest.raises(ConfigError) as err:
            validate_config(TRANSFER.config, values)
        assert "\n" not in str(err.value)
        return str(err.value).split(" (got ")[0]  # the field's value; the page shortens any path in it

    assert "forgetting needs the source's own test set, which your model 'pets_batch.pt' does not bring here" in \
        refused({**TRANSFER.quick, "model_file": str(path)})
    assert refused({**QUICK, "model_file": str(path)}) == ("settings: stage (4) is more than the source's 3 stages; "
                                                          "choose 1-3")
    assert "lora_rank (9) is larger than the smallest wrapped layer allows (8:" in refused(
        {**QUICK, "model_file": str(path), "stage": 3, "strategies": ["lora"], "lora_rank": 9})
    four = tmp_path / "four.pt"
    four.write_bytes(checkpoint_bytes(SmallCNN(4, 2, depth=2, width=4, image_size=8), classes=("a", "b")))
    assert refused({**QUICK, "model_file": str(four)}) == ("model_file: the model takes 4-channel images; transfer "
                                                          "feeds it grey or RGB targets (1 or 3 channels)")
    net_file = tmp_path / "squeezenet.pt"  # 3 MB: an architecture with no stages the strategies know
    torch.save(squeezenet1_1(weights=None, num_classes=2).state_dict(), net_file)
    net_file.with_suffix(".json").write_text(json.dumps({"architecture": "torchvision:squeezenet1_1", "settings": {},
                                                     "input": {"channels": 3, "size": 32}, "classes": ["a", "b"]}))
    assert refused({**QUICK, "model_file": str(net_file)}).startswith(
        "model_file: transfer cuts a source into stages, which it knows for the app's SmallCNN and ResNets")
    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"not a model")
    assert refused({**QUICK, "model_file": str(fake)}).startswith("model_file: not a")


def test_a_torchvision_resnet_file_is_a_source_too(tmp_path):
    path = tmp_path / "resnet.pt"
    torch.save(resnet18(weights=None, num_classes=4).state_dict(), path)
    path.with_suffix(".json").write_text(json.dumps({"architecture": "torchvision:resnet18", "settings": {},
                                                      "input": {"channels": 3, "size": 32},
                                                      "classes": ["a", "b", "c", "d"]}))
    values = {**QUICK, "model_file": str(path), "strategies": ["linear_probe", "finetune"], "steps": 10,
              "images_per_class": 2, "stage": 5, "freeze_stages": 5, "seeds": 1}
    final = merge_frames(list(run_lesson("transfer", values, control=RunControl())))
    assert len(final.numbers["linear_probe"]["per_stage"]) == 5  # the stem and layer1..layer4
    rows = {r["name"]: r for r in final.numbers["strategies"]}
    assert rows["linear_probe"]["trainable"] == (512 + 1) * 5


def test_an_upload_is_the_target_of_a_shipped_source(pets):
    values = {**QUICK, "target": pets, "parts": ["compare", "selection"], "images_per_class": 5}
    frames = list(run_lesson("transfer", values, control=RunControl()))
    loaded = next(f.message for f in frames if "loaded" in f.message)
    assert loaded == ("digits_0to4 loaded (the 32x32 RGB images of your upload 'pets' are resized to 8x8 grey for "
                      "digits_0to4; scratch trains on them as they are)")
    final = merge_frames(frames)
    assert final.numbers["target"] == {"name": "your upload 'pets'", "per_class": 5, "train_images": 15,
                                       "test_images": len(get_target(pets).y_test),
                                       "adapted": loaded[len("digits_0to4 loaded ("):-1]}
    runs = {r["name"]: r for r in final.numbers["runs"]}
    # the source sees 8x8 grey images; scratch the upload's 3 x 32 x 32 images (a 3-channel first conv)
    weights = {c: sum(p.numel() for p in build_cnn(channels=c, num_classes=3, size=32, seed=0).parameters())
               for c in (1, 3)}
    assert runs["scratch"]["total"] == weights[3] and runs["finetune"]["total"] == weights[1]
    texts = [f.message for f in frames] + [v.text for v in final.verdicts] + [fig.to_json() for fig in
                                                                              final.figures.values()]
    assert "your upload 'pets'" in " ".join(texts) and not [t for t in texts if pets in t]
    assert len(final.numbers["selection"]["rows"]) == 4  # every shipped source ranked for the upload


def test_what_an_upload_target_cannot_give_is_refused_in_one_line(pets):
    with pytest.raises(ConfigError) as err:
        validate_config(TRANSFER.config, {**TRANSFER.quick, "target": pets})
    assert str(err.value) == ("settings: the rule part needs a target whose similar and dissimilar shipped sources "
                              "are known (digits_5to9, shapes_inverted); leave 'rule' out of parts for your upload "
                              "'pets' ('selection' ranks the sources for it)")
    with pytest.raises(ConfigError) as err:
        validate_config(TRANSFER.config, {**QUICK, "target": pets, "images_per_class": 25})
    assert str(err.value) == "settings: images_per_class: 25 images per class, but your upload 'pets' has 24 per class"
