"""The imbalance lesson on the class's own upload with its default settings (the rare class 8 of a
3-class set is its last class, with a note), and the models it trained kept for download: the same
checkpoints the norms lesson writes, loaded by the visualising lesson on the same upload."""

from __future__ import annotations

import pytest
import torch

from cnnbp.data.archives import register_archive
from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import ConfigError, merge_frames, run_lesson, validate_config
from cnnbp.lessons.imbalance.training import PREDICTIONS
from cnnbp.nn.checkpoints import kept_models, load_checkpoint, run_key
from cnnbp.train import RunControl
from tests.pets import pets_archive

IMBALANCE, VISUALISE = LESSONS["imbalance"], LESSONS["visualise"]


@pytest.fixture(scope="module")
def pets():
    name, _ = register_archive(pets_archive({"cat": 30, "dog": 30, "fox": 30}), title="pets")
    return name


def settings(pets: str, **kw) -> dict:
    return {"dataset": pets, "methods": ["none", "oversample"], "steps": 10, "seeds": 1, **kw}


def test_defaults_run_on_a_three_class_upload_and_keep_the_models(pets, tmp_path):
    values = settings(pets, task="multiclass", ratio=5)
    frames = list(run_lesson("imbalance", values, control=RunControl()))
    assert "its last class, fox (2), is the rare one" in frames[0].message and pets not in frames[0].message
    final = merge_frames(frames)
    assert final.done and final.numbers["rare"] == 2 and final.numbers["classes"] == ["cat", "dog", "fox"]
    assert final.numbers["counts"]["train"][2] * 5 == pytest.approx(final.numbers["counts"]["train"][0], abs=3)
    # the upload is named by its title everywhere a person reads, never by its secret name
    assert "your upload 'pets', multiclass, 1:5" in final.figures["histogram"].layout.title.text
    shown = [f.message for f in frames] + [v.text for v in final.verdicts] + [fig.to_json() for fig in
                                                                              final.figures.values()]
    assert not [text for text in shown if pets in text]

    cfg = validate_config(IMBALANCE.config, values)
    kept = kept_models(run_key("imbalance", cfg, exclude=IMBALANCE.live))
    assert sorted(kept) == ["none, seed 0", "oversample, seed 0"]
    # the threshold is live: moving it re-scores the same models, which stay kept under the same key
    moved = validate_config(IMBALANCE.config, {**values, "threshold": 0.3})
    assert kept_models(run_key("imbalance", moved, exclude=IMBALANCE.live)) is kept
    loaded = load_checkpoint(kept["oversample, seed 0"])
    assert loaded.classes == ("cat", "dog", "fox") and loaded.trained_on == \
        "your upload 'pets', multiclass 1:5, oversample, seed 0"
    # the file is the trained model: its decisions on the balanced test set are the ones the lesson scored
    kept_probs = PREDICTIONS.get(cfg.run_key(0)).probs["balanced"]["oversample"]
    assert torch.equal(torch.from_numpy(kept_probs.argmax(1)), _predict(loaded.model, cfg).argmax(1))

    # and the visualising lesson looks inside it on the same upload
    path = tmp_path / "oversample_seed_0.pt"
    path.write_bytes(kept["oversample, seed 0"])
    shown = merge_frames(list(run_lesson("visualise", {**VISUALISE.quick, "dataset": pets, "model_file": str(path),
                                                       "parts": ["weights"]}, control=RunControl())))
    assert "norm none" in shown.numbers["model"]["describe"] and shown.numbers["model"]["source"] == "model file"


def _predict(model: torch.nn.Module, cfg) -> torch.Tensor:
    from cnnbp.lessons.imbalance.training import build

    x, _ = build(cfg, cfg.seed).tests["balanced"]
    with torch.no_grad():
        return model.eval()(x)


def test_a_binary_model_is_refused_by_the_visualising_lesson_in_one_line(pets, tmp_path):
    values = settings(pets, methods=["none"])
    list(run_lesson("imbalance", values, control=RunControl()))
    kept = kept_models(run_key("imbalance", validate_config(IMBALANCE.config, values), exclude=IMBALANCE.live))
    loaded = load_checkpoint(kept["none, seed 0"])
    assert loaded.classes == ("not fox", "fox")  # the rare class against the rest: 2 outputs
    path = tmp_path / "none_seed_0.pt"
    path.write_bytes(kept["none, seed 0"])
    with pytest.raises(ConfigError) as err:
        validate_config(VISUALISE.config, {**VISUALISE.quick, "dataset": pets, "model_file": str(path)})
    assert "the model tells 2 classes apart, the data has 3" in str(err.value) and "\n" not in str(err.value)
