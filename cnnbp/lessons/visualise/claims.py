"""The "Visualizing CNNs" claims of lecture 004, each measured at a given seed in a few seconds on 2 cores.

The digits claims use the lesson's defaults; the occlusion claim uses shapes, where the object
masks are known (the lecture: the probability of the true class falls when the object is hidden).
"""

from __future__ import annotations

from cnnbp.claims import register_claim
from cnnbp.lessons.visualise.config import VisualiseConfig
from cnnbp.lessons.visualise.filters import SMOOTHER_BY, smoothness
from cnnbp.lessons.visualise.model import MODELS, Trained, load_data, one_thread, train
from cnnbp.lessons.visualise.parts import embedding_comparison, object_test_of
from cnnbp.train import RunControl


def digits(seed: int, **changes) -> VisualiseConfig:
    """The lesson's defaults at ``seed``."""
    return VisualiseConfig(seed=seed, **changes)


def shapes(seed: int) -> VisualiseConfig:
    # Shapes at 16x16 need wider convs and more epochs than digits to learn (about 80% test accuracy);
    # a 4-pixel window is a quarter of the image side, as the lecture's squares on ImageNet photos.
    return VisualiseConfig(seed=seed, dataset="shapes", width=16, epochs=8, window=4, stride=1, fill="grey")


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
    MODELS.put(state.settings, state)
    return state


@register_claim("visualise.occlusion_on_object", lesson="visualise", source="004",
                statement="occluding the object lowers the probability of the correct class more than "
                          "occluding the background")
def occlusion_on_object(seed: int) -> tuple[bool | None, str]:
    cfg = shapes(seed)
    t = trained(cfg)
    with one_thread():
        s, _ = object_test_of(t, load_data(cfg.dataset, seed=seed), window=cfg.window, stride=cfg.stride,
                              fill=cfg.fill)
    return s.object_matters_more, (
        f"shapes 16x16, {s.images} test images, 4x4 grey window (model test accuracy {t.test_accuracy[-1]:.0%}): "
        f"P(true) drops {s.object_drop:.3f} with the window on the object vs {s.background_drop:.3f} on the "
        f"background; {s.mass_inside:.0%} of the sensitivity on the object, which covers {s.object_area:.0%} "
        f"of the image; pointing game {s.pointing:.0%}")


@register_claim("visualise.embeddings_beat_pixels", lesson="visualise", source="004",
                statement="in a 2-D embedding of the penultimate features, images close together are similar "
                          "for the CNN (same class) rather than in pixels")
def embeddings_beat_pixels(seed: int) -> tuple[bool | None, str]:
    cfg = digits(seed, methods=["pca", "tsne"])
    t = trained(cfg)
    with one_thread():
        c = embedding_comparison(t, load_data(cfg.dataset, seed=seed), points=cfg.embed_points, methods=cfg.methods,
                                 seed=seed)
    return c.cnn_separates_better, ("5-NN accuracy in 2-D, digits test set: " + "; ".join(
        f"{m}: CNN {c.accuracy('cnn', m):.1%} vs pixels {c.accuracy('pixels', m):.1%}" for m in c.methods)
        + f" (chance {c.chance:.0%})")


@register_claim("visualise.filters_smoother", lesson="visualise", source="004",
                statement="trained first-layer filters are smooth; noisy ones mean the net needs more training")
def filters_smoother(seed: int) -> tuple[bool | None, str]:
    cfg = digits(seed)
    t = trained(cfg)
    s = smoothness(t.snapshots[0][1], t.snapshots[-1][1])
    rgb = trained(shapes(seed))  # for the record: RGB filters of the shapes model (the verdict is on digits)
    r = smoothness(rgb.snapshots[0][1], rgb.snapshots[-1][1])
    return s.smoother, (f"neighbour correlation of the 3x3 first-layer filters, digits: {s.init:.2f} at init, "
                        f"{s.trained:.2f} after {cfg.epochs} epochs (line: +{SMOOTHER_BY:g}); shapes RGB: "
                        f"{r.init:.2f} -> {r.trained:.2f} after {shapes(seed).epochs} epochs")
