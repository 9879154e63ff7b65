"""The "Visualizing CNNs" claims of lecture 004, each measured at seed 0 in a few seconds on 2 cores.

The digits claims use the lesson's defaults; the occlusion claim uses shapes, where the object
masks are known (the lecture: the probability of the true class falls when the object is hidden).
"""

from __future__ import annotations

from cnnbp.claims import register_claim
from cnnbp.lessons.visualise.lesson import SMOOTHER_BY, VisualiseConfig, embeddings_part, occlusion_part, one_thread
from cnnbp.lessons.visualise.filters import neighbour_correlation
from cnnbp.lessons.visualise.model import MODELS, Trained, load_data, train
from cnnbp.train import RunControl

DEFAULTS = VisualiseConfig()
# Shapes at 16x16 need wider convs and more epochs than digits to learn (about 80% test accuracy);
# a 4-pixel window is a quarter of the image side, as the lecture's squares on ImageNet photos.
SHAPES = VisualiseConfig(dataset="shapes", width=16, epochs=8, window=4, stride=1, fill="grey")


def trained(cfg: VisualiseConfig) -> Trained:
    """The model of ``cfg``'s training settings, from the lesson's cache or trained now."""
    hit = MODELS.get(cfg.train_settings())
    if hit is not None:
        return hit
    state, control = None, RunControl()
    for _, state in train(load_data(cfg.dataset, seed=cfg.seed), cfg.train_settings(), control):
        pass
    if control.stop_reason():  # a half-trained model must neither be measured nor cached as these settings' model
        raise RuntimeError(f"training the {cfg.dataset} model {control.stop_reason()}")
    MODELS.put(state)
    return state


@register_claim("visualise.occlusion_on_object", lesson="visualise", source="004",
                statement="occluding the object lowers the probability of the correct class more than "
                          "occluding the background")
def occlusion_on_object() -> tuple[bool, str]:
    t = trained(SHAPES)
    with one_thread():
        s = occlusion_part(SHAPES, t, load_data("shapes", seed=0), None).numbers["occlusion"]["summary"]
    return s["object_drop"] > s["background_drop"], (
        f"shapes 16x16, {s['images']} test images, 4x4 grey window (model test accuracy {t.test_accuracy[-1]:.0%}): "
        f"P(true) drops {s['object_drop']:.3f} with the window on the object vs {s['background_drop']:.3f} on the "
        f"background; {s['mass_inside']:.0%} of the sensitivity on the object, which covers {s['object_area']:.0%} "
        f"of the image; pointing game {s['pointing']:.0%}")


@register_claim("visualise.embeddings_beat_pixels", lesson="visualise", source="004",
                statement="in a 2-D embedding of the penultimate features, images close together are similar "
                          "for the CNN (same class) rather than in pixels")
def embeddings_beat_pixels() -> tuple[bool, str]:
    cfg = DEFAULTS.model_copy(update={"methods": ["pca", "tsne"]})
    t = trained(cfg)
    with one_thread():
        entries = embeddings_part(cfg, t, load_data("digits", seed=0), None).numbers["embeddings"]
    acc = {(e["features"], e["method"]): e["knn_accuracy"] for e in entries["projections"]}
    passed = all(acc[("cnn", m)] > acc[("pixels", m)] for m in cfg.methods)
    return passed, ("5-NN accuracy in 2-D, digits test set: " + "; ".join(
        f"{m}: CNN {acc[('cnn', m)]:.1%} vs pixels {acc[('pixels', m)]:.1%}" for m in cfg.methods)
        + f" (chance {entries['chance']:.0%})")


@register_claim("visualise.filters_smoother", lesson="visualise", source="004",
                statement="trained first-layer filters are smooth; noisy ones mean the net needs more training")
def filters_smoother() -> tuple[bool, str]:
    t = trained(DEFAULTS)
    s0, s1 = neighbour_correlation(t.snapshots[0][1]), neighbour_correlation(t.snapshots[-1][1])
    shapes = trained(SHAPES)  # for the record: RGB filters of the shapes model (the verdict is on digits)
    r0, r1 = neighbour_correlation(shapes.snapshots[0][1]), neighbour_correlation(shapes.snapshots[-1][1])
    return s1 - s0 >= SMOOTHER_BY, (f"neighbour correlation of the 3x3 first-layer filters, digits: {s0:.2f} at init, "
                                     f"{s1:.2f} after {DEFAULTS.epochs} epochs (line: +{SMOOTHER_BY:g}); shapes RGB: "
                                     f"{r0:.2f} -> {r1:.2f} after {SHAPES.epochs} epochs")
