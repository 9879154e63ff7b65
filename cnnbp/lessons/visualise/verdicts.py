"""The visualise lesson's verdicts: measured results in, one Verdict out (the wording).

The predicates live on the results (``Smoothing.smoother``, ``ObjectEffect.object_matters_more``,
``Comparison.cnn_separates_better``), so the verdict and the claims read one test; each line is a
95% interval over repeats (models at other seeds, or test points) against 0 (``estimate.py``)."""

from __future__ import annotations

from typing import Sequence

from cnnbp.lessons.base import Verdict
from cnnbp.lessons.visualise.embeddings import NEIGHBOURS, Comparison
from cnnbp.lessons.visualise.estimate import Estimate
from cnnbp.lessons.visualise.explain import AGREEMENT_CELLS, Agreement, PhotoOcclusion, SanityCheck
from cnnbp.lessons.visualise.filters import Smoothing
from cnnbp.lessons.visualise.occlusion import ObjectEffect

# What a verdict says when one model (or one random draw) gives no spread to decide by.
ONE_MODEL = ("One model cannot tell: this varies from model to model (seed to seed) more than the line allows, so "
             "set models to 3 or more to decide.")


def _seeds(first: int, n: int) -> str:
    return f"seed {first}" if n == 1 else f"seeds {first}-{first + n - 1}"


def _decided(passed: bool | None, e: Estimate, *, yes: str, no: str) -> str:
    """A sentence for an estimate's 95% interval against 0 (``yes``/``no``: when it is all above/below)."""
    if e.n == 1:
        return ONE_MODEL
    if passed is None:
        return "Its 95% interval holds 0: too close to call."
    return f"{yes if passed else no} (the whole 95% interval is {'above' if passed else 'below'} 0)."


def filters_smoother(s: Smoothing, *, shape: tuple[int, ...], after: str, image_size: tuple[int, int],
                     seed: int) -> Verdict:
    n = len(s.init)
    text = (f"First-layer filters ({shape}), {n} model{'s' * (n > 1)} trained alike ({_seeds(seed, n)}): neighbour "
            f"correlation {sum(s.init) / n:.2f} at init, {sum(s.trained) / n:.2f} after {after}, a change of "
            f"{s.change.said()}. "
            + _decided(s.smoother, s.change, yes="Training made them smoother", no="Training made them rougher")
            + " For scale: about 0 (a little below for 3x3) is independent random weights, 1 perfectly smooth; on "
            f"{image_size[0]}x{image_size[1]} images with 3x3 filters there is little room for smooth patterns, "
            "the lecture's AlexNet filters are 11x11.")
    return Verdict(label="trained filters are smoother", passed=s.smoother, claim="visualise.filters_smoother",
                   text=text, headline=(f"neighbour correlation {sum(s.init) / n:.2f} at init, "
                                        f"{sum(s.trained) / n:.2f} trained"))


def imagenet_filters_smoother(s: Smoothing, *, shape: tuple[int, ...], network: str = "ResNet-18 conv1",
                              after: str = "after ImageNet training") -> Verdict:
    """``s``: a trained network's filters (ImageNet's, a model file's) against Kaiming draws of the same
    shape (one per seed)."""
    n = len(s.init)
    text = (f"{network} ({shape}): neighbour correlation {s.trained[0]:.2f} {after}, "
            f"{sum(s.init) / n:.2f} for {n} Kaiming draw{'s' * (n > 1)} of the same shape, a difference of "
            f"{s.change.said()}. " + _decided(s.smoother, s.change, yes="Smoother than random weights",
                                               no="Rougher than random weights"))
    return Verdict(label="trained filters are smoother", passed=s.smoother, claim="visualise.filters_smoother",
                   text=text, headline=(f"neighbour correlation {s.trained[0]:.2f} trained, {sum(s.init) / n:.2f} "
                                        "random"))


def dead_filters(layers: Sequence[dict], *, images: int) -> Verdict:
    """``layers``: name, maps (one per channel), dead (channel indices)."""
    n_dead = sum(len(layer["dead"]) for layer in layers)
    return Verdict(
        label="dead filters",
        headline=f"{n_dead} dead filters: " + ", ".join(f"{layer['name']} {len(layer['dead'])}/{len(layer['maps'])}"
                                                         for layer in layers),
        text=(f"Dead filters (output zero on all {images} test images at every position): "
              + ", ".join(f"{layer['name']} {len(layer['dead'])}/{len(layer['maps'])}" for layer in layers)
              + f"; {n_dead} in all."))


def occlusion_on_object(o: ObjectEffect, *, window: int, stride: int, fill: str, mask_source: str,
                        seed: int) -> Verdict:
    said = lambda d: f"{d:.3f}" if d is not None else "nothing measurable"  # noqa: E731
    t = o.tests[0]
    text = (f"Occlusion on {t.images} test images ({window}x{window} {fill} window, stride {stride}; object = "
            f"{mask_source}): P(true class) drops by {said(t.object_drop)} on average with the window on the object "
            f"({t.object_windows} windows) vs {said(t.background_drop)} on the background ({t.background_windows} "
            "windows). ")
    if t.mass_inside is not None:
        text += (f"{t.mass_inside:.0%} of the positive sensitivity falls on the object, which covers "
                 f"{t.object_area:.0%} of the image; the most sensitive pixel is on the object in "
                 f"{t.pointing:.0%} of the images. ")
    e = o.effect
    if e is None:
        text += "No window fell wholly on one side, so nothing is compared (change the window)."
    else:
        text += (f"The extra drop with the window on the object rather than the background, over {e.n} "
                 f"model{'s' * (e.n > 1)} ({_seeds(seed, len(o.tests))}): {e.said()}. "
                 + _decided(o.object_matters_more, e, yes="The object matters more",
                            no="The background matters more"))
    if fill == "grey" and "ink" in mask_source:
        text += " (The digits' background is black: a grey window there adds grey ink rather than hiding nothing.)"
    return Verdict(label="occluding the object", passed=o.object_matters_more, text=text,
                   headline=(f"P(true class) drops {said(t.object_drop)} on the object, {said(t.background_drop)} "
                             "on the background"),
                   claim="visualise.occlusion_on_object")


def embeddings_separate(c: Comparison) -> Verdict:
    def gain(m: str) -> str:
        g = c.gain(m)
        return (f"{m}: {c.accuracy('cnn', m):.1%} vs {c.accuracy('pixels', m):.1%} "
                f"({g.mean * 100:+.1f} ± {g.half_width * 100:.1f} points)")

    decided = {m: c.gain(m).positive for m in c.methods}
    better = [m for m, d in decided.items() if d]
    close = [m for m, d in decided.items() if d is None]
    text = (f"{NEIGHBOURS}-NN accuracy in the 2-D map of {len(c.labels)} test images, CNN features "
            f"({c.dims['cnn']}-d) vs raw pixels ({c.dims['pixels']}-d), with the 95% interval of the difference over "
            "the images: " + "; ".join(gain(m) for m in c.methods) + f" (chance {c.chance:.0%}). The CNN's map "
            f"separates the classes better in {len(better)} of {len(c.methods)} projections")
    text += f"; too close to call in {', '.join(close)} (more points would tell)." if close else "."
    headline = f"{NEIGHBOURS}-NN in 2-D: " + "; ".join(
        f"{m} CNN {c.accuracy('cnn', m):.0%}, pixels {c.accuracy('pixels', m):.0%}" for m in c.methods)
    return Verdict(label="similar for the CNN, not in pixels", passed=c.cnn_separates_better, text=text,
                   headline=headline,
                   claim="visualise.embeddings_beat_pixels")


def channel_top_images(labels: Sequence[str], activations: Sequence[float], *, share: dict[str, float], layer: int,
                       channel: int, field: int) -> Verdict:
    """``labels``/``activations`` of the top images, strongest first; ``share``: each class's share
    of the test images searched (what chance alone would give)."""
    # a tie goes to the strongest image's class (a set's order is per process)
    common = max(labels, key=list(labels).count)
    return Verdict(
        label="images that excite a channel",
        headline=(f"{list(labels).count(common)} of the top {len(labels)} are class {common} (chance "
                  f"{share[common] * len(labels):.1f} of {len(labels)})"),
        text=(f"conv{layer} channel {channel} (receptive field {field}x{field} px): its top {len(labels)} "
              f"test images peak at {activations[0]:.2f} .. {activations[-1]:.2f}; "
              f"{list(labels).count(common)} of {len(labels)} are class {common}, which is {share[common]:.0%} of the "
              f"test images ({share[common] * len(labels):.1f} of {len(labels)} expected by chance). One channel "
              "of one model, observed: not a test."))


def synthesised(plain: dict, prior: dict, *, layer: int, channel: int, steps: int, best: float) -> Verdict:
    """``plain``/``prior``: the synthesis numbers (activation per step, roughness) without and with the prior."""
    return Verdict(
        label="synthesised images",
        headline=(f"mean output {plain['activation'][-1]:.2f} without a prior, {prior['activation'][-1]:.2f} with; "
                  f"roughness {plain['roughness']:.2f} vs {prior['roughness']:.2f}"),
        text=(f"Gradient ascent on the pixels for conv{layer} channel {channel}, {steps} steps: "
              f"mean output {plain['activation'][-1]:.2f} without a prior (roughness {plain['roughness']:.2f}), "
              f"{prior['activation'][-1]:.2f} with jitter/blur/L2 (roughness {prior['roughness']:.2f}); roughness is "
              "about 1 for white noise, near 0 for smooth images. (The best test image's strongest unit: "
              f"{best:.2f}.)"))


# ---- the ImageNet network on a photo -----------------------------------------------------------

def imagenet_top1(top5: Sequence[dict], *, photo: str) -> Verdict:
    rest = ", ".join(f"{t['class']} {t['probability']:.2f}" for t in top5[1:])
    return Verdict(label="ImageNet top-1", headline=f"top-1: {top5[0]['class']} ({top5[0]['probability']:.2f})",
                   text=f"EfficientNet-Lite0 on {photo}: top-1 {top5[0]['class']} "
                   f"(probability {top5[0]['probability']:.2f}); then {rest}.")


def photo_occlusion_hottest(o: PhotoOcclusion, *, name: str, photo: str) -> Verdict:
    """An observation: no line was fixed before running for how concentrated the map should be."""
    t, left = o.hottest
    mass = "no positive sensitivity" if o.hottest_mass is None else (
        f"{o.hottest_mass:.0%} of the positive sensitivity lies in it, which covers {o.hottest_area:.0%} of the image")
    return Verdict(label="occlusion: the hottest window",
                   headline=(f"P({name}) {o.base:.2f} -> {float(o.p_class.min()):.2f} with the window at rows "
                             f"{t}-{t + o.window - 1}, columns {left}-{left + o.window - 1}"),
                   text=f"{photo}, {o.positions} positions of a {o.window}px grey window (stride {o.stride}): "
                        f"P({name}) {o.base:.2f} unoccluded falls most, to {float(o.p_class.min()):.2f}, with the "
                        f"window at rows {t}-{t + o.window - 1}, columns {left}-{left + o.window - 1}; {mass}. "
                        "An observation (no line fixed in advance for one photo).")


def cam_agreement(a: Agreement, *, name: str) -> Verdict:
    return Verdict(label="Grad-CAM vs occlusion", headline=(
        f"Grad-CAM vs occlusion: Spearman {a.spearman:.2f}, top-10% overlap {a.top_overlap:.0%}"), text=(
        f"For {name}, on {AGREEMENT_CELLS}x{AGREEMENT_CELLS} cells: Spearman {a.spearman:.2f} between the occlusion "
        f"map and Grad-CAM (1: the same ranking, 0: unrelated); {a.top_overlap:.0%} of occlusion's top-10% cells are "
        "among Grad-CAM's. Two methods asking different questions (what hiding a patch costs vs where the last "
        "stage's gradient-weighted features sit) need not agree; reported, not judged."))


def cam_randomisation(c: SanityCheck) -> Verdict:
    steps = "; ".join(f"{s}: {r:.2f}" for s, r in zip(c.steps, c.correlations))
    return Verdict(label="Grad-CAM changes when the weights are randomised", passed=c.map_changes,
                   headline=(f"Spearman with the trained map: {c.correlations[0]:.2f} -> {c.correlations[-1]:.2f} as "
                             "layers are randomised"), text=(
        f"Grad-CAM of a copy whose top layers are redrawn at random (cumulative), Spearman with the trained "
        f"network's map: {steps}. The line, fixed before running: below {c.line} once the head and the last "
        f"stages are random. " + ("It is: the map depends on the learned weights, so it explains the model."
                                  if c.map_changes else "It is not: the map barely depends on the learned weights.")))


def model_explained(trained, rows: Sequence[dict], *, dataset: str, test_images: int) -> Verdict:
    """A note: how good the model is that the maps explain, and which of the shown examples it gets right
    (a map of a misclassified image explains a mistake)."""
    shown = [r for r in rows if r.get("right") is not None]
    wrong = [f"#{r['index']} ({r['true']} taken for {r['pred']})" for r in shown if not r["right"]]
    return Verdict(label="the model explained", passed=None,
                   headline=(f"test accuracy {trained.test_accuracy[-1]:.1%}; {len(shown) - len(wrong)} of "
                             f"{len(shown)} examples right"),
                   text=f"Test accuracy of the CNN these maps explain: {trained.test_accuracy[-1]:.1%} on the "
                        f"{test_images} test images of {dataset}. Of the {len(shown)} examples shown, "
                        f"{len(shown) - len(wrong)} are classified right"
                        + (f"; wrong: {', '.join(wrong)} (their maps explain a mistake)." if wrong else "."))


def imagenet_embedding(c: Comparison, imagenet: Sequence, *, dataset: str) -> Verdict:
    """A note: k-NN accuracy and trustworthiness of the ImageNet network's features in 2-D beside the
    small CNN's and the pixels' (``imagenet``: its projections, one per method)."""
    parts = [f"{p.method}: ImageNet {p.knn_accuracy:.1%} (trust {p.trustworthiness:.2f}), small CNN "
             f"{c.accuracy('cnn', p.method):.1%}, pixels {c.accuracy('pixels', p.method):.1%}" for p in imagenet]
    return Verdict(label="ImageNet features in 2-D", passed=None,
                   headline=f"{NEIGHBOURS}-NN in 2-D: " + "; ".join(
                       f"{p.method} ImageNet {p.knn_accuracy:.0%}, CNN {c.accuracy('cnn', p.method):.0%}"
                       for p in imagenet),
                   text=f"{NEIGHBOURS}-NN accuracy in the 2-D map of {len(c.labels)} {dataset} test images, the "
                        "ImageNet EfficientNet-Lite0's pooled features (never trained on this set) against the small "
                        f"CNN trained on it and the raw pixels: " + "; ".join(parts) + ".")


def imagenet_top_images(labels: Sequence[str], activations: Sequence[float], *, share: dict[str, float], stage: str,
                        channel: int, searched: str, at_top: int = 1) -> Verdict:
    """A note: which classes the top images of an ImageNet channel come from, against chance (``at_top``:
    how many images share the largest peak; past k the top-k among them is by index, not by the channel)."""
    common = max(labels, key=list(labels).count)
    n, hits = len(labels), list(labels).count(common)
    tied = (f" {at_top} images reach the same peak {activations[0]:.2f} (ReLU6's ceiling is 6): the {n} shown "
            "are the first of them by index, not the channel's choice." if at_top > n else "")
    return Verdict(
        label="images that excite an ImageNet channel", passed=None,
        headline=f"{stage} ch {channel}: {hits} of {n} top images {common} ({share[common] * n:.1f} by chance)",
        text=(f"EfficientNet-Lite0 {stage}, channel {channel}, over {searched}: its top {n} peak at "
              f"{activations[0]:.2f} .. {activations[-1]:.2f}; {hits} of {n} are {common}, {share[common]:.0%} of "
              f"the images searched ({share[common] * n:.1f} of {n} expected by chance). These are not ImageNet's "
              "kind of photo: a channel tuned to fur or sky finds only its nearest stand-in here." + tied
              + " One channel, observed: not a test."))
