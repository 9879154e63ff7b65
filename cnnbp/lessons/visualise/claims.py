"""The "Visualizing CNNs" claims of lecture 004, each measured from a given seed.

The filter and occlusion claims are decided over the lesson's default number of models, trained
alike at seeds seed, seed+1, ... (the effect varies from model to model), the embedding claim over
the test images of one model. The digits claims use the lesson's defaults; the occlusion claim uses
shapes, where the object masks are known (the lecture: the probability of the true class falls
when the object is hidden).
"""

from __future__ import annotations

from cnnbp.claims import register_claim
from cnnbp.data import dataset_label
from cnnbp.lessons.visualise.config import VisualiseConfig
from cnnbp.lessons.visualise.filters import smoothing
from cnnbp.lessons.visualise.model import Trained, at_seeds, load_data, one_thread, trained_model
from cnnbp.lessons.visualise.occlusion import ObjectEffect
from cnnbp.lessons.visualise.parts import embedding_comparison, object_test_of
from cnnbp.train import RunControl


def shapes(seed: int) -> VisualiseConfig:
    # Shapes at 16x16 need wider convs and more epochs than digits to learn (about 80% test accuracy);
    # a 4-pixel window is a quarter of the image side, as the lecture's squares on ImageNet photos.
    return VisualiseConfig(seed=seed, dataset="shapes", width=16, epochs=8, window=4, stride=1, fill="grey")


def trained(cfg: VisualiseConfig, *, budget_s: float | None = None) -> Trained:
    """The model of ``cfg``'s training settings, from the lesson's cache or trained now (within the
    default wall budget, or ``budget_s``)."""
    control = RunControl() if budget_s is None else RunControl(budget_s=budget_s)
    model = trained_model(load_data(cfg.dataset, seed=cfg.seed), cfg.train_settings(), control)
    if model is None:  # a half-trained model must neither be measured nor cached as these settings' model
        raise RuntimeError(f"training the {dataset_label(cfg.dataset)} model {control.stop_reason()}")
    return model


def at_each_seed(cfg: VisualiseConfig) -> list[VisualiseConfig]:
    """``cfg`` at the seeds its verdicts are decided over."""
    return [cfg.model_copy(update={"seed": s.seed}) for s in at_seeds(cfg.train_settings(), cfg.models)]


@register_claim("visualise.occlusion_on_object", lesson="visualise", source="004",
                lecture="occluding the object hurts more",
                statement="occluding the object lowers the probability of the correct class more than "
                          "occluding the background")
def occlusion_on_object(seed: int) -> tuple[bool | None, str]:
    tests, accuracy = [], []
    for cfg in at_each_seed(shapes(seed)):
        t = trained(cfg)
        with one_thread():
            test, _ = object_test_of(t, load_data(cfg.dataset, seed=cfg.seed), window=cfg.window,
                                     stride=cfg.stride, fill=cfg.fill)
        tests.append(test)
        accuracy.append(t.test_accuracy[-1])
    o = ObjectEffect(tests)
    return o.object_matters_more, (
        f"shapes 16x16, {tests[0].images} test images per model, 4x4 grey window, {len(tests)} models (seeds "
        f"{seed}-{seed + len(tests) - 1}, test accuracy {min(accuracy):.0%}-{max(accuracy):.0%}): hiding the object "
        f"lowers P(true) by {o.effect.said()} (95%) more than hiding the background; per model: "
        + ", ".join(f"{d:+.3f}" for d in o.extra_drops))


@register_claim("visualise.embeddings_beat_pixels", lesson="visualise", source="004",
                lecture="CNN neighbours alike for the CNN, not in pixels",
                statement="in a 2-D embedding of the penultimate features, images close together are similar "
                          "for the CNN (same class) rather than in pixels")
def embeddings_beat_pixels(seed: int) -> tuple[bool | None, str]:
    cfg = VisualiseConfig(seed=seed, methods=["pca", "tsne"])
    t = trained(cfg)
    with one_thread():
        c = embedding_comparison(t, load_data(cfg.dataset, seed=seed), points=cfg.embed_points, methods=cfg.methods,
                                 seed=seed)
    return c.cnn_separates_better, ("5-NN accuracy in 2-D, digits test set: " + "; ".join(
        f"{m}: CNN {c.accuracy('cnn', m):.1%} vs pixels {c.accuracy('pixels', m):.1%} "
        f"(difference {c.gain(m).said('+.3f')})" for m in c.methods) + f" (chance {c.chance:.0%})")


@register_claim("visualise.filters_smoother", lesson="visualise", source="004",
                lecture="trained first-layer filters are smooth",
                statement="trained first-layer filters are smooth; noisy ones mean the net needs more training")
def filters_smoother(seed: int) -> tuple[bool | None, str]:
    digits = [trained(cfg) for cfg in at_each_seed(VisualiseConfig(seed=seed))]
    s = smoothing([(t.snapshots[0][1], t.snapshots[-1][1]) for t in digits])
    return s.smoother, (f"neighbour correlation of the 3x3 first-layer filters, digits, {len(digits)} models (seeds "
                        f"{seed}-{seed + len(digits) - 1}): {sum(s.init) / len(s.init):.2f} at init, "
                        f"{sum(s.trained) / len(s.trained):.2f} after {digits[0].settings.epochs} epochs; change "
                        f"{s.change.said()} (95%)")


# The same claims on real images, beside the toy ones: the shipped MNIST at 28x28, where a 5x5 first-layer
# kernel (the lecture's AlexNet has 11x11 on 224 px) has room to be smooth or noisy, and where the ink is the
# object to occlude.
def mnist(seed: int) -> VisualiseConfig:
    # 1 epoch of the 8,000 training images (125 steps); a 7-pixel window is a quarter of the side
    return VisualiseConfig(seed=seed, dataset="mnist", kernel=5, epochs=1, window=7, stride=3, fill="grey")


def trained_mnist(cfg: VisualiseConfig) -> Trained:
    return trained(cfg, budget_s=float("inf"))  # a claim runs to its end: 28x28 takes minutes on a loaded machine


@register_claim("visualise.filters_smoother_mnist", lesson="visualise", source="004",
                lecture="trained first-layer filters are smooth",
                statement="on real images (MNIST 28x28, 5x5 first-layer kernels): trained first-layer filters are "
                          "smoother than at init")
def filters_smoother_mnist(seed: int) -> tuple[bool | None, str]:
    models = [trained_mnist(cfg) for cfg in at_each_seed(mnist(seed))]
    s = smoothing([(t.snapshots[0][1], t.snapshots[-1][1]) for t in models])
    accuracy = [t.test_accuracy[-1] for t in models]
    return s.smoother, (f"neighbour correlation of the 5x5 first-layer filters, MNIST 28x28, {len(models)} models "
                        f"(seeds {seed}-{seed + len(models) - 1}, test accuracy {min(accuracy):.0%}-"
                        f"{max(accuracy):.0%}): {sum(s.init) / len(s.init):.2f} at init, "
                        f"{sum(s.trained) / len(s.trained):.2f} after "
                        f"{models[0].settings.epochs} epochs; change {s.change.said()} (95%)")


@register_claim("visualise.occlusion_on_object_mnist", lesson="visualise", source="004",
                lecture="occluding the object hurts more",
                statement="on real images (MNIST 28x28, the ink as the object): occluding the object lowers the "
                          "probability of the correct class more than occluding the background")
def occlusion_on_object_mnist(seed: int) -> tuple[bool | None, str]:
    tests, accuracy = [], []
    for cfg in at_each_seed(mnist(seed)):
        t = trained_mnist(cfg)
        with one_thread():
            test, source = object_test_of(t, load_data(cfg.dataset, seed=cfg.seed), window=cfg.window,
                                          stride=cfg.stride, fill=cfg.fill)
        tests.append(test)
        accuracy.append(t.test_accuracy[-1])
    o = ObjectEffect(tests)
    return o.object_matters_more, (
        f"MNIST 28x28 (object: {source}), {tests[0].images} test images per model, 7x7 grey window, stride 3, "
        f"{len(tests)} models (seeds {seed}-{seed + len(tests) - 1}, test accuracy {min(accuracy):.0%}-"
        f"{max(accuracy):.0%}): hiding the object lowers P(true) by {o.effect.said()} (95%) more than hiding the "
        "background; per model: " + ", ".join(f"{d:+.3f}" for d in o.extra_drops))
