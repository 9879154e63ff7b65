"""The visualise lesson's parts, in run order: train (or reuse) the small CNN, train it alike at the
next seeds for the verdicts, then the six views; or, with ``model="resnet18_imagenet"``, only the
cached ResNet-18's first-layer filters.

The training part leaves ``state.data``, ``state.upload`` and ``state.trained`` for the views; the
other seeds' part leaves ``state.models`` (every model with its data), which the filter and
occlusion verdicts are decided over. Models are cached per training settings, so another image,
channel, window or projection reuses them (a part's share of the run is then 0). Each view runs on
one thread (:func:`model.one_thread`).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from cnnbp.data import ImageDataset, dataset_label
from cnnbp.data.uploads import load_image
from cnnbp.lessons.base import Part, RunState, Update, heartbeat, heartbeats
from cnnbp.lessons.redraw import Redraw
from cnnbp.lessons.visualise import embeddings as emb
from cnnbp.lessons.visualise import figures as figs
from cnnbp.lessons.visualise import imagenet, loaded, verdicts
from cnnbp.lessons.visualise import top_images as top
from cnnbp.lessons.visualise.config import (
    EFFICIENTNET,
    FORWARD_224_S,
    IMAGENET_VIEWS,
    NETWORK_BUILD_S,
    VisualiseConfig,
)
from cnnbp.lessons.visualise.features import channel_peaks, dead_channels, feature_maps
from cnnbp.lessons.visualise.filters import neighbour_correlation, smoothing
from cnnbp.lessons.visualise.imagenet_parts import (
    photo_features,
    photo_filters,
    photo_occlusion,
    photo_setup,
    photo_top_images,
)
from cnnbp.lessons.visualise.model import (
    MODELS,
    Trained,
    at_seeds,
    layer_shapes,
    load_data,
    object_masks,
    one_thread,
    penultimate,
    receptive_field,
    train,
    training_steps,
)
from cnnbp.lessons.visualise.occlusion import (
    MASK_IMAGES,
    ObjectEffect,
    ObjectTest,
    attribution,
    mass_inside,
    object_test,
    occlusion_scores,
)
from cnnbp.lessons.visualise.synthesis import NO_PRIOR, maximise
from cnnbp.nn import checkpoints

# A view without an estimate of its own (filters, feature maps, top images) costs tens of
# milliseconds: its share of the progress bar.
VIEW_FLOOR_S = 0.05
UMAP_WAIT = ("UMAP is not ready yet: its numba kernels are still loading, once per server start (~10-15 s); "
             "this run waits for them")


def start(cfg: VisualiseConfig, parts: list[Part]) -> str:
    if cfg.model == "resnet18_imagenet":
        return "reading the cached ImageNet ResNet-18 weights"
    if cfg.model == EFFICIENTNET:
        skipped = [v for v in cfg.parts if v not in IMAGENET_VIEWS]
        return (f"EfficientNet-Lite0 (ImageNet) on {'your upload' if cfg.image else cfg.photo}: "
                f"{', '.join(v for v in cfg.parts if v in IMAGENET_VIEWS)}"
                + (f" ({', '.join(skipped)}: small CNN only, not run)" if skipped else ""))
    if cfg.model_file:
        return f"starting: {len(cfg.parts)} views on your model file, measured on {dataset_label(cfg.dataset)}"
    return f"starting: {len(cfg.parts)} views on a small CNN trained on {dataset_label(cfg.dataset)}"


# ---- the model -----------------------------------------------------------------------------

def training(state: RunState) -> Iterator[Update]:
    """Train the CNN, streaming its curves and filters, or take it from the cache."""
    cfg = state.cfg
    state.data = load_data(cfg.dataset, seed=cfg.seed)
    state.upload = (load_image(cfg.image, channels=state.data.in_channels, size=state.data.image_size)
                    if cfg.image else None)
    if cfg.model_file:
        yield from _loaded(state)
        return
    trained = MODELS.get(cfg.train_settings())
    if trained is None:
        # the curves' numbers at every evaluation; the figures (~0.15 s the pair) within a tenth of the training,
        # drawn when a frame goes out, and once more with the trained model below
        redraw = Redraw(share=0.1)
        for reached, trained in train(state.data, cfg.train_settings(), state.control):
            if trained is None:  # a step between two evaluations
                yield heartbeat(reached)
                continue
            update = _training_update(trained, cfg)
            figures = update.pop("figures")
            yield Update(reached, f"training the CNN on {dataset_label(cfg.dataset)}",
                         figures=redraw(figures) if reached < 1.0 else {}, **update)
        if state.control.stop_reason():  # a half-trained model is neither cached nor looked at
            return
        MODELS.put(trained.settings, trained)
        source, message = "trained", f"trained in {trained.seconds:.1f} s"
    else:
        source = message = "reused from the model cache (same training settings)"
    state.trained = trained
    data = state.data
    # kept for the tab's Download (and the CLI's --save-models): train here, look inside it in another tab
    checkpoints.keep_models(checkpoints.run_key("visualise", cfg), {f"visualise, seed {cfg.seed}": trained.model},
                            classes=data.classes, trained_on=data.name)
    update = _training_update(trained, cfg)
    update["numbers"]["model"] = _model_numbers(trained, data, source)
    yield Update(1.0, f"model {message}; test accuracy {trained.test_accuracy[-1]:.1%}", **update)


def _model_numbers(trained: Trained, data: ImageDataset, source: str) -> dict:
    return {"source": source, "seconds": trained.seconds, "test_accuracy": trained.test_accuracy[-1],
            "layer_shapes": [list(s) for s in layer_shapes(trained.model, data.image_size, data.in_channels)]}


def _loaded(state: RunState) -> Iterator[Update]:
    """The model file in place of training: measured on the test split; its filters beside a Kaiming draw."""
    cfg = state.cfg
    model_file = loaded.load_model_file(cfg.model_file)
    state.trained = trained = loaded.as_trained(model_file, state.data, seed=cfg.seed)
    numbers = {"model": {**_model_numbers(trained, state.data, "model file"), "describe": model_file.describe()}}
    # the split is this run's seed's: a file trained on another seed's split may have seen some of these images
    yield Update(1.0, f"model file loaded ({model_file.describe()}); test accuracy {trained.test_accuracy[-1]:.1%} "
                      f"on {dataset_label(cfg.dataset)}'s test split at seed {cfg.seed} (the file's own split if it "
                      "was trained at this seed)",
                 figures={"filters": figs.model_file_filters_figure(_filter_snapshots(trained))}, numbers=numbers)


def _training_update(t: Trained, cfg: VisualiseConfig) -> dict:
    """The curves' numbers now; the training and filters figures as functions, drawn from ``t`` as it is
    when a frame goes out."""
    draw = {"training": lambda: figs.training_figure(_training_numbers(t), dataset=dataset_label(cfg.dataset),
                                                     depth=cfg.depth, width=cfg.width, lr=cfg.lr),
            "filters": lambda: figs.filters_figure(_filter_snapshots(t))}
    return dict(figures=draw, numbers={"training": _training_numbers(t)})


def _training_numbers(t: Trained) -> dict:
    snapshots = [{"label": label, "smoothness": neighbour_correlation(w)} for label, w in t.snapshots]
    return {"steps": t.steps, "loss": t.loss, "eval_steps": t.eval_steps, "test_accuracy": t.test_accuracy,
            "diverged_at": t.diverged_at, "seconds": t.seconds, "snapshots": snapshots}


def _filter_snapshots(t: Trained) -> list[dict]:
    return [{"label": label, "weights": w.tolist(), "smoothness": neighbour_correlation(w)} for label, w in t.snapshots]


def other_seeds(state: RunState) -> Iterator[Update]:
    """The same training at the next ``models - 1`` seeds (cached like the first): the filter and
    occlusion verdicts are decided over all of them. Leaves ``state.models``: (model, its data)."""
    cfg = state.cfg
    others = at_seeds(cfg.train_settings(), cfg.models)[1:]
    state.models = [(state.trained, state.data)]
    for k, settings in enumerate(others):
        what = f"model {k + 2} of {cfg.models} (seed {settings.seed}) for the verdicts"
        data = load_data(cfg.dataset, seed=settings.seed)
        trained = None
        for reached, trained in training_steps(data, settings, state.control):
            if trained is None and reached < 1.0:  # heard from at every step, not only per model
                yield Update((k + reached) / len(others), f"{what}: training")
        if trained is None:  # stopped
            return
        state.models.append((trained, data))
        yield Update((k + 1) / len(others), f"{what}: test accuracy {trained.test_accuracy[-1]:.1%}")


def _models(state: RunState) -> list[tuple[Trained, ImageDataset]]:
    """The run's model and, where the other seeds' part ran, theirs."""
    return getattr(state, "models", [(state.trained, state.data)])


# ---- the views -----------------------------------------------------------------------------

def weights(state: RunState) -> Iterator[Update]:
    t, data = state.trained, state.data
    if state.cfg.model_file:
        yield from _loaded_weights(state)
        return
    (_, first), (after, last) = t.snapshots[0], t.snapshots[-1]
    s = smoothing([(m.snapshots[0][1], m.snapshots[-1][1]) for m, _ in _models(state)])
    # the filters figure is the training part's (drawn from the same snapshots)
    yield Update(1.0, "first-layer filters measured",
                 verdicts=[verdicts.filters_smoother(s, shape=tuple(last.shape), after=after,
                                                     image_size=data.image_size, seed=state.cfg.seed)],
                 numbers={"filters": {"init": s.init[0], "trained": s.trained[0], "weights": last.tolist(),
                                      "init_weights": first.tolist(),
                                      "models": {"init": s.init, "trained": s.trained},
                                      "change": s.change.as_dict()}})


def _chosen_image(state: RunState) -> tuple[torch.Tensor, str]:
    if state.upload is not None:
        return state.upload, "your upload"
    index, data = state.cfg.image_index, state.data
    return data.x_test[index], f"test image #{index} ({data.classes[int(data.y_test[index])]})"


def activations(state: RunState) -> Iterator[Update]:
    t, data = state.trained, state.data
    image, what = _chosen_image(state)
    with one_thread():
        maps = feature_maps(t.model, image)
        dead = dead_channels(channel_peaks(t.model, data.x_test))
    layers = [{"name": f"conv{i + 1}", "maps": m.tolist(), "scale": float(m.max()), "dead": d}
              for i, (m, d) in enumerate(zip(maps, dead))]
    n_dead = sum(len(d) for d in dead)
    yield Update(1.0, f"feature maps of {what}; {n_dead} dead filters",
                 figures={"feature_maps": figs.feature_maps_figure(image.tolist(), layers, what=what)},
                 tables={"dead": figs.dead_table(layers)},
                 verdicts=[verdicts.dead_filters(layers, images=len(data.x_test))],
                 numbers={"feature_maps": {"image": what, "layers": layers}})


def _probabilities(model):
    return lambda x: torch.softmax(model(x), dim=1)  # (B, C, H, W) -> (B, K)


def occlusion(state: RunState) -> Iterator[Update]:
    cfg = state.cfg
    window = dict(window=cfg.window, stride=cfg.stride, fill=cfg.fill)
    models = _models(state)
    with one_thread():
        rows = _occlusion_maps(state)
    tests = []
    for model, data in models:  # the object test, model by model: the page hears from the run between them
        yield Update(0.9 * len(tests) / len(models),
                     f"occlusion: the object test on model {len(tests) + 1} of {len(models)}")
        with one_thread():
            tests.append(object_test_of(model, data, **window))
    yield Update(0.9, "occlusion: drawing the maps")  # the figure (~0.3 s) is a wait of its own
    (test, mask_source), o = tests[0], ObjectEffect([t for t, _ in tests])
    summary = {**vars(test), "mask_source": mask_source, **window,
               "models": [vars(t) for t in o.tests], "effect": o.effect.as_dict() if o.effect else None}
    positions = len(rows[0]["tops"]) * len(rows[0]["lefts"])
    yield Update(1.0, f"occlusion maps: {positions} positions per image, {len(rows) + test.images} images",
                 figures={"occlusion": figs.occlusion_figure(rows, accuracy=state.trained.test_accuracy[-1],
                                                             **window)},
                 tables={"occlusion": figs.occlusion_table(rows)},
                 verdicts=[verdicts.occlusion_on_object(o, mask_source=mask_source, seed=cfg.seed, **window),
                           verdicts.model_explained(state.trained, rows, dataset=dataset_label(cfg.dataset),
                                                    test_images=len(state.data.y_test))],
                 numbers={"occlusion": {"maps": rows, "summary": summary}})


def object_test_of(t: Trained, data: ImageDataset, *, window: int, stride: int, fill: str) -> tuple[ObjectTest, str]:
    """The object-vs-background test on the first MASK_IMAGES test images (their true class), and
    where the object masks come from."""
    masks, mask_source = object_masks(data)
    sample = torch.arange(min(MASK_IMAGES, len(data.x_test)))
    return object_test(_probabilities(t.model), data.x_test[sample], data.y_test[sample], masks[sample],
                       window=window, stride=stride, fill=fill), mask_source


def _occlusion_maps(state: RunState) -> list[dict]:
    """The maps shown: the upload (if any), then ``occlusion_images`` test images from the chosen one."""
    cfg, data = state.cfg, state.data
    shown = [(cfg.image_index + i) % len(data.x_test) for i in range(cfg.occlusion_images)]
    masks, _ = object_masks(data)
    images = data.x_test[shown]
    if state.upload is not None:
        images = torch.cat([state.upload.unsqueeze(0), images])
    result = occlusion_scores(_probabilities(state.trained.model), images, window=cfg.window, stride=cfg.stride,
                              fill=cfg.fill)
    pred = result.base.argmax(1)
    ny, nx = len(result.rows), len(result.cols)
    # the class each map is about: the true class; an upload's is unknown, so its predicted class
    index = ([None] if state.upload is not None else []) + shown
    target = torch.tensor([int(pred[j]) if i is None else int(data.y_test[i]) for j, i in enumerate(index)])
    attr = attribution(result, target, channels=1)[:, 0]  # (N, H, W)
    rows = []
    for j, i in enumerate(index):
        true = int(target[j])
        mass = None if i is None else float(mass_inside(attr[j:j + 1], masks[i:i + 1])[0])
        mass = None if mass is not None and np.isnan(mass) else mass  # no positive sensitivity: no share
        rows.append({"image": images[j].tolist(), "index": i,
                     "true": data.classes[true],  # an upload's: its predicted class
                     "pred": data.classes[int(pred[j])],
                     "right": None if i is None else int(pred[j]) == true,
                     "p_true": result.scores[j, :, true].view(ny, nx).tolist(),
                     "p_pred": result.scores[j, :, int(pred[j])].view(ny, nx).tolist(),
                     "base_p_true": float(result.base[j, true]), "tops": result.rows, "lefts": result.cols,
                     "mass_inside": mass})
    return rows


def wait_for_umap(state: RunState) -> Iterator[Update]:
    """Said at once (a part's last update is never held back), then UMAP's kernels are waited for."""
    yield Update(1.0, UMAP_WAIT)
    yield from heartbeats(emb.until_umap_ready(), 1.0)


def _needs_umap_compile(cfg: VisualiseConfig) -> bool:
    return _small_cnn(cfg) and "embeddings" in cfg.parts and "umap" in cfg.methods and not emb.umap_ready()


def embeddings(state: RunState) -> Iterator[Update]:
    cfg, data = state.cfg, state.data
    labels = data.y_test[:cfg.embed_points].numpy()
    with one_thread():
        sources = embedding_sources(state.trained, data, points=cfg.embed_points)
        if cfg.imagenet_features:
            sources["imagenet"] = imagenet_features(data, points=cfg.embed_points)
    jobs = [(m, kind) for m in cfg.methods for kind in sources]
    made = []
    for method, kind in jobs:  # one projection at a time: the page hears from the run between them
        reached = 0.95 * len(made) / len(jobs)
        if method != "pca" and not emb.fits_yield():  # a fit here: 0.5-1 s that cannot yield, a frame first
            yield heartbeat(reached, long_work_next=True)
        with one_thread():  # in the embedding worker the fit yields while it waits: heartbeats
            made.append((yield from heartbeats(
                emb.embedding(sources[kind], labels, features=kind, method=method, seed=cfg.seed), reached, reached)))
        # the last one too: comparing and drawing the maps (~0.3 s) is a wait of its own
        yield Update(0.95 * len(made) / len(jobs), f"projections: {len(made)} of {len(jobs)} ({method} of {kind})")
    c = emb.comparison(made, labels, sources)
    extra = [p for p in made if p.features == "imagenet"]
    entries = [{"features": p.features, "method": p.method, "x": p.points[:, 0].tolist(),
                "y": p.points[:, 1].tolist(), "labels": c.labels.tolist(), "index": list(range(len(c.labels))),
                "knn_accuracy": p.knn_accuracy, "trustworthiness": p.trustworthiness, "seconds": p.seconds}
               for p in [*c.projections, *extra]]
    notes = [verdicts.imagenet_embedding(c, extra, dataset=dataset_label(cfg.dataset))] if extra else []
    yield Update(1.0, f"{len(entries)} projections of {len(c.labels)} images",  # the figure drawn when sent:
                 figures={"embeddings": lambda: figs.embeddings_figure(  # a frame first if that would be late
                     entries, classes=data.classes, images=data.x_test[:cfg.embed_points].tolist())},
                 tables={"embeddings": figs.embeddings_table(entries)},
                 verdicts=[verdicts.embeddings_separate(c), *notes],
                 numbers={"embeddings": {"projections": entries, "chance": c.chance}})


IMAGENET_FEATURE_SIZE = 48  # the transfer lesson's default: 28x28 images need no more (measured, linear probes)


def imagenet_features(data: ImageDataset, *, points: int) -> np.ndarray:
    """The ImageNet network's pooled features of the first ``points`` test images, (N, 1280)."""
    from cnnbp.nn import imagenet as net

    return net.features(net.to_network_input(data.x_test[:points], size=IMAGENET_FEATURE_SIZE)).numpy()


def embedding_sources(t: Trained, data: ImageDataset, *, points: int) -> dict[str, np.ndarray]:
    """The first ``points`` test images as the CNN's penultimate features and as raw pixels."""
    x = data.x_test[:points]
    return {"cnn": penultimate(t.model, x).numpy(), "pixels": x.flatten(1).numpy()}


def embedding_comparison(t: Trained, data: ImageDataset, *, points: int, methods: list[str],
                         seed: int) -> emb.Comparison:
    """The first ``points`` test images in 2-D, from the CNN's penultimate features and from pixels."""
    sources = embedding_sources(t, data, points=points)
    return emb.compare(sources["cnn"], sources["pixels"], data.y_test[:points].numpy(), methods=methods, seed=seed)


def top_images(state: RunState) -> Iterator[Update]:
    cfg, t, data = state.cfg, state.trained, state.data
    with one_thread():
        strongest = top.top_images(t.model, data.x_test, layer=cfg.layer, channel=cfg.channel, k=cfg.top_k)
    items = []
    for it in strongest:
        img = data.x_test[it.index]
        top_, left, bottom, right = it.box
        items.append({"index": it.index, "activation": it.activation, "unit": list(it.unit), "box": list(it.box),
                      "label": data.classes[int(data.y_test[it.index])], "image": img.tolist(),
                      "crop": img[:, top_:bottom + 1, left:right + 1].tolist()})
    rf = receptive_field(t.model, cfg.layer)
    unit = dict(layer=cfg.layer, channel=cfg.channel, field=rf.size)
    counts = data.y_test.bincount(minlength=len(data.classes))
    share = {name: float(c) / len(data.y_test) for name, c in zip(data.classes, counts)}
    yield Update(1.0, f"top {len(items)} images of conv{cfg.layer} channel {cfg.channel}",
                 figures={"top_images": figs.top_images_figure(items, **unit)},
                 verdicts=[verdicts.channel_top_images([it["label"] for it in items],
                                                       [it["activation"] for it in items], share=share, **unit)],
                 numbers={"top_images": {"items": items, "receptive_field": rf.size, "jump": rf.jump}})


def synthesis(state: RunState) -> Iterator[Update]:
    cfg, t, data = state.cfg, state.trained, state.data
    common = dict(shape=(data.in_channels, *data.image_size), layer=cfg.layer, channel=cfg.channel,
                  steps=cfg.synth_steps, seed=cfg.seed)
    with one_thread():
        plain = maximise(t.model, **common, **NO_PRIOR)
    yield Update(0.5, "synthesis: without a prior done; now with it")
    with one_thread():
        prior = maximise(t.model, **common, jitter=cfg.jitter, blur_every=cfg.blur_every, l2=cfg.l2)
        best = top.top_images(t.model, data.x_test, layer=cfg.layer, channel=cfg.channel, k=1)[0].activation
    results = [{"name": "no prior", "image": plain.image.tolist(), "activation": plain.activation,
                "roughness": plain.roughness},
               {"name": f"jitter {cfg.jitter}, blur every {cfg.blur_every}, L2 {cfg.l2:g}",
                "image": prior.image.tolist(), "activation": prior.activation, "roughness": prior.roughness}]
    yield Update(1.0, "inputs synthesised",
                 figures={"synthesis": figs.synthesis_figure(results, layer=cfg.layer, channel=cfg.channel)},
                 verdicts=[verdicts.synthesised(*results, layer=cfg.layer, channel=cfg.channel, steps=cfg.synth_steps,
                                                best=best)],
                 numbers={"synthesis": results})


# ---- the ImageNet ResNet-18 (where its weights are cached) ---------------------------------

def imagenet_filters(state: RunState) -> Iterator[Update]:
    """ResNet-18's ImageNet-trained first-layer filters against Kaiming draws of the same shape,
    one per seed of ``models`` (the figure shows the first)."""
    trained = imagenet.first_layer_filters()
    s, draws = _against_draws(trained, state.cfg)
    snapshots = [{"label": "Kaiming init (same shape)", "weights": draws[0].tolist(), "smoothness": s.init[0]},
                 {"label": "ImageNet-trained", "weights": trained.tolist(), "smoothness": s.trained[0]}]
    yield Update(1.0, "ResNet-18 first-layer filters measured",
                 figures={"filters": figs.imagenet_filters_figure(snapshots)},
                 verdicts=[verdicts.imagenet_filters_smoother(s, shape=tuple(trained.shape))],
                 numbers={"filters": {"init": s.init[0], "trained": s.trained[0], "model": "resnet18_imagenet",
                                      "draws": s.init, "change": s.change.as_dict()}})


def _loaded_weights(state: RunState) -> Iterator[Update]:
    """A model file's first-layer filters against Kaiming draws of the same shape (it has no init of ours)."""
    trained = state.trained.snapshots[-1][1]
    s, _ = _against_draws(trained, state.cfg)
    yield Update(1.0, "the model file's first-layer filters measured",
                 verdicts=[verdicts.imagenet_filters_smoother(s, shape=tuple(trained.shape),
                                                              network="The model file's conv1",
                                                              after="after its training")],
                 numbers={"filters": {"init": s.init[0], "trained": s.trained[0], "model": "model file",
                                      "weights": trained.tolist(), "draws": s.init, "change": s.change.as_dict()}})


def _against_draws(trained: torch.Tensor, cfg: VisualiseConfig):
    """The smoothing of ``trained`` against one Kaiming draw of its shape per seed of ``models``; the draws."""
    draws = [imagenet.kaiming_like(trained, seed=s) for s in range(cfg.seed, cfg.seed + cfg.models)]
    return smoothing([(init, trained) for init in draws]), draws


# ---- which parts run, and their shares of the run ------------------------------------------

def _small_cnn(cfg: VisualiseConfig) -> bool:
    return cfg.model == "trained"


def _photo_view(view: str):
    return lambda cfg: cfg.model == EFFICIENTNET and view in cfg.parts


def _view(name: str, run) -> Part:
    return Part(name, lambda cfg: max(VIEW_FLOOR_S, cfg.view_seconds(name)), run,
                when=lambda cfg: _small_cnn(cfg) and name in cfg.parts)


def _training_share(cfg: VisualiseConfig) -> float:
    cached = not cfg.model_file and MODELS.get(cfg.train_settings()) is not None
    return 0.0 if cached else cfg.training_seconds()


def _other_seeds_share(cfg: VisualiseConfig) -> float:
    untrained = [s for s in at_seeds(cfg.train_settings(), cfg.models)[1:] if MODELS.get(s) is None]
    return cfg.training_seconds() * len(untrained)


PARTS = (
    Part("imagenet_filters", 1.0, imagenet_filters, when=lambda cfg: cfg.model == "resnet18_imagenet"),
    Part("photo", NETWORK_BUILD_S, photo_setup, when=lambda cfg: cfg.model == EFFICIENTNET),
    Part("photo_filters", FORWARD_224_S, photo_filters, when=_photo_view("weights")),
    Part("photo_features", FORWARD_224_S, photo_features, when=_photo_view("activations")),
    Part("photo_occlusion", lambda cfg: cfg.photo_occlusion_seconds(),
         photo_occlusion, when=_photo_view("occlusion")),
    Part("photo_top_images", lambda cfg: cfg.photo_top_seconds(), photo_top_images, when=_photo_view("top_images")),
    Part("training", _training_share, training, when=_small_cnn),
    Part("other_seeds", _other_seeds_share, other_seeds, when=lambda cfg: cfg.needs_replicates()),
    _view("weights", weights),
    _view("activations", activations),
    _view("occlusion", occlusion),
    Part("umap_compile", 0.0, wait_for_umap, when=_needs_umap_compile),
    _view("embeddings", embeddings),
    _view("top_images", top_images),
    _view("synthesis", synthesis),
)
