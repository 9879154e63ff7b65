"""The init lesson end to end on small settings: what its figures show, what its verdicts quote,
determinism, divergence, and the symmetry count."""

import re

import pytest

from cnnbp.lessons import run_lesson
from cnnbp.lessons.base import merge_frames
from cnnbp.lessons.init.symmetry import layer_symmetry

QUICK = {"width": 256, "depth": 4, "epochs": 1, "symmetry_steps": 8, "cnn_width": 8,
         "inits": ["normal_0.01", "kaiming"], "activations": ["tanh", "relu"]}


@pytest.fixture(scope="module")
def frames():
    return list(run_lesson("init", QUICK))


def test_the_stream_shows_training_as_it_happens(frames):
    assert sum("training the CNN" in f.message for f in frames) >= 1  # curves streamed while training


def test_figures_show_the_measured_numbers(frames):
    final = merge_frames(frames)
    classic = final.numbers["classic"]
    profiles = final.figures["classic_profiles"]
    std_traces = [t for t in profiles.data if t.xaxis == "x2"]  # the std panel
    shown = {t.name: list(t.y) for t in std_traces}
    assert shown["kaiming / relu"] == pytest.approx(classic["relu"]["kaiming"]["std"])
    assert shown["normal_0.01 / tanh"] == pytest.approx(classic["tanh"]["normal_0.01"]["std"])
    hist = final.figures["classic_histograms"]
    bars = [t for t in hist.data if t.name == "tanh | kaiming | layer 1"]
    table = final.tables["classic"]
    assert sum(bars[0].y) == 16 * 256  # every activation of the batch is counted
    first_edge, last_edge = bars[0].x0 - bars[0].dx / 2, bars[0].x0 + bars[0].dx * (len(bars[0].y) - 0.5)
    assert (first_edge, last_edge) == pytest.approx((-1.0, 1.0))  # tanh's bars span its whole output range
    row = table[(table.activation == "relu") & (table.init == "kaiming") & (table.layer == 4)].iloc[0]
    assert row["std"] == pytest.approx(classic["relu"]["kaiming"]["std"][3])
    curves = final.figures["cnn_curves"]
    acc = [t for t in curves.data if t.name == "kaiming / relu" and t.xaxis == "x2"][0]
    assert list(acc.y) == pytest.approx(final.numbers["cnn"]["kaiming / relu"]["test_accuracy"])


def test_verdicts_quote_the_numbers(frames):
    final = merge_frames(frames)
    texts = [v.text for v in final.verdicts]
    kaiming_relu = next(t for t in texts if t.startswith("relu + Kaiming"))
    std = final.numbers["classic"]["relu"]["kaiming"]["std"]
    assert f"{std[0]:.3g}" in kaiming_relu and f"{std[-1]:.3g}" in kaiming_relu
    small_tanh = next(t for t in texts if t.startswith("tanh + small random"))
    assert "collapse towards zero" in small_tanh
    cnn = next(t for t in texts if t.startswith("CNN with relu"))
    acc = final.numbers["cnn"]["kaiming / relu"]["final_test_accuracy"]
    assert f"{acc:.1%}" in cnn
    assert re.search(r"constant init leaves (1/\d+, ){3}1/\d+ distinct neurons", " ".join(texts))


def test_symmetry_numbers(frames):
    sym = merge_frames(frames).numbers["symmetry"]
    assert sym["constant"]["distinct_after"] == [1, 1, 1, 1]
    # the contrast is the scheme made for the first activation: Xavier for tanh
    assert sym["xavier"]["activation"] == "tanh"
    assert sym["xavier"]["distinct_after"] == sym["xavier"]["units"]


def test_divergence_is_reported_not_raised():
    frames = list(run_lesson("init", {**QUICK, "parts": ["cnn"], "lr": 2.0, "inits": ["normal_0.05"],
                                      "activations": ["relu"], "cnn_width": 16}))
    final = merge_frames(frames)
    cnn = final.numbers["cnn"]["normal_0.05 / relu"]
    if cnn["diverged_at"] is not None:  # lr 2 with momentum usually blows up; say so when it does
        assert f"diverged at step {cnn['diverged_at']}" in " ".join(v.text for v in final.verdicts)
    assert final.done


def test_layer_symmetry_counts_distinct_units():
    import torch
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Conv2d(4, 2, 1))
    with torch.no_grad():
        conv[0].weight.fill_(0.5)
        conv[0].weight[3] += 1.0
    (first,) = layer_symmetry(conv)
    assert (first.units, first.distinct_units) == (4, 2)


def test_the_inits_of_one_activation_step_as_one_stack(monkeypatch):
    """The grid's trainers go to lockstep with stacking on, grouped one stack per activation (the
    stack's numbers equal one-at-a-time training up to float rounding: tests/test_stacked.py)."""
    from cnnbp.data import lesson_dataset
    from cnnbp.lessons.init import cnn
    from cnnbp.train import RunControl
    from cnnbp.train.stacked import lockstep_groups

    seen = {}

    def spy(trainers, histories, control, **kwargs):
        seen.update(groups=lockstep_groups(trainers), stack=kwargs.get("stack"))
        return iter(())

    monkeypatch.setattr(cnn, "lockstep", spy)
    list(cnn.train_grid(lesson_dataset("digits", seed=0), inits=["normal_0.01", "xavier", "kaiming"],
                        activations=["tanh", "relu"], depth=2, width=4, epochs=1, batch_size=64, lr=0.05, seed=0,
                        control=RunControl()))
    assert seen == {"groups": [[0, 1, 2], [3, 4, 5]], "stack": True}


def test_a_probe_without_histograms_keeps_every_other_statistic():
    """The CNN's per-layer probe skips the histograms nothing of it draws (probes.summarize)."""
    import torch

    from cnnbp.nn.activations import create_act, grad_ratio
    from cnnbp.probes import summarize

    z = torch.randn(32, 4, 5, 5, generator=torch.Generator().manual_seed(0)) * 3
    act = create_act("tanh")
    ratio = grad_ratio(act, "tanh", z)
    full, lean = summarize("l", act(z), ratio), summarize("l", act(z), ratio, histograms=False)
    assert full.hist_counts and not lean.hist_counts and not lean.hist_edges
    assert lean.as_row() == full.as_row()
