"""The visualise lesson's parts on the packaged ImageNet EfficientNet-Lite0 (``model="efficientnet_lite0_imagenet"``):
the photo and its top-5, the first-layer filters, feature maps per stage with their all-zero channels,
then occlusion (coarse map first, refined second) beside Grad-CAM with the randomisation check, and the
images of a shipped set that most excite a chosen channel (:mod:`.imagenet_top`).

``photo_setup`` leaves ``state.net`` (the shared network, read only), ``state.x`` (the network input),
``state.x01`` (the same in [0, 1]), ``state.what`` and ``state.top5`` for the others.
"""

from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F

from cnnbp.data import photos
from cnnbp.data.uploads import load_image
from cnnbp.lessons.base import RunState, Update
from cnnbp.lessons.visualise import explain as ex
from cnnbp.lessons.visualise import figures as figs
from cnnbp.lessons.visualise import imagenet_top as top
from cnnbp.lessons.visualise import verdicts
from cnnbp.lessons.visualise.config import PHOTO_SIZE
from cnnbp.lessons.visualise.filters import neighbour_correlation
from cnnbp.lessons.visualise.model import one_thread
from cnnbp.nn import imagenet

SHOWN_CHANNELS = 8  # feature maps drawn per stage (all are counted)
SHOWN_SIZE = 28  # drawn maps pooled to at most this many pixels a side


def photo_setup(state: RunState) -> Iterator[Update]:
    cfg = state.cfg
    with one_thread():
        state.net = imagenet.network()
        if cfg.image:  # an upload, resized whole (no crop) to the network's input
            state.x01 = load_image(cfg.image, channels=3, size=(PHOTO_SIZE, PHOTO_SIZE))
            state.x, state.what = ex.from_unit(state.x01), "your upload"
        else:
            state.x = imagenet.preprocess(photos.load_photo(cfg.photo))
            state.x01, state.what = ex.to_unit(state.x), cfg.photo
        state.top5 = imagenet.top_k(state.x, 5, model=state.net)
    top5 = [{"class": n, "probability": p, "index": i} for n, p, i in state.top5]
    yield Update(1.0, f"{state.what}: top-1 {top5[0]['class']} ({top5[0]['probability']:.2f})",
                 tables={"occlusion": figs.top5_table(top5, photo=state.what)},
                 verdicts=[verdicts.imagenet_top1(top5, photo=state.what)],
                 numbers={"imagenet": {"photo": state.what, "top5": top5}})


def photo_filters(state: RunState) -> Iterator[Update]:
    w = state.net.conv_stem.weight.detach().contiguous().clone()  # (32, 3, 3, 3)
    smooth = neighbour_correlation(w)
    yield Update(1.0, f"EfficientNet-Lite0 first-layer filters {tuple(w.shape)}",
                 figures={"filters": figs.efficientnet_filters_figure(w.tolist(), smoothness=smooth)},
                 numbers={"filters": {"model": "efficientnet_lite0_imagenet", "shape": list(w.shape),
                                      "trained": smooth, "weights": w.tolist()}})


def photo_features(state: RunState) -> Iterator[Update]:
    with one_thread():
        outs = ex.stage_outputs(state.net, state.x)
    stages = []
    for name, m in outs.items():
        shown = m[:SHOWN_CHANNELS]
        if shown.shape[-1] > SHOWN_SIZE:
            shown = F.adaptive_avg_pool2d(shown, SHOWN_SIZE)
        stages.append({"name": ex.STAGE_LABELS.get(name, name), "module": name, "channels": int(m.shape[0]),
                       "size": list(m.shape[1:]), "zero": len(ex.dead_channels(m)), "scale": float(m.max()),
                       "maps": shown.tolist()})
    zero = {s["module"]: s["zero"] for s in stages}
    yield Update(1.0, f"feature maps of {state.what} at {len(stages)} stages; all-zero channels {zero}",
                 figures={"feature_maps": figs.imagenet_feature_maps_figure(state.x01.tolist(), stages,
                                                                            what=state.what)},
                 tables={"dead": figs.zero_channels_table(stages)},
                 numbers={"feature_maps": {"image": state.what, "stages": stages}})


def photo_occlusion(state: RunState) -> Iterator[Update]:
    """Coarse occlusion and Grad-CAM at once, then the refined map, the agreement and the sanity check."""
    cfg, net = state.cfg, state.net
    name, _, target = state.top5[0]
    (cw, cs), (w, s) = cfg.photo_windows()
    layer = dict(net.named_modules())["bn2"]
    with one_thread():
        coarse = ex.occlude(net, state.x01, target, window=cw, stride=cs)
        cam = ex.grad_cam(net, layer, state.x, target)
    cam_up = ex.upsample(cam, PHOTO_SIZE)
    numbers = {"class": name, "index": target, "coarse": _occ_numbers(coarse), "grad_cam": cam.tolist()}
    yield Update(0.2, f"coarse occlusion ({coarse.positions} positions, {coarse.seconds:.1f} s) and Grad-CAM; "
                      f"refining to {cfg.photo_positions()[1]} positions",
                 figures={"occlusion": figs.photo_explanation_figure(
                     state.x01.tolist(), name=name, coarse=_occ_numbers(coarse), refined=None,
                     cam=cam_up.tolist(), randomised=None)},
                 numbers={"photo_occlusion": numbers})
    with one_thread():
        refined = ex.occlude(net, state.x01, target, window=w, stride=s)
        agree = ex.agreement(refined.attribution, cam, PHOTO_SIZE)
        check = ex.sanity_check(cam, state.x, target, seed=cfg.seed)
    numbers.update(refined=_occ_numbers(refined), agreement=vars(agree),
                   sanity={"steps": check.steps, "correlations": check.correlations, "line": check.line,
                           "map_changes": check.map_changes})
    randomised = ex.upsample(torch.from_numpy(check.maps[-1]), PHOTO_SIZE)
    yield Update(1.0, f"refined occlusion: {refined.positions} positions in {refined.seconds:.1f} s; Grad-CAM vs "
                      f"occlusion Spearman {agree.spearman:.2f}",
                 figures={"occlusion": figs.photo_explanation_figure(
                     state.x01.tolist(), name=name, coarse=_occ_numbers(coarse), refined=_occ_numbers(refined),
                     cam=cam_up.tolist(), randomised=randomised.tolist(), randomised_label=check.steps[-1])},
                 verdicts=[verdicts.photo_occlusion_hottest(refined, name=name, photo=state.what),
                           verdicts.cam_agreement(agree, name=name),
                           verdicts.cam_randomisation(check)],
                 numbers={"photo_occlusion": numbers})


def _occ_numbers(o: ex.PhotoOcclusion) -> dict:
    return {"window": o.window, "stride": o.stride, "tops": o.tops, "lefts": o.lefts, "positions": o.positions,
            "p_class": o.p_class.tolist(), "base": o.base, "hottest": list(o.hottest), "hottest_mass": o.hottest_mass,
            "hottest_area": o.hottest_area, "seconds": o.seconds}


def photo_top_images(state: RunState) -> Iterator[Update]:
    """The top-k images of the chosen set for the chosen stage and channel, with their receptive-field crops."""
    cfg = state.cfg
    cached = top.is_cached(cfg.top_set, seed=cfg.seed)
    with one_thread():
        searched = top.searched_set(cfg.top_set, seed=cfg.seed)
        found = top.top_images(searched, cfg.photo_stage, cfg.photo_channel, cfg.top_k)
    pixels = top.shown(searched.images[[it.index for it in found]])
    items = []
    for it, image in zip(found, pixels):
        t, left, bottom, right = it.box
        items.append({"index": it.index, "label": it.label, "activation": it.activation, "unit": list(it.unit),
                      "box": list(it.box), "image": image.tolist(),
                      "crop": image[:, t:bottom + 1, left:right + 1].tolist()})
    peaks = searched.peaks[cfg.photo_stage].values[:, cfg.photo_channel]
    at_top = int((peaks == peaks.max()).sum())  # ties at the top (ReLU6's ceiling of 6 at the head): ordered by index
    counts = {name: searched.labels.count(name) for name in sorted(set(searched.labels))}
    share = {name: c / len(searched.labels) for name, c in counts.items()}
    unit = dict(stage=top.stage_label(cfg.photo_stage), channel=cfg.photo_channel,
                searched=f"{len(searched.labels):,} {cfg.top_set} test images at {top.TOP_SIZE} px")
    how = "from the cache" if cached else f"one forward over the set in {searched.seconds:.1f} s"
    yield Update(1.0, f"top {len(items)} of {unit['searched']} for {unit['stage']} channel {cfg.photo_channel} ({how})",
                 figures={"top_images": figs.imagenet_top_images_figure(items, **unit)},
                 verdicts=[verdicts.imagenet_top_images([it["label"] for it in items],
                                                        [it["activation"] for it in items], share=share,
                                                        at_top=at_top, **unit)],
                 numbers={"top_images": {"model": "efficientnet_lite0_imagenet", "set": cfg.top_set,
                                         "images": len(searched.labels), "size": top.TOP_SIZE,
                                         "stage": cfg.photo_stage, "channel": cfg.photo_channel, "items": items,
                                         "at_top": at_top, "seconds": searched.seconds}})
