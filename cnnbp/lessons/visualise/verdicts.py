"""The visualise lesson's verdicts: measured results in, one Verdict out (the wording and the lines).
The predicates live on the results (``Smoothness.smoother``, ``ObjectTest.object_matters_more``,
``Comparison.cnn_separates_better``), so the verdict, the figures and the claims read one test."""

from __future__ import annotations

from typing import Sequence

from cnnbp.lessons.base import Verdict
from cnnbp.lessons.visualise.embeddings import NEIGHBOURS, Comparison
from cnnbp.lessons.visualise.filters import SMOOTHER_BY, Smoothness
from cnnbp.lessons.visualise.occlusion import ObjectTest


def filters_smoother(s: Smoothness, *, shape: tuple[int, ...], after: str, image_size: tuple[int, int]) -> Verdict:
    return Verdict(
        label="trained filters are smoother", passed=s.smoother, claim="visualise.filters_smoother",
        text=(f"First-layer filters ({shape}): neighbour correlation {s.init:.2f} at init, {s.trained:.2f} after "
              f"{after} ({'smoother' if s.smoother else 'not smoother'} by our line of +{SMOOTHER_BY:g}). On "
              f"{image_size[0]}x{image_size[1]} images with 3x3 filters there is little room for smooth "
              "patterns; the lecture's AlexNet filters are 11x11."))


def imagenet_filters_smoother(s: Smoothness, *, shape: tuple[int, ...]) -> Verdict:
    return Verdict(
        label="trained filters are smoother", passed=s.smoother, claim="visualise.filters_smoother",
        text=(f"ResNet-18 conv1 ({shape}): neighbour correlation {s.init:.2f} for a Kaiming draw of the same shape, "
              f"{s.trained:.2f} after ImageNet training ({'smoother' if s.smoother else 'not smoother'} by our "
              f"line of +{SMOOTHER_BY:g})."))


def dead_filters(layers: Sequence[dict], *, images: int) -> Verdict:
    """``layers``: name, maps (one per channel), dead (channel indices)."""
    n_dead = sum(len(layer["dead"]) for layer in layers)
    return Verdict(
        label="dead filters",
        text=(f"Dead filters (output zero on all {images} test images at every position): "
              + ", ".join(f"{layer['name']} {len(layer['dead'])}/{len(layer['maps'])}" for layer in layers)
              + f"; {n_dead} in all."))


def occlusion_on_object(t: ObjectTest, *, window: int, stride: int, fill: str, mask_source: str) -> Verdict:
    said = lambda d: f"{d:.3f}" if d is not None else "nothing measurable"  # noqa: E731
    text = (f"Occlusion on {t.images} test images ({window}x{window} {fill} window, stride {stride}; object = "
            f"{mask_source}): P(true class) drops by {said(t.object_drop)} on average with the window on the object "
            f"({t.object_windows} windows) vs {said(t.background_drop)} on the background ({t.background_windows} "
            "windows). ")
    if t.mass_inside is not None:
        text += (f"{t.mass_inside:.0%} of the positive sensitivity falls on the object, which covers "
                 f"{t.object_area:.0%} of the image; the most sensitive pixel is on the object in "
                 f"{t.pointing:.0%} of the images.")
    if not t.comparable:
        text += " No window fell wholly on one side, so nothing is compared (change the window)."
    return Verdict(label="occluding the object", passed=t.object_matters_more, text=text,
                   claim="visualise.occlusion_on_object")


def embeddings_separate(c: Comparison) -> Verdict:
    parts = [f"{m}: {c.accuracy('cnn', m):.1%} vs {c.accuracy('pixels', m):.1%}" for m in c.methods]
    return Verdict(
        label="similar for the CNN, not in pixels", passed=c.cnn_separates_better,
        claim="visualise.embeddings_beat_pixels",
        text=(f"{NEIGHBOURS}-NN accuracy in the 2-D map of {len(c.labels)} test images, CNN features "
              f"({c.dims['cnn']}-d) vs raw pixels ({c.dims['pixels']}-d): " + "; ".join(parts)
              + f" (chance {c.chance:.0%}). The CNN's map separates the classes better in {len(c.cnn_wins)} of "
              f"{len(c.methods)} projections."))


def channel_top_images(labels: Sequence[str], activations: Sequence[float], *, layer: int, channel: int,
                       field: int) -> Verdict:
    """``labels``/``activations`` of the top images, strongest first."""
    # a tie goes to the strongest image's class (a set's order is per process)
    common = max(labels, key=list(labels).count)
    return Verdict(
        label="images that excite a channel",
        text=(f"conv{layer} channel {channel} (receptive field {field}x{field} px): its top {len(labels)} "
              f"test images peak at {activations[0]:.2f} .. {activations[-1]:.2f}; "
              f"{list(labels).count(common)} of {len(labels)} are class {common}."))


def synthesised(plain: dict, prior: dict, *, layer: int, channel: int, steps: int, best: float) -> Verdict:
    """``plain``/``prior``: the synthesis numbers (activation per step, roughness) without and with the prior."""
    return Verdict(
        label="synthesised images",
        text=(f"Gradient ascent on the pixels for conv{layer} channel {channel}, {steps} steps: "
              f"mean output {plain['activation'][-1]:.2f} without a prior (roughness {plain['roughness']:.2f}), "
              f"{prior['activation'][-1]:.2f} with jitter/blur/L2 (roughness {prior['roughness']:.2f}); roughness is "
              "about 1 for white noise, near 0 for smooth images. (The best test image's strongest unit: "
              f"{best:.2f}.)"))
