"""The transfer lesson end to end on quick settings: frames, figures = numbers, verdicts, the
settings only this lesson refuses, and every claim. (Stop, budget, cost refusal and bad input
are tested for every lesson in tests/lessons/test_protocol.py.)"""

from __future__ import annotations

import shutil

import pytest
import torch

from cnnbp.claims import CLAIMS, run_claim
from cnnbp.lessons import get_lesson, run_lesson
from cnnbp.lessons.base import ConfigError, merge_frames, validate_config
from cnnbp.lessons.transfer import sources as sources_mod
from cnnbp.lessons.transfer.comparison import ACCURACY_MARGIN, FORGET_MARGIN, Lead
from cnnbp.lessons.transfer.config import AVAILABLE, TransferConfig
from cnnbp.lessons.transfer.tasks import get_target

LESSON = get_lesson("transfer")
QUICK = dict(LESSON.quick)
# Measured by the parts the default run leaves out (imagenet, domain_shift): tested in test_imagenet.py and
# test_domain_shift.py
REAL_DATA_CLAIMS = {"transfer.imagenet_small_frozen_beats_scratch", "transfer.imagenet_large_finetune_beats_freezing",
                    "transfer.imagenet_large_finetune_all_beats_freezing", "transfer.domain_shift_costs_accuracy"}
TOY_CLAIMS = [c for c in CLAIMS if c.startswith("transfer.") and c not in REAL_DATA_CLAIMS]



def test_the_stream_shows_training_as_it_happens(frames):
    assert sum(f.message.startswith("training") for f in frames) >= 1
    assert any("curves" in f.figures for f in frames if f.message.startswith("training"))


def test_curves_show_every_run_and_the_probe(final):
    runs = final.numbers["runs"]
    fig = final.figures["curves"]
    names = [r["name"] for r in runs]
    assert names == ["freeze", "finetune", "lora", "scratch", "finetune, lr 0.5"]
    acc = {t.name: t for t in fig.data if t.xaxis == "x2"}
    for r in runs:
        assert list(acc[r["name"]].y) == r["test_accuracy"] and list(acc[r["name"]].x) == r["eval_steps"]
        assert r["steps"][-1] == QUICK["steps"]
    probe = final.numbers["linear_probe"]
    assert list(acc["linear probe, stage 4 (frozen)"].y) == [probe["accuracy"]] * 2
    assert probe["accuracy"] == probe["per_stage"][3] and probe["per_seed"] == [probe["accuracy"]]  # quick: 1 seed
    assert list(final.figures["stages"].data[0].y) == probe["per_stage"]
    assert set(acc["target accuracy"].y) == {TransferConfig().target_accuracy}


def test_trainable_parameter_counts(final):
    rows = {r["name"]: r for r in final.numbers["strategies"]}
    total = rows["finetune"]["trainable"]
    assert total == final.numbers["source"]["parameters"] - (32 * 5 + 5) + (32 * 5 + 5)  # 5 classes either side
    # freeze 2 stages: conv1 (1*16*9 + 16 bias) and conv2 (16*16*9 + 16) stop training
    assert rows["freeze"]["trainable"] == total - (1 * 16 * 9 + 16) - (16 * 16 * 9 + 16)
    # LoRA rank 2 on 4 convs + the head in full
    assert rows["lora"]["trainable"] == 2 * ((9 + 16) + (144 + 16) + (144 + 32) + (288 + 32)) + 32 * 5 + 5
    assert rows["linear_probe"]["trainable"] == (32 + 1) * 5
    params = {t.name: (t.x[0], t.y[0]) for t in final.figures["params"].data}
    assert params["lora"] == (rows["lora"]["trainable"], rows["lora"]["accuracy"])
    assert "finetune, lr 0.5" not in params


def test_forgetting_numbers_and_figure(final):
    rows = final.numbers["forgetting"]
    assert [r["lr"] for r in rows] == [0.05, 0.5]
    src_acc = final.numbers["source"]["accuracy"]
    assert all(r["before"] == pytest.approx(src_acc, abs=1e-4) for r in rows)
    fig = final.figures["forgetting"]
    assert list(fig.data[1].y) == [r["after"] for r in rows]
    assert all(0.0 <= r["after"] <= 1.0 for r in rows)


def test_sizes_and_selection_show_the_numbers(final):
    rows = final.numbers["sizes"]
    sizes = validate_config(TransferConfig, QUICK).sizes  # the sweep the quick run asked for
    assert [r["per_class"] for r in rows] == sizes
    assert [r["train_images"] for r in rows] == [5 * n for n in sizes]
    fig = final.figures["sizes"]
    ft = next(t for t in fig.data if t.name == "finetune" and t.xaxis == "x")
    assert list(ft.y) == [r["accuracy"]["finetune"] for r in rows]
    sel = final.numbers["selection"]
    assert [r["source"] for r in sel["rows"]] == list(sources_mod.RANKED)
    assert [t.x[0] for t in final.figures["selection"].data] == [r["similarity"] for r in sel["rows"]]
    assert f"{sel['spearman']:.2f}" in final.figures["selection"].layout.title.text.replace("<br>", " ")


def test_rule_of_thumb_cells_reuse_the_sweep_and_name_the_best(final):
    cells = final.numbers["rule"]
    assert [(c["similarity"], c["size"]) for c in cells] == [("similar", "small"), ("similar", "large"),
                                                             ("dissimilar", "small"), ("dissimilar", "large")]
    sweep = {r["per_class"]: r for r in final.numbers["sizes"]}
    for c in cells[:2]:  # the chosen source is the similar one: its cells are the sweep's rows
        assert c["source"] == "digits_0to4" and c["accuracy"] == sweep[c["per_class"]]["accuracy"]
    assert cells[2]["source"] == "shapes_flat"
    # scratch never sees a source: the dissimilar cells reuse the same size's scratch run
    assert [c["accuracy"]["scratch"] for c in cells[2:]] == [c["accuracy"]["scratch"] for c in cells[:2]]
    for c in cells:  # the best: every strategy within the margin of the top one
        top = max(c["accuracy"].values())
        assert c["best"] == [s for s, a in c["accuracy"].items() if a >= top - ACCURACY_MARGIN]
    bars = {t.name: list(t.y) for t in final.figures["rule"].data}
    assert bars["finetune"] == [c["accuracy"]["finetune"] for c in cells]
    table = final.tables["rule"]
    assert list(table["source"]) == ["similar", "dissimilar"] and "lecture: freeze" in table.iloc[0, 1]


def test_quick_settings_say_they_cannot_tell(final):
    """One seed of 20 steps on 5 images per class: every comparative verdict says so, none passes or fails."""
    claims = {v.claim: v for v in final.verdicts if v.claim in TOY_CLAIMS}
    assert set(claims) == set(TOY_CLAIMS)
    for verdict in claims.values():
        assert verdict.passed is None and "1 seed: too few to tell" in verdict.text, verdict.text
    probe = final.numbers["linear_probe"]["accuracy"]
    assert f"{probe:.1%}" in claims["transfer.small_similar_frozen_beats_scratch"].text


@pytest.mark.parametrize("values, message", [
    ({"freeze_stages": 5}, "freeze_stages (5) is more than the source's 4 stages"),
    ({"stage": 6}, "stage (6) is more than the source's 4 stages"),
    ({"lora_rank": 10}, "lora_rank (10) is larger than the smallest wrapped layer allows (9"),
    ({"forget_lr": 0.01}, "forget_lr (0.01) must be larger than lr (0.05)"),
    ({"images_per_class": 500}, "images_per_class: 500 images per class, but digits_5to9 has 139"),
    ({"sizes": "3,3"}, "duplicates"),
    ({"sizes": "0,3"}, "sizes.0: Input should be greater than or equal to 1"),
    ({"sizes": "3,500"}, "sizes: 500 images per class, but digits_5to9 has 139"),
    ({"strategies": []}, "strategies"),
])
def test_bad_settings_get_one_clear_line(values, message):
    with pytest.raises(ConfigError, match=None) as err:
        validate_config(TransferConfig, values)
    assert message in str(err.value)


def test_resnet_option_says_why_it_is_unavailable():
    from cnnbp.lessons.transfer.backbones import unavailable_reason

    reason = unavailable_reason()
    if not reason:
        pytest.skip("ResNet-18 ImageNet weights are cached on this machine")
    with pytest.raises(ConfigError, match="^source: the ImageNet ResNet-18 weights are not in torch's hub cache"):
        validate_config(TransferConfig, {"source": "resnet18_imagenet"})


def test_resnet_source_runs_the_strategies_on_a_state_dict_the_test_saves(tmp_path, monkeypatch):
    import hashlib

    from torchvision.models import resnet18

    from cnnbp.lessons.transfer import backbones

    path = tmp_path / backbones.FILE
    torch.save(resnet18(weights=None).state_dict(), path)
    monkeypatch.setattr(backbones, "weights_path", lambda: path)
    monkeypatch.setattr(backbones, "HASH_PREFIX", hashlib.sha256(path.read_bytes()).hexdigest()[:8])
    with pytest.raises(ConfigError, match="forgetting needs the source's own test set"):
        validate_config(TransferConfig, {"source": "resnet18_imagenet"})
    settings = {"source": "resnet18_imagenet", "parts": ["compare"], "strategies": ["linear_probe", "lora"],
                "steps": 10, "images_per_class": 2, "stage": 5, "freeze_stages": 5, "lora_rank": 4}
    final = merge_frames(run_lesson("transfer", settings))
    assert final.done and len(final.numbers["linear_probe"]["per_stage"]) == 5
    rows = {r["name"]: r for r in final.numbers["strategies"]}
    assert rows["linear_probe"]["trainable"] == (512 + 1) * 5  # logistic regression on the 512-d embedding
    assert 0 < rows["lora"]["share"] < 0.1 and final.numbers["runs"][0]["steps"][-1] == 10


def test_resnet_stages_beyond_the_shipped_sources_are_refused_for_the_rule_part(tmp_path, monkeypatch):
    """The rule part trains the shipped 4-stage sources with the same stage and freeze_stages: the
    ResNet's 5 passed validation and crashed halfway through the run."""
    import hashlib

    from torchvision.models import resnet18

    from cnnbp.lessons.transfer import backbones

    path = tmp_path / backbones.FILE
    torch.save(resnet18(weights=None).state_dict(), path)
    monkeypatch.setattr(backbones, "weights_path", lambda: path)
    monkeypatch.setattr(backbones, "HASH_PREFIX", hashlib.sha256(path.read_bytes()).hexdigest()[:8])
    base = {"source": "resnet18_imagenet", "parts": ["rule"], "steps": 10, "sizes": [1, 2]}
    for bad in ({"stage": 5}, {"stage": 4, "freeze_stages": 5}):
        with pytest.raises(ConfigError, match="which have 4 stages: choose at most 4"):
            validate_config(TransferConfig, {**base, **bad})
    assert validate_config(TransferConfig, {**base, "parts": ["compare"], "stage": 5, "freeze_stages": 5}).stage == 5
    final = merge_frames(run_lesson("transfer", {**base, "stage": 4, "freeze_stages": 4}))
    assert final.done and len(final.numbers["rule"]) == 4


def test_sizes_accept_the_text_box_and_the_cli_forms():
    assert validate_config(TransferConfig, {"sizes": "[3, 10, 30, 100]"}).sizes == [3, 10, 30, 100]
    assert validate_config(TransferConfig, {"sizes": "3, 20"}).sizes == [3, 20]


def test_shapes_source_takes_a_larger_rank_and_the_shapes_target_more_images():
    assert validate_config(TransferConfig, {"source": "shapes_flat", "lora_rank": 16, "target": "shapes_inverted",
                                            "images_per_class": 500, "parts": ["compare"]}).lora_rank == 16


def test_missing_or_tampered_source_is_refused_before_anything_runs(tmp_path, monkeypatch):
    for ext in (".pt", ".json"):
        shutil.copy(sources_mod.SOURCES_DIR / f"digits_0to4{ext}", tmp_path)
    monkeypatch.setattr(sources_mod, "SOURCES_DIR", tmp_path)
    (tmp_path / "digits_0to4.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="corrupt or was changed; rebuild it with: "
                                          "python -m cnnbp pretrain digits_0to4"):
        validate_config(TransferConfig, {})
    (tmp_path / "digits_0to4.pt").unlink()
    with pytest.raises(ConfigError, match="digits_0to4.pt is missing"):
        validate_config(TransferConfig, {})


def test_a_damaged_other_source_is_refused_by_the_parts_that_load_it(tmp_path, monkeypatch):
    """The rule part loads the target's similar and dissimilar sources, whatever source was chosen:
    a damaged one is one ConfigError line before the run, not a SourceError halfway through it."""
    for name in sources_mod.SOURCES:
        for ext in (".pt", ".json"):
            shutil.copy(sources_mod.SOURCES_DIR / f"{name}{ext}", tmp_path)
    monkeypatch.setattr(sources_mod, "SOURCES_DIR", tmp_path)
    (tmp_path / "shapes_flat.pt").write_bytes(b"not a checkpoint")  # digits_5to9's dissimilar source
    with pytest.raises(ConfigError, match="the rule part needs shapes_flat: .*corrupt or was changed"):
        validate_config(TransferConfig, {"parts": ["rule"]})
    assert validate_config(TransferConfig, {"parts": ["compare", "selection"]}).source == "digits_0to4"
    for name in ("digits_rotation", "shapes_textured"):
        (tmp_path / f"{name}.pt").unlink()
    with pytest.raises(ConfigError, match="the selection part ranks the shipped sources and needs at least 2"):
        validate_config(TransferConfig, {"parts": ["selection"]})


def test_available_images_per_class_match_the_data():
    assert {t: get_target(t).per_class_available() for t in AVAILABLE} == AVAILABLE


def test_defaults_fit_the_cost_budget():
    cost = TransferConfig().cost_seconds()
    assert 5 < cost < 40
    quick = validate_config(TransferConfig, QUICK).cost_seconds()
    # every small-source part at once on the defaults before issue 15 lowered them: over the server's budget
    every_part = TransferConfig(parts=QUICK["parts"], steps=150, sizes=[3, 10, 30, 100]).cost_seconds()
    assert quick < 0.5 * every_part
    # each further verdict seed costs what it trains again: less than the run's own seed
    one = validate_config(TransferConfig, {"seeds": 1}).cost_seconds()
    assert one < cost < one + 2 * (one - 1.0)


def test_three_seeds_decide_from_the_numbers_the_figures_show():
    """The compare part at 3 seeds (small settings): the other seeds' runs are in the numbers and,
    thin, in the curves; each verdict's pass mark is its Lead recomputed from those numbers."""
    settings = {"parts": ["compare", "forgetting"], "strategies": ["linear_probe", "finetune", "scratch"],
                "steps": 20, "images_per_class": 5, "seeds": 3}
    final = merge_frames(run_lesson("transfer", settings))
    runs = {r["name"]: r for r in final.numbers["runs"]}
    assert set(runs) == {"finetune", "scratch", "finetune, lr 0.5"} | {
        f"{name}, seed {s}" for s in (1, 2) for name in ("finetune", "scratch", "finetune, lr 0.5")}
    assert {runs[f"scratch, seed {s}"]["seed"] for s in (1, 2)} == {1, 2}
    thin = [t for t in final.figures["curves"].data if t.name and ", seed " in t.name]
    assert thin and all(t.opacity == 0.35 for t in thin)
    verdicts = {v.claim: v for v in final.verdicts if v.claim}
    probes = final.numbers["linear_probe"]["per_seed"]
    scratch = [runs[n]["final_accuracy"] for n in ("scratch", "scratch, seed 1", "scratch, seed 2")]
    lead = Lead(tuple(p - s for p, s in zip(probes, scratch)), ACCURACY_MARGIN)
    assert verdicts["transfer.small_similar_frozen_beats_scratch"].passed == lead.holds
    assert all(f"{s:.1%}" in verdicts["transfer.small_similar_frozen_beats_scratch"].text for s in scratch)
    forget = [(runs[f"finetune{sfx}"], runs[f"finetune, lr 0.5{sfx}"]) for sfx in ("", ", seed 1", ", seed 2")]
    drops = Lead(tuple(lo["source_after"] - hi["source_after"] for lo, hi in forget), FORGET_MARGIN)
    assert verdicts["transfer.large_lr_forgets"].passed == drops.holds
    assert [r["name"] for r in final.numbers["strategies"]] == ["linear_probe", "finetune", "scratch",
                                                                "finetune, lr 0.5"]  # the run's seed only


def test_the_sweep_reuses_the_compare_runs_at_the_same_size():
    """The sweep's row at images_per_class is the compare part's runs (same seed, same settings): the
    same numbers as training them again."""
    settings = {"strategies": ["linear_probe", "freeze", "finetune", "scratch"], "steps": 20, "images_per_class": 5,
                "sizes": [3, 5], "seeds": 1}
    reused = merge_frames(run_lesson("transfer", {**settings, "parts": ["compare", "sizes"]})).numbers["sizes"]
    fresh = merge_frames(run_lesson("transfer", {**settings, "parts": ["sizes"]})).numbers["sizes"]
    assert reused == fresh


@pytest.mark.parametrize("claim", TOY_CLAIMS)
def test_claim_runs_and_reports_numbers(claim):
    result = run_claim(claim)
    assert not result.error, result.measured
    assert "seeds 0/1/2" in result.measured and any(ch.isdigit() for ch in result.measured)
    words = {True: "at every seed", False: "at every seed", None: "Too close to call"}[result.passed]
    assert words in result.measured
