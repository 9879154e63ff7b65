"""Transfer parts: stages and embeddings, heads, what each strategy trains, discriminative rates,
the linear probe against scikit-learn, similarity and Spearman against references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnbp.lessons.transfer.models import build_cnn, embed, num_stages, replace_head, stage_prefixes, stage_ranges
from cnnbp.lessons.transfer.selection import mean_feature_similarity, spearman
from cnnbp.lessons.transfer.sources import load_source
from cnnbp.lessons.transfer.strategies import (
    History,
    Run,
    build_model,
    discriminative_scales,
    linear_probe,
    make_split,
    train_runs,
)
from cnnbp.lessons.transfer.tasks import get_source_task, get_target, subsample
from cnnbp.train import RunControl, make_optimizer


@pytest.fixture(scope="module")
def source():
    return load_source("digits_0to4")


@pytest.fixture(scope="module")
def split(source):
    task = get_target("digits_5to9")
    x, y = subsample(task, 4, seed=0)
    return make_split(task, x, y, source)


def test_stages_group_pools_with_their_conv(source):
    net = source.model
    assert [list(r) for r in stage_ranges(net)] == [[0], [1, 2], [3], [4, 5]]
    assert stage_prefixes(net, range(2)) == ["blocks.0.", "blocks.1.", "blocks.2."]
    x = torch.rand(3, 1, 8, 8)
    # the top stage's embedding is what the head reads
    torch.testing.assert_close(embed(net, x, stage=4), net.features(x))
    by_hand = net.blocks[0](x).mean(dim=(2, 3))
    torch.testing.assert_close(embed(net, x, stage=1), by_hand)
    with pytest.raises(ValueError, match=r"stage must be in \[1, 4\]"):
        embed(net, x, stage=5)


def test_replace_head_is_seeded_and_keeps_the_body(source):
    a, b = build_cnn(channels=1, num_classes=5, size=8, seed=0), build_cnn(channels=1, num_classes=5, size=8, seed=0)
    replace_head(a, 3, generator=torch.Generator().manual_seed(7))
    old = replace_head(b, 3, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.head.weight, b.head.weight) and a.head.out_features == 3 and old.out_features == 5
    assert float(a.head.weight.detach().abs().max()) <= 1 / np.sqrt(32)


def test_each_strategy_trains_what_it_says(source, split):
    common = dict(source=source, num_classes=5, channels=1, size=8, seed=0, freeze_stages=2, lora_rank=2,
                  lr_ratio=0.1)
    frozen, _ = build_model(Run("freeze", 0.1), **common)
    trainable = {n for n, p in frozen.named_parameters() if p.requires_grad}
    assert trainable == {"blocks.3.conv.weight", "blocks.3.conv.bias", "blocks.4.conv.weight",
                         "blocks.4.conv.bias", "head.weight", "head.bias"}
    with pytest.raises(ValueError, match=r"freeze_stages \(5\) is more than the source's 4 stages"):
        build_model(Run("freeze", 0.1), **{**common, "freeze_stages": 5})
    scratch, _ = build_model(Run("scratch", 0.1), **common)
    assert not torch.equal(scratch.blocks[0].conv.weight, source.model.blocks[0].conv.weight)
    finetune, scales = build_model(Run("finetune", 0.1), **common)
    assert scales is None and torch.equal(finetune.blocks[0].conv.weight, source.model.blocks[0].conv.weight)
    assert finetune.blocks[0].conv.weight is not source.model.blocks[0].conv.weight  # a copy: the source stays
    disc, scales = build_model(Run("discriminative", 0.1), **common)
    opt = make_optimizer(disc, lr=0.1, lr_scale=scales)
    lrs = sorted(g["lr"] for g in opt.param_groups)
    assert lrs == pytest.approx([0.01, 0.1 * 0.1**0.75, 0.1 * 0.1**0.5, 0.1 * 0.1**0.25, 0.1])


def test_discriminative_ratio_one_is_plain_finetuning():
    net = build_cnn(channels=1, num_classes=2, size=8, seed=0)
    assert set(discriminative_scales(net, 1.0).values()) == {1.0}


def _train(runs: list[Run], splits: dict, source) -> list[History]:
    out: list[History] = []
    for _, out in train_runs(runs, splits, source=source, num_classes=5, steps=12, batch_size=8, freeze_stages=4,
                             lora_rank=2, lr_ratio=0.1, control=RunControl()):
        pass
    return out


def test_training_moves_only_trainable_weights_and_is_deterministic(source, split):
    def go() -> list[History]:
        return _train([Run("freeze", 0.05), Run("scratch", 0.05)], {0: split}, source)

    a, b = go(), go()
    assert [h.test_accuracy for h in a] == [h.test_accuracy for h in b] and [h.loss for h in a] == [h.loss for h in b]
    assert a[0].eval_steps[0] == 0 and a[0].steps[-1] == 12
    assert a[0].trainable == 32 * 5 + 5  # every stage frozen: the head alone
    # the source itself never moves
    assert torch.equal(source.model.blocks[0].conv.weight, load_source("digits_0to4").model.blocks[0].conv.weight)


def test_linear_probe_matches_a_plain_sklearn_fit(source, split):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    f_tr = source.model.features(split.x_train).detach().numpy()
    f_te = source.model.features(split.x_test).detach().numpy()
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(f_tr, split.y_train.numpy())
    assert linear_probe(source.model, split, stage=4) == pytest.approx(clf.score(f_te, split.y_test.numpy()))


def test_a_run_gives_the_same_numbers_whatever_it_is_trained_beside(source, split):
    """The verdict seeds train in one lockstep: seed 1's run must be the run a seed-1 lesson trains alone."""
    task = get_target("digits_5to9")
    other = make_split(task, *subsample(task, 4, seed=1), source)
    alone = _train([Run("finetune", 0.05, seed=1)], {1: other}, source)
    beside = _train([Run("freeze", 0.05), Run("finetune", 0.05, "finetune, seed 1", seed=1)], {0: split, 1: other},
                    source)
    assert beside[1].seed == 1 and beside[1].loss == alone[0].loss
    assert beside[1].test_accuracy == alone[0].test_accuracy


def test_steps_to_is_where_the_accuracy_stays_at_the_target():
    h = History("x", "finetune", 0.1, eval_steps=[0, 10, 20, 30], test_accuracy=[0.1, 0.79, 0.8, 0.9])
    assert h.steps_to(0.8) == 20 and h.steps_to(0.95) is None and h.final_accuracy == 0.9
    # issue 11's figure: a fine-tuning curve that touches 80% at step 20 and ends at 65% has not reached 80%
    touched = History("x", "finetune", 0.1, eval_steps=[0, 10, 20, 30, 40], test_accuracy=[0.1, 0.5, 0.8, 0.7, 0.65])
    assert touched.steps_to(0.8) is None and touched.first_step_at(touched.test_accuracy, 0.8) == 20
    dipped = History("x", "scratch", 0.1, eval_steps=[0, 10, 20, 30], test_accuracy=[0.2, 0.85, 0.6, 0.97])
    assert dipped.steps_to(0.8) == 30
    diverged = History("x", "finetune", 0.5, eval_steps=[0, 10], test_accuracy=[0.1, 0.9], diverged_at=14)
    assert diverged.steps_to(0.8) is None


def test_similarity_by_hand(source):
    own = get_source_task("digits_0to4").x_train[:512]
    x = get_target("digits_5to9").x_train[:20]
    with torch.no_grad():
        a, b = source.model.features(own).mean(0), source.model.features(x).mean(0)
    expected = float(a @ b / (a.norm() * b.norm()))
    assert mean_feature_similarity(source, x) == pytest.approx(expected, rel=1e-5)
    assert mean_feature_similarity(source, own) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("x, y", [([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), ([0.3, 0.1, 0.1, 0.9], [1, 2, 3, 4]),
                                  ([3, 1, 2], [1, 3, 2])])
def test_spearman_matches_scipy(x, y):
    from scipy.stats import spearmanr

    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)


def test_spearman_refuses_short_or_mismatched_input():
    with pytest.raises(ValueError, match="same length >= 2"):
        spearman([1], [2])
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_num_stages_of_every_source():
    assert {num_stages(load_source(n).model) for n in ("digits_0to4", "shapes_flat")} == {4}


def test_resnet18_loads_from_a_state_dict_the_test_saves(tmp_path):
    from torchvision.models import resnet18

    from cnnbp.lessons.transfer.backbones import load_resnet18, unavailable_reason
    from cnnbp.lessons.transfer.sources import SourceError

    net = resnet18(weights=None).eval()
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(net.state_dict(), path)
    src = load_resnet18(path, check_hash=False)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(src.model(x), net(x))
    assert num_stages(src.model) == 5 and src.model.feature_dim == 512 and src.size == 32
    assert embed(src.model, x, stage=5).shape == (2, 512)
    with pytest.raises(SourceError, match="corrupt"):
        load_resnet18(path)  # a random state dict does not have torchvision's hash
    assert "not in torch's hub cache" in unavailable_reason(tmp_path / "absent.pth")
    (tmp_path / "bad.pth").write_bytes(b"junk")
    with pytest.raises(SourceError, match="not a ResNet-18 state dict"):
        load_resnet18(tmp_path / "bad.pth", check_hash=False)
