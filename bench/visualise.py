"""Bench: the visualise lesson's costs, measured in this process one after the other.

    python bench/visualise.py [--repeats 3] [--no-startup] [--photo-only | --projections-only | --occlusion-only]

1. One occlusion map of a 32x32 RGB image (window 8, stride 2: 169 positions) and of a 28x28 digit
   (window 4, stride 2: 169 positions) through a SmallCNN: the occluded copies batched and laid out NHWC
   (what the lesson does) vs batched in NCHW (before) vs one forward per position, same numbers (checked);
   medians of ``--repeats`` rounds, interleaved, wall and CPU, on one torch thread (the lesson's) and on two
   (``--occlusion-only``: this alone).
2. UMAP's one-time import and numba compile (what the start-up warm-up pays), then each
   projection (PCA, t-SNE, UMAP) of 2,000 points after that warm-up: the shapes training images'
   pixels (768-d) and a SmallCNN's penultimate features of them. Then t-SNE and UMAP against the
   settings before (same process, interleaved, wall and CPU seconds) with the maps' quality before and
   after on digits and shapes (``--projections-only``).
3. The lesson on its defaults with UMAP warm (train + six views), then a second run that only
   changes the image and the window (the model comes from the cache).
5. EfficientNet-Lite0 on chelsea (224 x 224): the lesson's occlusion maps (coarse 64px/32, 36 positions;
   refined 32px/16, 169 positions) batched (``explain.OCCLUSION_BATCH`` a forward) vs one forward per
   position (same numbers, checked), Grad-CAM on the last conv stage, and the lesson's default ImageNet
   run end to end (``--photo-only``: this alone).
6. The lesson's default run with its t-SNE/UMAP fits in the embedding worker (a child process, as the app
   runs them) vs in this process, interleaved, the model cached: wall, this process's CPU (the server's
   GIL), the longest wait between two frames, the worker's CPU and memory; the maps checked equal
   (``--worker-only``: this alone).
4. ``python app.py`` until the page is served, with the warm-up thread (UMAP included) running
   beside it, against a bare ``import torch`` (bench/startup.py's measurement).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

import cnnbp.lessons  # noqa: E402,F401  (registers the lessons)
from cnnbp.data import get_dataset  # noqa: E402
from cnnbp.device import derive_seed, make_generator, set_threads_once, torch_threads  # noqa: E402
from cnnbp.lessons import run_lesson  # noqa: E402
from cnnbp.lessons.visualise import embeddings as emb  # noqa: E402
from cnnbp.lessons.visualise.model import MODELS, one_thread  # noqa: E402
from cnnbp.lessons.visualise.occlusion import occlusion_scores  # noqa: E402
from cnnbp.nn import SmallCNN  # noqa: E402
from cnnbp.nn.inits import init_model  # noqa: E402


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def occlusion_bench(repeats: int) -> None:
    """Both maps, three ways interleaved (medians of ``repeats`` rounds): the lesson's (copies batched,
    laid out NHWC), the copies batched in torch's default NCHW layout (before 2026-12-02: the same
    code with the forward copying its input to NCHW strides), one forward per position."""
    nets = {
        "32x32 RGB shapes, window 8, stride 2": (
            SmallCNN(3, 4, depth=4, width=8, image_size=32), "occlusion",
            get_dataset("shapes", seed=0, n_train=4, n_test=4).x_test[:1], 8),
        "28x28 digit, window 4, stride 2": (  # bench/all.py's figure (bench/baselines.py occlusion_28)
            SmallCNN(1, 10, depth=4, width=16, image_size=28), "occlusion-28",
            get_dataset("mnist", seed=0).x_test[:1], 4),
    }
    for what, (net, stream, x, window) in nets.items():
        net = init_model(net, "kaiming", "relu", generator=make_generator(derive_seed(0, "bench", stream))).eval()
        forward = lambda t: torch.softmax(net(t), dim=1)  # noqa: E731

        def nchw(t, net=net):  # torch's default strides (.contiguous() keeps a one-channel NHWC tensor as it is)
            return torch.softmax(net(torch.empty_like(t, memory_format=torch.contiguous_format).copy_(t)), dim=1)

        ways = {"batched NHWC (the lesson)": lambda: occlusion_scores(forward, x, window=window, stride=2),
                "batched NCHW (before)": lambda: occlusion_scores(nchw, x, window=window, stride=2),
                "one forward per position": lambda: occlusion_scores(forward, x, window=window, stride=2,
                                                                     batch_size=1)}
        for threads in (1, 2):  # the lesson runs on one thread; two for comparison
            with torch_threads(threads):
                outs = {way: fn() for way, fn in ways.items()}  # warm-up, and the numbers to compare
                times: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
                for _ in range(repeats):
                    for way, fn in ways.items():
                        times[way].append(_wall_and_cpu(fn))
            ref = outs["batched NHWC (the lesson)"].scores
            assert all(torch.allclose(o.scores, ref, atol=1e-6) for o in outs.values())
            wall, cpu = ({way: statistics.median(t[i] for t in ts) for way, ts in times.items()} for i in (0, 1))
            lesson = "batched NHWC (the lesson)"
            cells = "; ".join(f"{way} {wall[way] * 1000:.1f} ms ({cpu[way] * 1000:.1f} ms CPU, "
                              f"{cpu[way] / cpu[lesson]:.2f}x)" for way in ways)
            print(f"occlusion map, {what} ({ref.shape[1]} positions), {threads} thread(s), median of {repeats}: "
                  f"{cells}; same scores; load {load()}", flush=True)


def projection_bench() -> None:
    start = time.perf_counter()
    emb.warm_umap()
    print(f"UMAP import + numba compile on a tiny array (the warm-up's share): {time.perf_counter() - start:.1f} s")
    data = get_dataset("shapes", seed=0, size=16, n_train=2000, n_test=12)
    pixels = data.x_train.flatten(1).numpy()  # (2000, 768)
    net = init_model(SmallCNN(3, 4, depth=4, width=8, image_size=16), "kaiming", "relu",
                     generator=make_generator(derive_seed(0, "bench", "features"))).eval()
    with torch.no_grad():
        features = net.features(data.x_train).numpy()  # (2000, 32)
    for name, x in (("pixels (768-d)", pixels), ("CNN features (32-d)", features)):
        for method in emb.METHODS:
            with one_thread():
                start = time.perf_counter()
                emb.project(x, method=method, seed=0)
                took = time.perf_counter() - start
            print(f"{method:5s} of 2,000 points, {name}: {took:.2f} s")


def _before(x: np.ndarray, method: str) -> np.ndarray:
    """The projections as the lesson ran them before PCA_DIMS, TSNE_EXAGGERATED and UMAP_EPOCHS (2026-12-01):
    every input dimension; t-SNE 250 exaggerated iterations + 250; UMAP 500 epochs (its default under
    10,000 points) on the same exact k-NN."""
    from sklearn.manifold import TSNE

    from cnnbp.numba_cache import import_umap

    if method == "tsne":
        return TSNE(perplexity=30.0, init="pca", random_state=0, max_iter=500, n_jobs=1,
                    angle=emb.TSNE_ANGLE).fit_transform(x)
    k = emb.UMAP_NEIGHBOURS
    return import_umap().UMAP(n_neighbors=k, random_state=0, n_jobs=1,
                              precomputed_knn=emb.exact_neighbours(x, k)).fit_transform(x)


def _wall_and_cpu(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def projection_speedup_bench(repeats: int) -> None:
    """t-SNE and UMAP of 2,000 points (768-d shapes pixels), before vs the lesson's settings, interleaved
    ``repeats`` times in this process on one thread: median wall and CPU seconds. Then what the maps
    keep of the data, before and now: the 5-NN accuracy in the map, the silhouette of the classes and the
    trustworthiness, on scikit-learn's 1,797 digits (64-d, classes that separate), on the 2,000 shapes
    and on 360 digits (the lesson's default size)."""
    import warnings

    from sklearn.datasets import load_digits
    from sklearn.metrics import silhouette_score

    warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
    emb.warm_umap()
    data = get_dataset("shapes", seed=0, size=16, n_train=2000, n_test=12)
    shapes, ys = data.x_train.flatten(1).numpy(), data.y_train.numpy()
    digits = load_digits()
    xd, yd = digits.data.astype(np.float32), digits.target
    sets = {"digits": (xd, yd), "shapes": (shapes, ys), "digits[:360]": (xd[:360], yd[:360])}
    ways = {"before": _before, "now": lambda x, m: emb.project(x, method=m, seed=0)}
    for method in ("tsne", "umap"):
        times: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
        with one_thread():
            for _ in range(repeats):
                for way, fn in ways.items():
                    times[way].append(_wall_and_cpu(lambda: fn(shapes, method)))
            maps = {(way, name): fn(x, method) for way, fn in ways.items() for name, (x, _) in sets.items()}
        (w0, c0), (w1, c1) = ([statistics.median(t[i] for t in times[way]) for i in (0, 1)] for way in ways)
        print(f"{method} of 2,000 points (768-d), 1 thread, median of {repeats}: before {w0:.2f} s ({c0:.2f} s CPU), "
              f"now {w1:.2f} s ({c1:.2f} s CPU): {c0 / c1:.2f}x in CPU seconds; load {load()}", flush=True)
        for name, (x, y) in sets.items():
            quality = "; ".join(f"{way}: 5-NN {emb.knn_correct(p, y, seed=0).mean():.3f}, silhouette "
                                f"{silhouette_score(p, y):.3f}, trustworthiness {emb.trustworthiness(x, p):.4f}"
                                for way in ways for p in [maps[way, name]])
            print(f"    {name} map ({len(x)} points) {quality}", flush=True)


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def lesson_bench() -> None:
    MODELS.clear()
    start = time.perf_counter()
    frames = list(run_lesson("visualise", {}))
    assert frames[-1].done, frames[-1].message
    first = time.perf_counter() - start
    start = time.perf_counter()
    frames = list(run_lesson("visualise", {"image_index": 5, "window": 2}))
    assert frames[-1].done and "reused" in frames[-1].numbers["model"]["source"]
    print(f"visualise lesson, defaults (UMAP warm): {first:.1f} s; again with another image and window "
          f"(model from the cache): {time.perf_counter() - start:.1f} s")


def _default_run() -> tuple[float, float, float, dict]:
    """The lesson's defaults once: wall s, this process's CPU s, longest wall wait between frames, numbers."""
    wall, cpu = time.perf_counter(), time.process_time()
    last, gaps, frames = wall, [], []
    for frame in run_lesson("visualise", {}):
        now = time.perf_counter()
        gaps.append(now - last)
        frames.append(frame)
        last = time.perf_counter()
    assert frames[-1].done, frames[-1].message
    return time.perf_counter() - wall, time.process_time() - cpu, max(gaps), frames[-1].numbers


def worker_bench(repeats: int) -> None:
    """The default run, its fits in the embedding worker vs in this process, interleaved (the model trained
    once, then cached: the runs differ only in where t-SNE and UMAP run)."""
    from cnnbp import embed_worker

    emb.warm_umap()  # this process's UMAP too: neither way pays a load
    start = time.perf_counter()
    worker = embed_worker.start()
    assert worker is not None and worker.wait_ready(600), "the embedding worker did not start"
    print(f"embedding worker ready in {time.perf_counter() - start:.1f} s (umap loaded in {worker.ready_s:.1f} s), "
          f"RSS {worker.rss_mb():.0f} MB; load {load()}", flush=True)
    _default_run()  # trains the model into the cache
    ways = {"worker": worker, "here": None}
    seen: dict[str, list[tuple[float, float, float]]] = {way: [] for way in ways}
    maps = {}
    for _ in range(repeats):
        for way, handle in ways.items():
            embed_worker._WORKER = handle
            before = _child_cpu_s(worker)  # the worker is never reaped while it runs: its /proc
            wall, cpu, gap, numbers = _default_run()
            seen[way].append((wall, cpu, gap, _child_cpu_s(worker) - before))
            maps[way] = [(p["x"], p["y"]) for p in numbers["embeddings"]["projections"]]
    embed_worker._WORKER = worker
    assert maps["worker"] == maps["here"], "the worker's maps differ from this process's"
    for way in ways:
        wall, cpu, gap, child = (statistics.median(t[i] for t in seen[way]) for i in range(4))
        print(f"visualise defaults (model cached), fits {way:6s}: {wall:.2f} s wall, {cpu:.2f} s CPU of this process, "
              f"longest wait between frames {gap:.2f} s, worker CPU {child:.2f} s (median of {repeats}); "
              f"load {load()}", flush=True)
    print(f"same maps both ways (checked); worker RSS {worker.rss_mb():.0f} MB", flush=True)


def _child_cpu_s(worker) -> float:
    with open(f"/proc/{worker.proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def photo_bench(repeats: int) -> None:
    from cnnbp.data import photos
    from cnnbp.lessons.visualise import explain as ex
    from cnnbp.nn import imagenet

    with one_thread():
        net = imagenet.network()
        x = imagenet.preprocess(photos.load_photo("chelsea"))
        x01, target = ex.to_unit(x), imagenet.top_k(x, 1, model=net)[0][2]
        ex.occlude(net, x01, target, window=112, stride=112)  # warm-up
        for window, stride in ((64, 32), (32, 16)):
            t_b, batched = timed(lambda: ex.occlude(net, x01, target, window=window, stride=stride), repeats)
            t_n, naive = timed(lambda: ex.occlude(net, x01, target, window=window, stride=stride, batch_size=1),
                               repeats)
            assert np.allclose(batched.p_class, naive.p_class, atol=1e-5)
            print(f"occlusion of chelsea 224x224, window {window}, stride {stride} ({batched.positions} positions), "
                  f"1 thread: batched ({ex.OCCLUSION_BATCH}) {t_b:.2f} s, one forward per position {t_n:.2f} s "
                  f"({t_n / t_b:.2f}x)")
        layer = dict(net.named_modules())["bn2"]
        t_cam, _ = timed(lambda: ex.grad_cam(net, layer, x, target), max(repeats, 5))
        print(f"Grad-CAM (bn2, 1280 x 7 x 7), 1 thread: {t_cam * 1000:.0f} ms")
    start = time.perf_counter()
    frames = list(run_lesson("visualise", {"model": "efficientnet_lite0_imagenet", "photo": "chelsea"}))
    assert frames[-1].done, frames[-1].message
    first_map = next(f for f in frames if "occlusion" in f.figures)
    print(f"visualise lesson, ImageNet defaults on chelsea: {time.perf_counter() - start:.1f} s end to end "
          f"(network built in this process already); first (coarse) occlusion map at progress "
          f"{first_map.progress:.2f}")


def startup_bench() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import startup

    t_torch = startup.seconds_to_import_torch()
    t_serve, _ = startup.seconds_to_serve()
    print(f"python app.py serving its page, warm-up (UMAP included) running: {t_serve:.2f} s "
          f"({t_serve / t_torch:.1f}x a bare import torch, {t_torch:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-startup", action="store_true", help="skip the app start-up measurement")
    parser.add_argument("--photo-only", action="store_true", help="only the ImageNet photo measurements (5)")
    parser.add_argument("--projections-only", action="store_true", help="only the projections' old vs new (2)")
    parser.add_argument("--occlusion-only", action="store_true", help="only the occlusion maps (1)")
    parser.add_argument("--worker-only", action="store_true", help="only the fits in the worker vs here (6)")
    args = parser.parse_args()
    set_threads_once()
    if args.photo_only:
        photo_bench(args.repeats)
        return
    if args.occlusion_only:
        occlusion_bench(args.repeats)
        return
    if args.projections_only:
        projection_speedup_bench(args.repeats)
        return
    if args.worker_only:
        worker_bench(args.repeats)
        return
    occlusion_bench(args.repeats)
    projection_bench()
    projection_speedup_bench(args.repeats)
    lesson_bench()
    photo_bench(args.repeats)
    worker_bench(args.repeats)
    if not args.no_startup:
        startup_bench()


if __name__ == "__main__":
    main()
