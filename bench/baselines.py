"""Naive baselines for bench/all.py, each measured next to what the lessons do, in one process.

A lesson with no entry in BASELINES gets a row saying so (its own bench/<name>.py says why).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from bench.all import load

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Comparison:
    what: str
    ours_s: float
    naive_s: float
    note: str = ""

    def row(self, lesson: str) -> str:
        ratio = self.naive_s / self.ours_s if self.ours_s else float("nan")
        return (f"| {lesson} | {self.what} | {_s(self.ours_s)} | {_s(self.naive_s)} | {ratio:.1f}x | "
                f"{self.note} | {load()} |")


def _s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def median_time(fn: Callable[[], object], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ---- norms: the lesson's side-by-side comparison vs the notebook loop --------------------------------

NOTEBOOK_BATCH = 64


def notebook_norm_run(data, norm: str, seed: int, *, epochs_cap: int, target: float | None, lr: float,
                      depth: int, width: int, groups: int, batch: int = NOTEBOOK_BATCH,
                      threads: int | None = None) -> tuple[float, float, float, int]:
    """The comparison as a notebook trains it: a DataLoader at ``batch`` (shuffled in the lesson's own data
    order: the seed's "norms-data-order" stream), ``threads`` torch threads (None: as set), one model after
    another, whole epochs, SGD momentum 0.9 at ``lr``; stops after the first epoch whose test accuracy
    reaches ``target``, at most ``epochs_cap`` epochs (the fewest whole epochs that reach it: a notebook's
    best fixed epoch count). (training wall seconds, its CPU seconds, test accuracy, epochs); evaluation is
    not counted."""
    from torch.utils.data import DataLoader, RandomSampler, TensorDataset

    from cnnbp.device import derive_seed, make_generator, torch_threads
    from cnnbp.lessons.norms.training import build_model
    from cnnbp.train import evaluate

    model = build_model(data, norm, depth=depth, width=width, groups=groups, seed=seed)
    train = TensorDataset(data.x_train, data.y_train)
    # shuffle=True would draw a worker seed from the generator first: the sampler alone keeps the order
    loader = DataLoader(train, batch_size=batch, sampler=RandomSampler(
        train, generator=make_generator(derive_seed(seed, "norms-data-order"))))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    seconds = cpu = accuracy = 0.0
    with torch_threads(threads or torch.get_num_threads()):
        for epoch in range(1, epochs_cap + 1):
            start, start_cpu = time.perf_counter(), time.process_time()
            model.train()
            for x, y in loader:
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x), y)
                loss.backward()
                optimizer.step()
            seconds, cpu = seconds + time.perf_counter() - start, cpu + time.process_time() - start_cpu
            accuracy = evaluate(model, (data.x_test, data.y_test))[1]
            if target is not None and accuracy >= target:
                break
    return seconds, cpu, accuracy, epoch


def norms_comparison() -> Comparison:
    """The lesson's compare part on its defaults (5 norms x 3 seeds) against the notebook loop trained
    until each model reaches the accuracy its counterpart reached in the lesson (or 4x the epochs)."""
    from cnnbp.data import get_dataset
    from cnnbp.lessons import run_lesson
    from cnnbp.lessons.base import merge_frames
    from cnnbp.lessons.norms.config import NormsConfig

    cfg = NormsConfig()
    start = time.perf_counter()
    final = merge_frames(run_lesson("norms", {"parts": ["compare"]}))
    ours = time.perf_counter() - start
    runs = final.numbers["compare"]["runs"]
    data = get_dataset(cfg.dataset, seed=cfg.seed)
    naive, reached, epochs = 0.0, 0, []
    for spec in cfg.compare_specs():
        target = runs[spec.name]["final_accuracy"]
        seconds, _, accuracy, e = notebook_norm_run(
            data, spec.norm, spec.seed, epochs_cap=4 * cfg.epochs, target=target, lr=cfg.lr_at(NOTEBOOK_BATCH),
            depth=cfg.depth, width=cfg.width, groups=cfg.groups)
        naive += seconds
        reached += target is not None and accuracy >= target
        epochs.append(e)
    accs = [r["final_accuracy"] for r in runs.values() if r["final_accuracy"] is not None]
    over_97 = sum(a >= 0.97 for a in accs)
    return Comparison(
        f"{len(runs)} CNNs ({len(cfg.norms)} norms x {cfg.seeds} seeds), {cfg.epochs} epochs at batch {cfg.batch_size} "
        f"with 4 test evaluations an epoch, vs the notebook loop (DataLoader batch {NOTEBOOK_BATCH}, one model "
        f"after another) until each reaches its counterpart's accuracy", ours, naive,
        f"notebook reached it in {reached}/{len(runs)} runs, {min(epochs)}-{max(epochs)} epochs; "
        f"lesson accuracy {min(accs):.1%}-{max(accs):.1%}, {over_97}/{len(accs)} at >= 97%")


def norms_race() -> Comparison:
    """Issue 15's norms target: each of the 15 models to 97%, ours on every core vs the notebook loop on one
    thread (bench/norms.py race; its per-model table: ``python bench/norms.py --race``)."""
    from bench.norms import race
    from cnnbp.device import cpu_cores

    return race(lanes=cpu_cores(), table=False)


# ---- the lessons' own fast paths (their bench scripts' baselines) ------------------------------------

def classic_init() -> Comparison:
    from bench import classic_init as b

    b.ours()  # first-call allocations
    return Comparison(f"classic experiment ({len(b.INITS)} inits x {len(b.ACTIVATIONS)} activations, {b.DEPTH} x "
                      f"{b.WIDTH}) vs the lecture's loop", median_time(b.ours), median_time(b.naive))


def preprocessing_stats() -> Comparison:
    from bench import preprocessing as b
    from cnnbp.data import get_dataset

    data = get_dataset("shapes", seed=0)
    x_train, x_test = data.x_train * 255, data.x_test * 255
    return Comparison("per-channel standardisation of shapes vs a per-image loop",
                      median_time(lambda: b.vectorised_channel_std(x_train, x_test)),
                      median_time(lambda: b.naive_channel_std(x_train, x_test)))


def activation_curves() -> Comparison:
    from bench import activations as b

    return Comparison("f and f' of every activation on the grid vs one autograd call per point",
                      median_time(b.our_curves), median_time(b.naive_curves, repeats=1))


BASELINES: dict[str, Callable[[], Comparison]] = {
    "activations": activation_curves,
    "preprocessing": preprocessing_stats,
    "init": classic_init,
    "norms": lambda: norms_race(),
    "visualise": lambda: occlusion_28(),
}


def print_rows(names: list[str]) -> None:
    print("\n| lesson | what | ours | naive | ratio | note | load |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        if name not in BASELINES:
            print(f"| {name} | no naive baseline for the whole lesson: see bench/{name}.py | | | | | {load()} |")
            continue
        print(BASELINES[name]().row(name), flush=True)


# ---- embeddings and occlusion: the figures ---------------------------------------------------

def occlusion_28() -> Comparison:
    """One occlusion map of a 28 x 28 digit (window 4, stride 2: 169 positions) through a SmallCNN,
    the copies batched vs one forward per position, same scores (checked), one thread."""
    from cnnbp.data import get_dataset
    from cnnbp.device import derive_seed, make_generator, torch_threads
    from cnnbp.lessons.visualise.occlusion import occlusion_scores
    from cnnbp.nn import SmallCNN
    from cnnbp.nn.inits import init_model

    net = init_model(SmallCNN(1, 10, depth=4, width=16, image_size=28), "kaiming", "relu",
                     generator=make_generator(derive_seed(0, "bench", "occlusion-28"))).eval()
    x = get_dataset("mnist", seed=0).x_test[:1]  # (1, 1, 28, 28)

    def forward(t):
        return torch.softmax(net(t), dim=1)

    with torch_threads(1):
        batched = occlusion_scores(forward, x, window=4, stride=2)
        naive = occlusion_scores(forward, x, window=4, stride=2, batch_size=1)
        assert torch.allclose(batched.scores, naive.scores, atol=1e-6)
        t_b = median_time(lambda: occlusion_scores(forward, x, window=4, stride=2), repeats=5)
        t_n = median_time(lambda: occlusion_scores(forward, x, window=4, stride=2, batch_size=1), repeats=5)
    positions = batched.scores.shape[1]
    return Comparison(f"occlusion of a 28 x 28 digit, window 4, stride 2 ({positions} positions), 1 thread, vs one "
                      f"forward per position (target under 50 ms)", t_b, t_n, "same scores")


def umap_cold_seconds(cache: str | None = None) -> float:
    """UMAP's first call in a fresh process (import + compile, or + loading numba's disk cache),
    what the start-up warm-up pays; ``cache``: the numba cache directory it uses."""
    code = ("import time; t = time.perf_counter(); from cnnbp.lessons.visualise.embeddings import warm_umap; "
            "warm_umap(); print(time.perf_counter() - t)")
    env = {**os.environ, **({"NUMBA_CACHE_DIR": cache} if cache else {})}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def embedding_rows() -> None:
    """PCA, UMAP and t-SNE of 2,000 points once warm (the issue's targets 50 ms, 2 s, 3 s), as the
    lesson runs them (one thread); the naive figure for UMAP is its cold first call."""
    from cnnbp.data import get_dataset
    from cnnbp.lessons.visualise import embeddings as emb
    from cnnbp.lessons.visualise.model import one_thread

    emb.warm_umap()
    data = get_dataset("shapes", seed=0, size=16, n_train=2000, n_test=12)
    pixels = data.x_train.flatten(1).numpy()  # (2000, 768)
    targets = {"pca": 0.05, "umap": 2.0, "tsne": 3.0}
    print("\n| embedding of 2,000 points (768-d pixels), warm, 1 thread | seconds | target | load |")
    print("|---|---|---|---|")
    for method in emb.METHODS:
        with one_thread():
            took = median_time(lambda: emb.project(pixels, method=method, seed=0), repeats=1 if method != "pca" else 5)
        print(f"| {method} | {_s(took)} | {_s(targets[method])} | {load()} |", flush=True)
    with tempfile.TemporaryDirectory() as empty:  # cnnbp/numba_cache.py: compiled once, then loaded
        compiled, loaded = umap_cold_seconds(empty), umap_cold_seconds(empty)
    print(f"| umap's first call in a fresh process, numba's disk cache empty (import + compile) | {_s(compiled)} "
          f"| off the click | {load()} |")
    print(f"| the same in the next process, kernels loaded from the cache | {_s(loaded)} "
          f"({compiled / loaded:.1f}x) | off the click | {load()} |")
    o = occlusion_28()
    print(f"\n{o.what}: {_s(o.ours_s)} vs {_s(o.naive_s)} ({o.naive_s / o.ours_s:.1f}x), {o.note}, {load()}")
