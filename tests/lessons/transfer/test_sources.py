"""Transfer sources: the shipped files and cards, the hash check, the pretrain command, the tasks
and the format adapter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnnbp.lessons.transfer.adapters import adapt_images
from cnnbp.lessons.transfer.sources import (
    SOURCES,
    SOURCES_DIR,
    SourceError,
    load_source,
    read_card,
    sha256_of,
    source_problem,
)
from cnnbp.lessons.transfer.tasks import TARGETS, get_source_task, get_target, subsample
from cnnbp.train import evaluate

ROOT = Path(__file__).resolve().parents[3]
MAX_BYTES = 300_000  # "a few hundred KB each at most"


@pytest.mark.parametrize("name", list(SOURCES))
def test_shipped_source_matches_its_card(name):
    card = read_card(name)
    pt = SOURCES_DIR / card["file"]
    assert pt.stat().st_size < MAX_BYTES
    assert card["sha256"] == sha256_of(pt)
    src = load_source(name)
    task = get_source_task(name)
    # the card's accuracy is what the loaded weights give on the source's test set
    assert evaluate(src.model, (task.x_test, task.y_test))[1] == pytest.approx(card["accuracy"], abs=1e-4)
    assert card["parameters"] == sum(p.numel() for p in src.model.parameters())
    assert (src.channels, src.size) == (task.channels, task.size)
    assert card["input"] == {"channels": task.channels, "size": task.size}
    for key in ("task", "recipe", "seed", "similar_to", "self_supervised"):
        assert key in card


def test_all_sources_fit_in_a_few_megabytes():
    assert sum(p.stat().st_size for p in SOURCES_DIR.iterdir()) < 3_000_000


def _copy(name: str, dst: Path) -> Path:
    for ext in (".pt", ".json"):
        shutil.copy(SOURCES_DIR / f"{name}{ext}", dst / f"{name}{ext}")
    return dst


def test_tampered_checkpoint_is_refused_with_its_hash(tmp_path):
    root = _copy("digits_0to4", tmp_path)
    assert load_source("digits_0to4", root=root).card["name"] == "digits_0to4"
    data = bytearray((root / "digits_0to4.pt").read_bytes())
    data[-100] ^= 0xFF  # one flipped byte
    (root / "digits_0to4.pt").write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"corrupt or was changed; rebuild it with: python -m cnnbp pretrain"):
        load_source("digits_0to4", root=root)
    assert "sha256" in source_problem("digits_0to4", root=root)


def test_missing_checkpoint_and_card_are_named(tmp_path):
    root = _copy("digits_0to4", tmp_path)
    (root / "digits_0to4.pt").unlink()
    with pytest.raises(SourceError, match=r"digits_0to4\.pt is missing"):
        load_source("digits_0to4", root=root)
    (root / "digits_0to4.json").unlink()
    assert "digits_0to4.json is missing" in source_problem("digits_0to4", root=root)
    with pytest.raises(SourceError, match="unknown source 'nope'"):
        load_source("nope")


def test_a_card_without_a_hash_is_refused(tmp_path):
    root = _copy("digits_0to4", tmp_path)
    (root / "digits_0to4.json").write_text("{not json")
    with pytest.raises(SourceError, match="not valid JSON"):
        read_card("digits_0to4", root=root)


def test_pretrain_command_writes_a_loadable_source(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CPU_CORES": "1"}
    out = subprocess.run([sys.executable, "-m", "cnnbp", "pretrain", "digits_rotation", "--steps", "5",
                          "--seed", "3", "--out", str(tmp_path)], capture_output=True, text=True, timeout=120,
                         cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr
    assert "digits_rotation: accuracy" in out.stdout
    card = json.loads((tmp_path / "digits_rotation.json").read_text())
    assert card["recipe"]["steps"] == 5 and card["seed"] == 3 and card["self_supervised"] is True
    assert card["sha256"] == sha256_of(tmp_path / "digits_rotation.pt")
    src = load_source("digits_rotation", root=tmp_path)
    task = get_source_task("digits_rotation")
    assert evaluate(src.model, (task.x_test, task.y_test))[1] == pytest.approx(card["accuracy"], abs=1e-4)
    bad = subprocess.run([sys.executable, "-m", "cnnbp", "pretrain", "nope", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert bad.returncode == 2 and "unknown source 'nope'" in bad.stderr


def test_rotation_task_rotates_and_relabels():
    base = get_source_task("digits_0to4")
    rot = get_source_task("digits_rotation")
    n = len(base.y_train)
    assert torch.equal(rot.x_train[:n], base.x_train)
    assert torch.equal(rot.x_train[n : 2 * n], torch.rot90(base.x_train, 1, dims=(2, 3)))
    assert torch.bincount(rot.y_train).tolist() == [n] * 4


def test_targets_and_sources_never_share_test_images():
    src, tgt = get_source_task("digits_0to4"), get_target("digits_5to9")
    assert len(src.y_test) + len(tgt.y_test) == 360  # the digits test split, cut in two by class
    flat = lambda x: {tuple(r.tolist()) for r in x.flatten(1)}  # noqa: E731
    assert not flat(src.x_train) & flat(tgt.x_test)
    assert set(TARGETS) == {"digits_5to9", "shapes_inverted"}


def test_subsample_is_nested_balanced_and_seeded():
    tgt = get_target("digits_5to9")
    x3, y3 = subsample(tgt, 3, seed=1)
    x5, y5 = subsample(tgt, 5, seed=1)
    assert torch.bincount(y5).tolist() == [5] * 5
    small = {tuple(r.tolist()) for r in x3.flatten(1)}
    assert small <= {tuple(r.tolist()) for r in x5.flatten(1)}
    assert torch.equal(subsample(tgt, 3, seed=1)[0], x3) and not torch.equal(subsample(tgt, 3, seed=2)[0], x3)
    x_all, _ = subsample(tgt, 10_000, seed=0)
    assert len(x_all) == len(tgt.y_train)


def test_adapter_converts_channels_and_size():
    x = torch.rand(2, 1, 8, 8)
    up = adapt_images(x, channels=3, size=16)
    assert up.shape == (2, 3, 16, 16) and torch.equal(up[:, 0], up[:, 2])
    # a constant image stays constant through the resize
    assert torch.allclose(adapt_images(torch.full((1, 3, 16, 16), 0.3), channels=1, size=8), torch.tensor(0.3))
    assert adapt_images(x, channels=1, size=8) is x
    with pytest.raises(ValueError, match="between 1 and 3 channels"):
        adapt_images(torch.rand(1, 2, 8, 8), channels=3, size=8)


def test_a_corrupt_shipped_source_fails_its_runs_not_the_app(tmp_path):
    """The app (and so every other lesson) must start from a checkout with a damaged
    assets/sources: only the transfer runs that need the file are refused, with the rebuild command."""
    checkout = tmp_path / "checkout"  # the code and the assets, nothing else
    shutil.copytree(ROOT / "cnnbp", checkout / "cnnbp")
    shutil.copytree(ROOT / "assets", checkout / "assets")
    shutil.copy(ROOT / "app.py", checkout / "app.py")
    damaged = checkout / "assets" / "sources" / "digits_0to4.pt"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    code = ("import app\nfrom cnnbp.lessons import run_lesson\n"
            "try:\n    run_lesson('transfer', {})\nexcept ValueError as e:\n    print('refused:', e)\n"
            "print('dropout ok' if list(run_lesson('dropout', {'parts': ['masks']}))[-1].done else 'dropout failed')")
    out = subprocess.run([sys.executable, "-c", code], cwd=checkout, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "refused:" in out.stdout and "corrupt" in out.stdout and "pretrain digits_0to4" in out.stdout
    assert "dropout ok" in out.stdout
