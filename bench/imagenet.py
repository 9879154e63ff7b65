"""Bench: the pretrained ImageNet network (EfficientNet-Lite0): loading it, features of many images,
occlusion and Grad-CAM of a photo, each against a naive baseline in the same process, with issue 16's
targets (on 2 CPU cores, after warm-up: loaded < 1 s; features of 1,000 images < 3 s; occlusion of a
224 x 224 photo with >= 144 positions < 5 s, its first coarse map < 1 s; Grad-CAM < 0.5 s).

    python bench/imagenet.py [--images 1000] [--sizes 48,64] [--batch B] [--big-batch 100] [--threads N]
                             [--photo chelsea] [--skip-naive-occlusion]

1. Load: the first ``network()`` of the process (timm's import, the sha256 of the 18.8 MB weights,
   ``torch.load(weights_only=True)``, building the architecture, the strict load), then a load
   after that warm-up with the weights' cache cleared (what a reinstall costs: everything but the
   imports), then ``create_network()`` from the checked weights kept in memory (a copy to fine-tune).
2. Features (the pooled 1280 numbers before the classifier) of ``--images`` shipped Fashion-MNIST test
   images resized to each size: batched (``imagenet.features``: about 200,000 input pixels a batch,
   channels-last; or ``--batch`` images) vs the naive baseline, one image per forward as it comes;
   with ``--big-batch N`` also N images a batch (what "batch everything" gives on a CPU). Each path
   runs once after a short warm-up; the results are compared (max abs difference).
   At the visualise lesson's size (48 px) also the top images' search: every stage's per-channel peaks
   in one batched forward (``imagenet_top.all_stage_peaks``), against the same one image at a time.
3. The visualise lesson's photo views at 224 x 224 (the lesson's defaults): the coarse occlusion map
   (64 px window, stride 32: 36 positions), the refined one (32 px, stride 16: 169 positions), each
   batched as the lesson runs them, against the naive baseline, one forward per position (the refined
   map: what a naive tab shows first); Grad-CAM on the last stage against one plain forward (its floor).
4. The top-5 of every bundled photo, one at a time, from the PIL image (centre crop, resize, forward).

The 2-core machine is shared while other work runs; the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import torch  # noqa: E402

from cnnbp.data import get_dataset  # noqa: E402
from cnnbp.data.photos import PHOTOS, load_photo  # noqa: E402
from cnnbp.device import set_threads_once  # noqa: E402
from cnnbp.lessons.visualise import explain as ex  # noqa: E402
from cnnbp.lessons.visualise import imagenet_top  # noqa: E402
from cnnbp.nn import imagenet  # noqa: E402


def seconds(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def naive_features(x: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    """The baseline: one image per forward."""
    with torch.no_grad():
        return torch.cat([model.forward_head(model.forward_features(x[i:i + 1]), pre_logits=True)
                          for i in range(len(x))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--sizes", default="48,64", help="input sizes, comma-separated (48: the lessons')")
    parser.add_argument("--batch", type=int, help="images per batch (default: imagenet.batch_size_for(size))")
    parser.add_argument("--big-batch", type=int, default=0, help="also time batches of this many (0: skip)")
    parser.add_argument("--threads", type=int, help="torch threads (default: CPU_CORES or the cores we may use)")
    parser.add_argument("--naive-images", type=int, help="time the one-at-a-time baselines on only this many images "
                        "and scale to --images (stated in the line; default: all)")
    parser.add_argument("--photo", default="chelsea", help="bundled photo of the occlusion and Grad-CAM timings")
    parser.add_argument("--skip-naive-occlusion", action="store_true", help="leave out the one-forward-per-position "
                        "baseline (169 forwards)")
    args = parser.parse_args()
    threads = set_threads_once() if args.threads is None else (torch.set_num_threads(args.threads)
                                                              or torch.get_num_threads())
    print(f"torch {torch.__version__}, {threads} thread(s), load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")

    first, model = seconds(imagenet.network)
    imagenet._state_dict.cache_clear()
    warm, _ = seconds(imagenet.create_network)
    copy, _ = seconds(imagenet.create_network)
    print(f"load: first in the process {first:.2f} s (imports included); after warm-up {warm:.2f} s "
          f"(sha256 + torch.load + build + strict load; {target(warm, 1.0)}); a copy from the checked weights "
          f"{copy:.2f} s")

    data = get_dataset("fashion_mnist", n_test=args.images, n_train=10, seed=0)
    for size in (int(s) for s in args.sizes.split(",")):
        x = imagenet.to_network_input(data.x_test, size=size)
        batch = args.batch or imagenet.batch_size_for(size)
        imagenet.features(x[:2 * batch], model=model, batch_size=batch)  # warm-up
        naive_features(x[:4], model)
        t_batched, f_batched = seconds(lambda: imagenet.features(x, model=model, batch_size=batch))
        few = x[:args.naive_images or len(x)]
        t_naive, f_naive = seconds(lambda: naive_features(few, model))
        t_naive *= len(x) / len(few)
        scaled = f" (timed on {len(few)}, scaled)" if len(few) < len(x) else ""
        diff = float((f_batched[:len(few)] - f_naive).abs().max())
        big = ""
        if args.big_batch:
            t_big, _ = seconds(lambda: imagenet.features(x, model=model, batch_size=args.big_batch))
            big = f", {args.big_batch} a batch {t_big:.2f} s"
        print(f"features of {len(x)} images at {size}x{size}: batched ({batch} a batch) {t_batched:.2f} s, "
              f"one at a time {t_naive:.2f} s{scaled} ({t_naive / t_batched:.1f}x){big}; max |diff| {diff:.1e}; "
              f"{target(t_batched, 3.0)}; load average {os.getloadavg()[0]:.1f}")
        if size == imagenet_top.TOP_SIZE:
            t_peaks, peaks = seconds(lambda: imagenet_top.all_stage_peaks(model, x))
            t_one, one = seconds(lambda: [imagenet_top.all_stage_peaks(model, x[i:i + 1]) for i in range(len(few))])
            t_one *= len(x) / len(few)
            same = all(torch.allclose(torch.cat([o[s].values for o in one]), peaks[s].values[:len(few)], atol=1e-4)
                       for s in peaks)
            print(f"top images' search at {size}x{size} (every stage's per-channel peaks of {len(x)} images): batched "
                  f"{t_peaks:.2f} s, one at a time {t_one:.2f} s{scaled} ({t_one / t_peaks:.1f}x), equal: {same}; "
                  f"{target(t_peaks, 3.0)}; load average {os.getloadavg()[0]:.1f}")

    photo_views(model, args.photo, naive=not args.skip_naive_occlusion)

    for name in PHOTOS:
        photo = load_photo(name)
        imagenet.top_k(photo, model=model)  # warm
        t, top = seconds(lambda: imagenet.top_k(photo, k=5, model=model))
        shown = ", ".join(f"{n} {p:.2f}" for n, p, _ in top)
        print(f"{name:10s} {t * 1e3:6.0f} ms  {shown}")


def target(t: float, line: float) -> str:
    return f"target < {line:g} s {'reached' if t < line else 'NOT reached'}"


def photo_views(model: torch.nn.Module, photo: str, *, naive: bool) -> None:
    """Occlusion (coarse, refined) and Grad-CAM of the photo's top-1 class at the lesson's defaults."""
    from cnnbp.lessons.visualise.config import VisualiseConfig

    (cw, cs), (w, s) = VisualiseConfig().photo_windows()
    x = imagenet.preprocess(load_photo(photo))
    x01 = ex.to_unit(x)
    name, _, cls = imagenet.top_k(x, 1, model=model)[0]
    layer = dict(model.named_modules())["bn2"]
    ex.occlude(model, x01, cls, window=112, stride=112)  # warm-up
    ex.grad_cam(model, layer, x, cls)
    coarse = ex.occlude(model, x01, cls, window=cw, stride=cs)
    refined = ex.occlude(model, x01, cls, window=w, stride=s)
    print(f"occlusion of {photo} ({name}) at 224x224, batched as the lesson runs it: coarse {coarse.positions} "
          f"positions {coarse.seconds:.2f} s ({target(coarse.seconds, 1.0)}), refined {refined.positions} positions "
          f"{refined.seconds:.2f} s ({target(refined.seconds, 5.0)}); load average {os.getloadavg()[0]:.1f}")
    if naive:
        one = ex.occlude(model, x01, cls, window=w, stride=s, batch_size=1)
        diff = float(abs(one.p_class - refined.p_class).max())
        print(f"  naive baseline, one forward per position: refined {one.positions} positions {one.seconds:.2f} s "
              f"({one.seconds / refined.seconds:.2f}x the batched map); the first map on screen: coarse "
              f"{coarse.seconds:.2f} s vs the naive refined one {one.seconds:.2f} s "
              f"({one.seconds / coarse.seconds:.1f}x later); max |diff| {diff:.1e}")
    with torch.no_grad():
        t_forward, _ = seconds(lambda: model(x.unsqueeze(0).contiguous(memory_format=torch.channels_last)))
    t_cam, _ = seconds(lambda: ex.grad_cam(model, layer, x, cls))
    print(f"Grad-CAM of {name} on bn2: {t_cam:.3f} s ({target(t_cam, 0.5)}); one plain forward {t_forward:.3f} s "
          f"({t_cam / t_forward:.1f}x); load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
