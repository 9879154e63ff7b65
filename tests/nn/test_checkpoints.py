"""Checkpoints: a trained SmallCNN saved and loaded back exactly, the class's own model files, and
hostile ones (a pickle that would run code, TorchScript, wrong shapes, truncated, too large)."""

from __future__ import annotations

import io
import json
import pickle

import pytest
import torch

from cnnbp.data import lesson_dataset
from cnnbp.nn import SmallCNN
from cnnbp.nn.checkpoints import CheckpointError, checkpoint_bytes, checkpoint_dict, load_checkpoint, mismatch
from cnnbp.nn.inits import init_model


def trained_like(**kw) -> SmallCNN:
    net = SmallCNN(kw.pop("in_channels", 1), kw.pop("num_classes", 3), image_size=kw.pop("image_size", 8), **kw)
    init_model(net, "kaiming", "relu", generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # running statistics away from their defaults, as after training
        net.train()(torch.rand(16, net.settings["in_channels"], 8, 8, generator=torch.Generator().manual_seed(1)))
    return net.eval()


def test_a_small_cnn_round_trips_exactly_with_its_settings_and_groups():
    net = trained_like(depth=3, width=8, norm="group", activation="leaky_relu", act_options={"slope": 0.2},
                       dropout=0.1)
    net.blocks[0].norm.num_groups = 4  # as the norms lesson sets them: not SmallCNN's default
    loaded = load_checkpoint(checkpoint_bytes(net, classes=["a", "b", "c"], trained_on="digits, seed 0"))
    assert isinstance(loaded.model, SmallCNN) and not loaded.model.training
    assert loaded.model.settings == net.settings and loaded.model.blocks[0].norm.num_groups == 4
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    assert torch.equal(loaded.model(x), net(x))
    assert loaded.classes == ("a", "b", "c") and (loaded.channels, loaded.size) == (1, 8)
    assert loaded.trained_on == "digits, seed 0"


def test_a_batchnorm_model_keeps_its_running_statistics():
    net = trained_like(depth=2, width=4, norm="batch")
    loaded = load_checkpoint(checkpoint_bytes(net, classes=["x", "y", "z"]))
    assert torch.equal(loaded.model.blocks[0].norm.running_mean, net.blocks[0].norm.running_mean)
    assert float(net.blocks[0].norm.running_mean.abs().sum()) > 0


def test_a_bare_state_dict_with_its_settings_json(tmp_path):
    net = trained_like(depth=2, width=4)
    meta = {k: v for k, v in checkpoint_dict(net, classes=["a", "b", "c"]).items() if k != "state_dict"}
    torch.save(net.state_dict(), tmp_path / "net.pt")
    (tmp_path / "net.json").write_text(json.dumps(meta))
    loaded = load_checkpoint(tmp_path / "net.pt", settings=tmp_path / "net.json")
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(loaded.model(x), net(x))
    with pytest.raises(CheckpointError, match="^the file is a bare state_dict: give its settings too"):
        load_checkpoint(tmp_path / "net.pt")


def test_a_torchvision_architecture_by_name():
    tv = pytest.importorskip("torchvision")
    net = tv.models.get_model("resnet18", weights=None, num_classes=3)
    meta = {"architecture": "torchvision:resnet18", "input": {"channels": 3, "size": 32}, "classes": ["a", "b", "c"]}
    loaded = load_checkpoint(_saved(net.state_dict()), settings=meta)
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(loaded.model(x), net.eval()(x))
    with pytest.raises(CheckpointError, match="^unknown architecture 'keras:vgg'"):
        load_checkpoint(_saved(net.state_dict()), settings={**meta, "architecture": "keras:vgg"})


class RunsCodeOnLoad:
    """Pickled, it records "call open(marker, 'w')": unpickling it creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_pickle_that_would_run_code_on_load_is_refused_and_runs_nothing(tmp_path):
    armed = tmp_path / "proof.txt"
    pickle.loads(pickle.dumps(RunsCodeOnLoad(armed))).close()  # the payload works: plain unpickling runs it
    assert armed.exists()
    marker = tmp_path / "pwned.txt"
    for payload in (_saved(RunsCodeOnLoad(marker)),  # torch.save's zip format
                    _saved({"format": "cnnbp-checkpoint", "state_dict": {}, "x": RunsCodeOnLoad(marker)}),
                    pickle.dumps(RunsCodeOnLoad(marker))):  # a raw pickle
        with pytest.raises(CheckpointError, match="^not a checkpoint this app loads safely") as err:
            load_checkpoint(payload)
        assert "\n" not in str(err.value)
        assert not marker.exists()


def test_torchscript_is_refused(tmp_path):
    scripted = torch.jit.script(trained_like(depth=1, width=4))
    buf = io.BytesIO()
    torch.jit.save(scripted, buf)
    with pytest.raises(CheckpointError, match="^this is a TorchScript file, which runs its own code"):
        load_checkpoint(buf.getvalue())


def test_wrong_shapes_say_which_tensor():
    ckpt = checkpoint_dict(trained_like(depth=2, width=4), classes=["a", "b", "c"])
    ckpt["settings"]["width"] = 8
    with pytest.raises(CheckpointError, match=r"^the weights do not fit small_cnn with these settings: "
                                              r"'blocks.0.conv.weight' is \(4, 1, 3, 3\) in the file, "
                                              r"\(8, 1, 3, 3\) in the model \(and \d+ more\)$"):
        load_checkpoint(_saved(ckpt))
    ckpt = checkpoint_dict(trained_like(depth=2, width=4), classes=["a", "b", "c"])
    ckpt["settings"]["depth"] = 3
    with pytest.raises(CheckpointError, match="the file lacks 'blocks.3.conv.weight'"):
        load_checkpoint(_saved(ckpt))
    ckpt = checkpoint_dict(trained_like(depth=2, width=4), classes=["a", "b", "c"])
    ckpt["classes"] = ["a", "b"]
    with pytest.raises(CheckpointError, match="disagree with the input 1x8x8 and the 2 classes"):
        load_checkpoint(_saved(ckpt))


def test_truncated_empty_foreign_and_too_large_files(tmp_path):
    good = checkpoint_bytes(trained_like(depth=1, width=4), classes=["a", "b", "c"])
    with pytest.raises(CheckpointError, match="^not a readable PyTorch checkpoint"):
        load_checkpoint(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="^the model file is empty$"):
        load_checkpoint(b"")
    with pytest.raises(CheckpointError, match="^not a cnnbp checkpoint"):
        load_checkpoint(_saved({"weights": [1, 2, 3]}))
    big = tmp_path / "big.pt"
    with open(big, "wb") as fh:
        fh.truncate(101 * 2**20)  # sparse
    with pytest.raises(CheckpointError, match=r"^the model file is 101.0 MB; the limit is 100 MB$"):
        load_checkpoint(big)


def test_mismatch_names_every_difference_against_the_data():
    loaded = load_checkpoint(checkpoint_bytes(trained_like(depth=1, width=4), classes=["a", "b", "c"]))
    assert mismatch(loaded, channels=1, size=8, classes=("a", "b", "c")) is None
    assert mismatch(loaded, channels=3, size=32, classes=("cat", "dog")) == (
        "the model takes 1-channel images, the data has 3; the model was trained on 8x8 images, the data's are "
        "32x32; the model tells 3 classes apart, the data has 2")
    assert mismatch(loaded, channels=1, size=8, classes=("a", "b", "d")) == (
        "the class names differ (model: a, b, c; data: a, b, d)")


def _saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_the_norms_lesson_keeps_its_first_seeds_models_for_download():
    from cnnbp.lessons import LESSONS
    from cnnbp.lessons.base import merge_frames, run_lesson, validate_config
    from cnnbp.nn.checkpoints import kept_models, run_key
    from cnnbp.train import RunControl

    settings = {**LESSONS["norms"].quick, "parts": ["compare", "sync"], "norms": ["batch", "group"], "seeds": 2}
    final = merge_frames(list(run_lesson("norms", settings, control=RunControl())))
    kept = kept_models(run_key("norms", validate_config(LESSONS["norms"].config, settings)))
    assert sorted(kept) == ["batch, seed 0", "group, seed 0"]  # the first seed's, one per norm
    loaded = load_checkpoint(kept["batch, seed 0"])
    assert loaded.classes == tuple(str(d) for d in range(10)) and (loaded.channels, loaded.size) == (1, 8)
    assert loaded.trained_on == "digits, batch, seed 0"
    # the kept model is the trained one: its test accuracy is the one the lesson measured
    data = lesson_dataset("digits", seed=0)
    with torch.no_grad():
        accuracy = (loaded.model(data.x_test).argmax(1) == data.y_test).float().mean().item()
    assert accuracy == pytest.approx(final.numbers["compare"]["runs"]["batch, seed 0"]["final_accuracy"], abs=1e-6)
