"""The augmentation lesson's parts, in the lecture's order: the gallery, training with and
without augmentation (leaves the nets on the state), flips that change labels, test-time
augmentation and ensembles (both look at those nets)."""

from __future__ import annotations

from typing import Iterator

import torch

from cnnbp.data import ImageDataset, get_dataset
from cnnbp.device import torch_threads
from cnnbp.lessons.augment import figures, verdicts
from cnnbp.lessons.augment.ensemble import all_beat, ensemble_curve
from cnnbp.lessons.augment.flips import flipped_names
from cnnbp.lessons.augment.gallery import gallery as gallery_rows
from cnnbp.lessons.augment.gallery import source_images
from cnnbp.lessons.augment.training import THREADS, finish, gains, make_trainers, splits, train_arms
from cnnbp.lessons.augment.tta import TTAResult, accuracy, view_steps
from cnnbp.lessons.base import Part, RunState, Update, heartbeat, heartbeats, on_threads
from cnnbp.train import Beat


def _data(state: RunState) -> ImageDataset:
    if not hasattr(state, "data"):
        state.data = get_dataset(state.cfg.dataset, seed=state.cfg.seed)
    return state.data


def gallery(state: RunState) -> Iterator[Update]:
    cfg = state.cfg
    images, source, dataset = source_images(_data(state), dataset=cfg.dataset, image_index=cfg.image_index,
                                            photo=cfg.photo, image=cfg.image, count=cfg.gallery_size)
    with torch_threads(THREADS):
        rows = gallery_rows(images, cfg.gallery, dataset=dataset, strength=cfg.strength, seed=cfg.seed)
    numbers = [{"name": r.name, "title": r.title, "label": r.label, "mix": r.mix,
                "pixel_mean": None if r.images is None else float(r.images.mean() / 255)}
               for r in rows]
    yield heartbeat(0.6, long_work_next=True)  # the images, then their figure (~0.2-0.3 s each): a frame first
    yield Update(1.0, f"gallery: {source} through {len(rows)} augmentations",
                 figures={"gallery": figures.gallery(rows, source)}, tables={"gallery": figures.gallery_table(rows)},
                 numbers={"gallery": numbers}, verdicts=[verdicts.labels(rows)])


def training(state: RunState) -> Iterator[Update]:
    """A plain and an augmented net per seed, all in lockstep; the curves show the first seed.
    Leaves the trainers, their histories and each net's test softmax on the state."""
    cfg, shown = state.cfg, state.cfg.seed
    data = _data(state)
    state.split = split = splits(data, train_images=cfg.train_images, test_images=cfg.test_images, seed=cfg.seed)
    trainers, histories = make_trainers(data, split, cfg.seed_list, cfg.augmentations, strength=cfg.strength,
                                        epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr)
    seen = [h for h in histories if h.seed == shown]
    reached = 0.0
    for reached in train_arms(trainers, histories, state.control, shown=shown, beats=True):
        if isinstance(reached, Beat):
            yield heartbeat(reached)
        elif reached < 1.0:
            yield Update(reached, f"training {len(trainers)} nets ({cfg.seeds} seeds x plain / augmented) on "
                                  f"{cfg.train_images} images: {reached:.0%}",
                         figures={"curves": lambda: figures.curves(seen, shown, cfg.train_images)},
                         numbers={"training": {h.name: h.numbers() for h in seen}})
    probs = yield from heartbeats(finish(trainers, histories), reached, reached)
    state.probs = {(h.seed, h.arm): p for h, p in zip(histories, probs)}
    state.trainers = {(h.seed, h.arm): t for t, h in zip(trainers, histories)}
    result = gains(histories)
    yield Update(reached, f"{len(trainers)} nets trained ({reached:.0%} of the steps)",
                 figures={"curves": figures.curves(seen, shown, cfg.train_images),
                          "accuracy": figures.accuracy(histories)},
                 tables={"accuracy": figures.accuracy_table(histories)},
                 numbers={"training": {h.name: h.numbers() for h in seen},
                          "over_seeds": {"seeds": result.seeds, "gains": result.gains, "raises": result.raises,
                                         "final": figures.accuracy_table(histories).to_dict("records")}},
                 verdicts=[verdicts.raises(histories, result, cfg.augmentations, cfg.train_images)])


def flips(state: RunState) -> Iterator[Update]:
    cfg, data = state.cfg, _data(state)
    with torch_threads(THREADS):
        result = flipped_names(state.trainers[cfg.seed, "plain"].model, *state.split.test, list(data.classes))
    yield heartbeat(0.6)  # the flipped images' predictions, then their figure
    yield Update(1.0, "flipped test images through the plain net", figures={"flips": figures.flips(result)},
                 tables={"flips": figures.flips_table(result)}, numbers={"flips": vars(result)},
                 verdicts=[verdicts.flips(result, cfg.flips_keep_label)])


def tta(state: RunState) -> Iterator[Update]:
    cfg, (x, y) = state.cfg, state.split.test
    views = cfg.views()
    single, averaged, passes, shown = [], [], 0, None
    for i, seed in enumerate(cfg.seed_list):
        whole = state.probs[seed, "augmented"]  # the net's own test prediction: the whole view, computed once
        steps = view_steps(state.trainers[seed, "augmented"].model, x, views, whole=whole)
        pred = yield from heartbeats(on_threads(steps, THREADS), i / cfg.seeds, (i + 1) / cfg.seeds)
        single.append(accuracy(whole, y))
        averaged.append(accuracy(pred.average, y))
        passes = pred.forward_passes
        shown = pred if shown is None else shown  # the first seed's views are the ones drawn
        yield Update((i + 1) / cfg.seeds, f"TTA: {len(views)} views of {len(x)} images, seed {seed}")
    result = TTAResult(cfg.seed_list, single, averaged, len(views), passes)
    k = cfg.tta_examples
    per_image = torch.cat([shown.probabilities[:, :k], shown.average[None, :k]])  # (V + 1, k, classes)
    classes = _data(state).classes
    correct = per_image[:, torch.arange(k), y[:k]].T.tolist()  # (k, V + 1)
    predicted = [[classes[int(c)] for c in row] for row in per_image.argmax(2).T]
    labels = [f"#{i} ({classes[int(y[i])]})" for i in range(k)]
    yield Update(1.0, f"TTA on {cfg.seeds} augmented nets",
                 figures={"tta": figures.tta(result),
                          "tta_views": figures.tta_views(shown.views, correct, predicted, labels)},
                 tables={"tta": figures.tta_table(result)},
                 numbers={"tta": {**vars(result), "changes": result.changes, "outcome": result.outcome,
                                  "raises_or_ties": result.raises_or_ties},
                          "tta_views": {"views": shown.views, "images": labels, "p_true": correct,
                                        "predicted": predicted}},
                 verdicts=[verdicts.tta(result)])


def ensemble(state: RunState) -> Iterator[Update]:
    cfg, y = state.cfg, state.split.test[1]
    curves = {arm: ensemble_curve([state.probs[s, arm] for s in cfg.seed_list], y) for arm in ("plain", "augmented")}
    yield Update(1.0, f"ensembles of up to {cfg.seeds} nets", figures={"ensemble": figures.ensemble(curves)},
                 tables={"ensemble": figures.ensemble_table(curves)},
                 numbers={"ensemble": {arm: {**vars(c), "mean_member": c.mean_member, "gain": c.gain,
                                             "beats": c.beats} for arm, c in curves.items()},
                          "ensembles_beat": all_beat(list(curves.values()))},
                 verdicts=[verdicts.ensemble(curves)])



PARTS = (
    Part("gallery", 0.05, gallery),
    Part("training", 0.75, training),
    Part("flips", 0.02, flips),
    Part("tta", 0.15, tta),
    Part("ensemble", 0.03, ensemble),
)
