"""A model file looked inside instead of training one: a model the norms lesson trained and kept for
download, loaded by the visualise lesson (Config, run, CLI, widget); what does not fit is refused in
one line."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import gradio as gr
import pytest
import torch

from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import ConfigError, merge_frames, run_lesson, validate_config
from cnnbp.lessons.visualise.model import load_data
from cnnbp.nn import SmallCNN
from cnnbp.nn.checkpoints import checkpoint_bytes, kept_models, load_checkpoint, run_key
from cnnbp.train import RunControl
from cnnbp.ui.widgets import build_widgets
from tests.lessons.test_headlines import assert_headlines
from tests.test_cli import cli

VISUALISE = LESSONS["visualise"]
NORMS = {**LESSONS["norms"].quick, "parts": ["compare"], "norms": ["batch"], "seeds": 1}


@pytest.fixture(scope="module")
def norms_model(tmp_path_factory):
    """The batch-norm CNN the norms lesson trained on digits, as its Download writes it; its accuracy there."""
    final = merge_frames(list(run_lesson("norms", NORMS, control=RunControl())))
    kept = kept_models(run_key("norms", validate_config(LESSONS["norms"].config, NORMS)))
    path = tmp_path_factory.mktemp("models") / "batch_seed_0.pt"
    path.write_bytes(kept["batch, seed 0"])
    return path, final.numbers["compare"]["runs"]["batch, seed 0"]["final_accuracy"]


def direct_accuracy(model: torch.nn.Module, dataset: str, seed: int) -> float:
    data = load_data(dataset, seed=seed)
    with torch.no_grad():
        return int((model.eval()(data.x_test).argmax(1) == data.y_test).sum()) / len(data.y_test)


def test_the_visualise_lesson_explains_the_norms_model_not_one_of_its_own(norms_model):
    path, norms_accuracy = norms_model
    settings = {**VISUALISE.quick, "model_file": str(path), "parts": ["weights", "activations", "occlusion"],
                "models": 3}
    cfg = validate_config(VISUALISE.config, settings)
    assert not cfg.needs_replicates()  # one model: nothing trains at other seeds
    frames = list(run_lesson("visualise", settings, control=RunControl()))
    final = merge_frames(frames)
    model = final.numbers["model"]
    assert model["source"] == "model file" and "norm batch" in model["describe"]
    assert "training" not in final.figures  # nothing was trained
    assert final.figures["filters"].layout.title.text.startswith("The model file's first-layer filters")
    # the accuracy shown is the file's model measured directly, and the one the norms lesson measured
    loaded = torch.load(path, weights_only=True)
    net = SmallCNN(**loaded["settings"])
    net.load_state_dict(loaded["state_dict"])
    assert model["test_accuracy"] == pytest.approx(direct_accuracy(net, "digits", seed=0), abs=1e-12)
    assert model["test_accuracy"] == pytest.approx(norms_accuracy, abs=1e-6)
    # the filters shown are the file's conv1, against 3 Kaiming draws of that shape (one per seed of models)
    filters = final.numbers["filters"]
    assert torch.allclose(torch.tensor(filters["weights"]), loaded["state_dict"]["blocks.0.conv.weight"])
    assert len(filters["draws"]) == 3 and filters["model"] == "model file"
    smooth = next(v for v in final.verdicts if v.claim == "visualise.filters_smoother")
    assert_headlines(final.verdicts)
    assert smooth.text.startswith("The model file's conv1 ((8, 1, 3, 3))")
    explained = next(v for v in final.verdicts if v.label == "the model explained")
    assert f"{model['test_accuracy']:.1%} on the 360 test images of digits" in explained.text


def test_a_model_that_does_not_fit_is_refused_in_one_line(norms_model, tmp_path):
    path, _ = norms_model
    with pytest.raises(ConfigError) as err:
        validate_config(VISUALISE.config, {**VISUALISE.quick, "model_file": str(path), "dataset": "shapes"})
    message = str(err.value)
    assert message.startswith("model_file: the model does not fit shapes: the model takes 1-channel images, the "
                              "data has 3; the model was trained on 8x8 images, the data's are 16x16; the model "
                              "tells 10 classes apart, the data has 4")
    assert len(message.splitlines()) == 1
    with pytest.raises(ConfigError, match="layer \\(5\\) must be at most the model file's 4 conv layers"):
        validate_config(VISUALISE.config, {**VISUALISE.quick, "model_file": str(path), "layer": 5, "depth": 6})
    with pytest.raises(ConfigError, match="must be below the 8 channels of the model file's conv1"):
        validate_config(VISUALISE.config, {**VISUALISE.quick, "model_file": str(path), "layer": 1, "channel": 8})
    with pytest.raises(ConfigError, match="model_file replaces the trained model"):
        validate_config(VISUALISE.config, {**VISUALISE.quick, "model_file": str(path), "model": "resnet18_imagenet"})
    fake = tmp_path / "net.pt"
    fake.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="model_file: not a"):
        validate_config(VISUALISE.config, {**VISUALISE.quick, "model_file": str(fake)})


def test_a_renamed_class_is_named_in_the_refusal(tmp_path):
    net = SmallCNN(1, 10, depth=2, width=4, image_size=8)
    path = tmp_path / "letters.pt"
    path.write_bytes(checkpoint_bytes(net, classes=tuple("abcdefghij")))
    with pytest.raises(ConfigError, match=r"the class names differ \(model: a, b, c, d; data: 0, 1, 2, 3\)"):
        validate_config(VISUALISE.config, {**VISUALISE.quick, "model_file": str(path)})


def test_a_bare_state_dict_loads_with_its_settings_json_beside_it(tmp_path):
    net = SmallCNN(1, 10, depth=2, width=4, image_size=8)
    torch.save(net.state_dict(), tmp_path / "net.pt")
    meta = {"architecture": "small_cnn", "settings": net.settings, "input": {"channels": 1, "size": 8},
            "classes": [str(d) for d in range(10)]}
    (tmp_path / "net.json").write_text(json.dumps(meta))
    cfg = validate_config(VISUALISE.config, {**VISUALISE.quick, "model_file": str(tmp_path / "net.pt"), "layer": 2})
    assert cfg.training_seconds() < validate_config(VISUALISE.config, VISUALISE.quick).training_seconds()
    alone = tmp_path / "alone.pt"  # the same weights with no JSON beside them
    alone.write_bytes((tmp_path / "net.pt").read_bytes())
    with pytest.raises(ConfigError, match="bare state_dict: give its settings too"):
        validate_config(VISUALISE.config, {**VISUALISE.quick, "model_file": str(alone)})


def test_the_model_field_is_a_pt_upload_box():
    with gr.Blocks():
        widgets = build_widgets(VISUALISE.config, prefix="t")
    assert isinstance(widgets["model_file"], gr.File) and widgets["model_file"].file_types == [".pt"]


def test_the_cli_runs_visualise_on_a_model_file(norms_model, tmp_path):
    path, norms_accuracy = norms_model
    out = cli("run", "visualise", "--model", str(path), "--set", "parts=weights", "--set", "models=2",
              "--out", str(tmp_path / "report"))
    assert out.returncode == 0, out.stderr
    said = " ".join(out.stdout.split())  # the CLI wraps each verdict's text under its line
    assert "The model file's conv1 ((8, 1, 3, 3))" in said and "2 Kaiming draws" in said
    numbers = json.loads((tmp_path / "report" / "numbers.json").read_text())
    assert numbers["model"]["test_accuracy"] == pytest.approx(norms_accuracy, abs=1e-6)


def test_the_trained_model_is_kept_for_download_and_loads_back_with_the_same_numbers(tmp_path):
    from cnnbp.ui.uploads import KEEPS_MODELS

    assert "visualise" in KEEPS_MODELS  # the tab shows the Download button
    settings = {**VISUALISE.quick, "epochs": 1, "parts": ["weights"], "seed": 5}
    trained = merge_frames(list(run_lesson("visualise", settings, control=RunControl())))
    kept = kept_models(run_key("visualise", validate_config(VISUALISE.config, settings)))
    assert list(kept) == ["visualise, seed 5"]
    path = tmp_path / "visualise_seed_5.pt"
    path.write_bytes(kept["visualise, seed 5"])
    again = merge_frames(list(run_lesson("visualise", {**settings, "model_file": str(path)}, control=RunControl())))
    assert again.numbers["model"]["test_accuracy"] == trained.numbers["model"]["test_accuracy"]
    assert again.numbers["model"]["layer_shapes"] == trained.numbers["model"]["layer_shapes"]
    assert again.numbers["filters"]["weights"] == trained.numbers["filters"]["weights"]
    assert "trained on digits, visualise, seed 5" in again.numbers["model"]["describe"]


def test_on_an_uploaded_set_the_norms_model_of_that_set_is_looked_inside():
    from cnnbp.data.archives import register_archive
    from tests.data.test_hostile_uploads import class_folders, make_zip

    name, _ = register_archive(make_zip(class_folders({"cat": 12, "dog": 12, "fox": 12}, size=(20, 20))),
                               title="pets")
    norms = {**NORMS, "dataset": name, "width": 8, "depth": 2, "epochs": 1}
    merge_frames(list(run_lesson("norms", norms, control=RunControl())))
    kept = kept_models(run_key("norms", validate_config(LESSONS["norms"].config, norms)))
    settings = {**VISUALISE.quick, "dataset": name, "parts": ["weights", "activations"], "layer": 1, "epochs": 1}
    own = merge_frames(list(run_lesson("visualise", settings, control=RunControl())))  # trained here on the upload
    assert own.numbers["model"]["layer_shapes"][0] == [8, 32, 32]  # 32x32 RGB, width 8
    assert name not in own.message and name not in str(own.figures["training"].layout.title.text)
    assert "your upload 'pets'" in own.figures["training"].layout.title.text
    path = Path(tempfile.mkdtemp()) / "pets.pt"
    path.write_bytes(kept["batch, seed 0"])
    theirs = merge_frames(list(run_lesson("visualise", {**settings, "model_file": str(path)}, control=RunControl())))
    net = load_checkpoint(path).model
    assert theirs.numbers["model"]["test_accuracy"] == direct_accuracy(net, name, seed=0)
    with pytest.raises(ConfigError, match="the model does not fit digits: the model takes 3-channel images"):
        validate_config(VISUALISE.config, {**settings, "dataset": "digits", "model_file": str(path)})


def test_through_the_api_a_model_file_is_used_and_a_foreign_one_refused_without_the_path(client, norms_model,
                                                                                         tmp_path):
    from gradio_client import handle_file

    from cnnbp.ui.widgets import field_order

    path, norms_accuracy = norms_model
    values = validate_config(VISUALISE.config, {**VISUALISE.quick, "parts": ["weights"], "seed": 0}).model_dump()
    out = client.predict(*[{**values, "model_file": handle_file(str(path))}[n] for n in field_order(VISUALISE.config)],
                         api_name="/visualise")
    assert "done in" in out[0] and out[-1]["model"]["test_accuracy"] == pytest.approx(norms_accuracy, abs=1e-6)
    shapes = SmallCNN(3, 4, depth=2, width=4, image_size=16)
    foreign = tmp_path / "shapes_net.pt"
    foreign.write_bytes(checkpoint_bytes(shapes, classes=("circle", "square", "triangle", "cross")))
    with pytest.raises(Exception) as err:
        client.predict(*[{**values, "model_file": handle_file(str(foreign))}[n] for n in field_order(VISUALISE.config)],
                       api_name="/visualise")
    message = str(err.value)
    assert message.startswith("model_file: the model does not fit digits: the model takes 3-channel images"), message
    assert "/tmp" not in message and "Traceback" not in message
