"""Lesson "dropout": the lecture's dropout slides (004), measured.

Four parts, streamed in order: the masks (a new one every training pass, none in eval, the
share kept against 1 - p), the expectation (inverted dropout's mean over many passes against
the eval output; the lecture's test-time scaling, shown to be the same net), regularisation
(one net per p trained side by side on a small subset: train/test accuracy gap), and MC
dropout (the average of k stochastic passes against the eval pass).

**Which p.** The lecture says both "higher probability means stronger regularization" (p is
the drop probability) and "at test time scale all activations by the probability of dropout",
``W2 * p * max(0, W1 x + b1) + b2`` (right only if p is the keep probability). This lesson's
``p`` is the **drop** probability, as ``torch.nn.Dropout(p)``; the lecture's convention then
scales by the keep probability ``1 - p`` at test time. The two readings agree only at p = 0.5.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Iterator, Literal

import pandas as pd
from pydantic import Field, model_validator

from cnnbp.data import get_dataset
from cnnbp.device import torch_threads
from cnnbp.lessons.base import Frame, LessonConfig, Verdict, choices
from cnnbp.lessons.dropout.mc import MCResult, mc_average
from cnnbp.lessons.dropout.mechanics import (Expectation, KeepFraction, MaskDemo, expectation, keep_fractions,
                                             lecture_net, mask_demo)
from cnnbp.lessons.dropout.training import EVALS_PER_RUN, THREADS, GapHistory, train_gap
from cnnbp.plots import dropout as dplots
from cnnbp.train import RunControl

Part = Literal["masks", "expectation", "regularisation", "mc"]
PARTS: tuple[str, ...] = ("masks", "expectation", "regularisation", "mc")
# Drop probabilities offered for the keep-fraction plot and the nets trained side by side.
DROP_PROBS = {f"{p:g}": p for p in (0.0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9)}
MASK_COLS = 16  # hidden units are drawn as rows of 16
KEEP_PASSES = 1000  # passes of the hidden layer whose masks are counted for the share kept

# Fixed before any run, never tuned to a result:
KEEP_Z_MAX = 4.0  # a measured keep share more than 4 binomial standard errors from 1 - p is a bug
# "Keeps the mean": ||mean of k passes - eval|| at most 1.5x what the masks' sampling alone gives
# (the measured/predicted ratio of an unbiased mean concentrates near 1 over thousands of
# entries; a bias of a few % of the mean pushes it far above 1.5 at the default 1000 passes).
MEAN_RATIO_MAX = 1.5
SAME_NET_TOL = 1e-5  # the two conventions' outputs: equal up to float32 rounding
GAP_MARGIN = 0.01  # "narrows the gap": by at least 1 accuracy point (about 4 of the 360 test digits)
FRAME_INTERVAL_S = 0.8  # at most ~1 update a second while training streams
TEST_IMAGES = 360  # the digits test split

# Seconds, measured on the 2-core development machine with other work beside it (the lesson
# runs on one thread; defaults: 14 s estimated, 6-11 s measured):
MASK_ENTRY_S = 1e-8  # per mask entry drawn and applied (expectation: passes x images x hidden)
STEP_OVERHEAD_S = {"mlp": 1e-3, "cnn": 2e-3}  # per training step of these tiny nets, one thread
GFLOPS_ONE_THREAD = 10.0  # what one thread sustains on their small matmuls


def settled(values: list[float]) -> float:
    """The mean of the last quarter of the evaluations (one evaluation is noisy at p > 0).

    >>> settled([0.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5])
    0.5
    """
    tail = values[-max(1, len(values) // 4):]
    return statistics.fmean(tail)


class DropoutConfig(LessonConfig):
    parts: list[Part] = Field(list(PARTS), min_length=1, description="which experiments to run")
    p: float = Field(0.5, ge=0.0, le=0.95, description="drop probability (torch's p) of the masks and expectation "
                     "parts; the lecture's test-time factor is the keep probability 1 - p")
    hidden: int = Field(256, ge=16, le=1024, description="hidden units of the lecture's net "
                        "f = W2 max(0, W1 x + b1) + b2 (drawn as rows of 16)", json_schema_extra={"step": 16})
    mask_passes: int = Field(4, ge=1, le=8, description="training passes whose masks are shown")
    images: int = Field(32, ge=1, le=TEST_IMAGES, description="test digits fed through the lecture's net")
    passes: int = Field(1000, ge=10, le=20_000, description="training passes averaged for the expectation "
                        "(the sampling error falls as 1/sqrt(passes))")
    drop_probs: choices(DROP_PROBS, "drop probability") = Field(
        ["0", "0.25", "0.5", "0.75"], description="drop probabilities: one net each, trained side by side "
        "(include 0 for the gap without dropout)")
    arch: Literal["mlp", "cnn"] = Field("mlp", description="mlp: digits' 64 pixels -> hidden layers; cnn: two "
                                        "conv blocks first; dropout after every hidden layer either way")
    width: int = Field(256, ge=16, le=1024, description="units per hidden layer", json_schema_extra={"step": 16})
    depth: int = Field(2, ge=1, le=4, description="hidden layers, each followed by ReLU and dropout")
    train_images: int = Field(100, ge=20, le=1437, description="training subset, balanced over the 10 digits "
                              "(small: the plain net overfits)")
    epochs: int = Field(200, ge=1, le=1000, description="passes over the subset (many: it is small)")
    batch_size: int = Field(32, ge=4, le=256, description="minibatch size")
    lr: float = Field(0.01, gt=0.0, le=1.0, description="SGD learning rate (momentum 0.9)")
    mc_passes: int = Field(100, ge=1, le=2000, description="stochastic passes averaged by MC dropout")

    @model_validator(mode="after")
    def _consistent(self) -> "DropoutConfig":
        if self.hidden % MASK_COLS:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of {MASK_COLS} (masks are drawn as "
                             f"rows of {MASK_COLS} units)")
        if "mc" in self.parts and "regularisation" not in self.parts:
            raise ValueError("parts: mc averages the nets that regularisation trains; add regularisation")
        if "mc" in self.parts and all(DROP_PROBS[p] == 0 for p in self.drop_probs):
            raise ValueError("drop_probs: mc needs a net with dropout; add a drop probability above 0")
        if self.batch_size > self.train_images:
            raise ValueError(f"batch_size ({self.batch_size}) must not exceed train_images ({self.train_images})")
        return self

    @property
    def ps(self) -> list[float]:
        return [DROP_PROBS[p] for p in self.drop_probs]

    def steps(self) -> int:
        return self.epochs * math.ceil(self.train_images / self.batch_size)

    def params(self) -> int:
        d_in = 32 * 2 * 2 if self.arch == "cnn" else 64
        return d_in * self.width + (self.depth - 1) * self.width**2 + self.width * 10

    def cost_seconds(self) -> float:
        cost = 0.0
        if "masks" in self.parts:
            cost += MASK_ENTRY_S * (len(self.ps) + 1) * KEEP_PASSES * self.hidden
        if "expectation" in self.parts:
            cost += MASK_ENTRY_S * 3 * self.passes * self.images * self.hidden
        flops_per_image = 2 * self.params() + (2 * 90_000 if self.arch == "cnn" else 0)  # cnn: the convs' MACs
        if "regularisation" in self.parts:
            train = self.steps() * (STEP_OVERHEAD_S[self.arch] + 3 * flops_per_image * self.batch_size
                                    / (GFLOPS_ONE_THREAD * 1e9))
            evals = ((EVALS_PER_RUN + 1) * (self.train_images + TEST_IMAGES) * flops_per_image
                     / (GFLOPS_ONE_THREAD * 1e9))
            cost += (train + evals) * len(self.ps)
        if "mc" in self.parts:
            cost += len(self.ps) * self.mc_passes * TEST_IMAGES * flops_per_image / (GFLOPS_ONE_THREAD * 1e9)
        return cost


def run(cfg: DropoutConfig, control: RunControl) -> Iterator[Frame]:
    yield Frame(0.0, f"starting: {len(cfg.parts)} parts; p = {cfg.p:g} is the drop probability (torch's)")
    weights = {"masks": 0.05, "expectation": 0.1, "regularisation": 0.75, "mc": 0.1}
    total = sum(weights[p] for p in cfg.parts)
    done, verdicts, numbers = 0.0, [convention_verdict(cfg)], {}
    data = get_dataset("digits", seed=cfg.seed)
    net = lecture_net(inputs=64, hidden=cfg.hidden, outputs=data.num_classes, seed=cfg.seed)

    def stopped(progress: float) -> Frame:
        reason = control.stop_reason() or "stopped"
        return Frame(progress, f"{reason} after {progress:.0%} of the run", verdicts=list(verdicts),
                     numbers=dict(numbers), done=True)

    if "masks" in cfg.parts:
        ps = sorted({*cfg.ps, cfg.p})
        with torch_threads(THREADS):
            demo = mask_demo(net, data.x_test[0].flatten(), p=cfg.p, passes=cfg.mask_passes, seed=cfg.seed,
                             cols=MASK_COLS)
            keeps = keep_fractions(ps, units=cfg.hidden, passes=KEEP_PASSES, seed=cfg.seed)
        done += weights["masks"] / total
        verdicts.append(mask_verdict(demo, keeps))
        numbers["masks"] = vars(demo)
        numbers["keep_fraction"] = [{**vars(k), "z": k.z} for k in keeps]
        yield Frame(done, f"{cfg.mask_passes} masks drawn; keep share measured for {len(ps)} values of p",
                    figures={"masks": masks_figure(demo, cfg), "keep_fraction": keep_figure(keeps)},
                    tables={"keep_fraction": pd.DataFrame(numbers["keep_fraction"])},
                    verdicts=list(verdicts), numbers=dict(numbers))

    if "expectation" in cfg.parts:
        with torch_threads(THREADS):  # one thread: faster for these sizes, and far faster on a busy machine
            exp = expectation(net, data.x_test[: cfg.images].flatten(1), p=cfg.p, passes=cfg.passes, seed=cfg.seed)
        done += weights["expectation"] / total
        verdicts += expectation_verdicts(exp)
        numbers["expectation"] = vars(exp)
        yield Frame(done, f"{cfg.passes} training passes averaged on {cfg.images} digits",
                    figures={"expectation": expectation_figure(exp)}, tables={"expectation": expectation_table(exp)},
                    verdicts=list(verdicts), numbers=dict(numbers))

    if control.stop_reason():
        yield stopped(done)
        return

    if "regularisation" in cfg.parts:
        share, last, reached, histories, trainers = weights["regularisation"] / total, 0.0, 0.0, [], []
        for reached, histories, trainers in train_gap(
                data, cfg.ps, arch=cfg.arch, width=cfg.width, depth=cfg.depth, train_images=cfg.train_images,
                epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed, control=control):
            now = time.perf_counter()
            if reached < 1.0 and now - last < FRAME_INTERVAL_S:
                continue
            last = now
            yield Frame(done + share * reached, f"training {len(histories)} nets on {cfg.train_images} digits: "
                        f"{reached:.0%}", figures={"gap_curves": gap_curves_figure(histories, cfg)},
                        numbers={**numbers, "regularisation": gap_numbers(histories)})
        done += share * reached
        numbers["regularisation"] = gap_numbers(histories)
        verdicts.append(gap_verdict(histories, cfg))
        yield Frame(done, f"{len(histories)} nets trained ({reached:.0%} of the steps)",
                    figures={"gap_curves": gap_curves_figure(histories, cfg),
                             "gap_bars": gap_bars_figure(histories, cfg)},
                    tables={"gap": gap_table(histories)}, verdicts=list(verdicts), numbers=dict(numbers))
        if control.stop_reason():
            yield stopped(done)
            return

        if "mc" in cfg.parts:
            results = {}
            with torch_threads(THREADS):
                for h, t in zip(histories, trainers):
                    if h.p > 0 and not t.diverged:
                        results[h.name] = mc_average(t.model, *t.test_split, passes=cfg.mc_passes, seed=cfg.seed)
            done += weights["mc"] / total
            numbers["mc"] = {name: vars(r) for name, r in results.items()}
            verdicts.append(mc_verdict(results, cfg))
            yield Frame(done, f"MC dropout: {cfg.mc_passes} stochastic passes averaged for {len(results)} nets",
                        figures={"mc": mc_figure(results)}, tables={"gap": gap_table(histories, results)},
                        verdicts=list(verdicts), numbers=dict(numbers))

    yield Frame(1.0, f"done in {control.elapsed():.1f} s", verdicts=list(verdicts), numbers=dict(numbers), done=True)


# ---- the convention -------------------------------------------------------------------------

def convention_verdict(cfg: DropoutConfig) -> Verdict:
    q = 1 - cfg.p
    return Verdict(
        label="which p",
        text=(f"This tab's p is the drop probability (torch.nn.Dropout's): each unit is kept with probability "
              f"1 - p = {q:g}. The lecture says 'higher probability means stronger regularization' (p drops) but "
              f"'at test time scale all activations by the probability of dropout', f = W2 * p * max(0, W1 x + b1) "
              f"+ b2, which is right only if p is the keep probability; with the drop probability the factor is "
              f"1 - p = {q:g}. The two readings agree only at p = 0.5. Inverted dropout (torch) scales by "
              f"1/(1 - p) in training instead and does nothing at test time."),
    )


# ---- the masks ------------------------------------------------------------------------------

def mask_verdict(demo: MaskDemo, keeps: list[KeepFraction]) -> Verdict:
    worst = max(keeps, key=lambda k: abs(k.z))
    distinct = len({str(m) for m in demo.masks})
    parts = ", ".join(f"p = {k.p:g}: {k.kept:.4f} (1 - p = {k.expected:g})" for k in keeps)
    return Verdict(
        label="masks",
        passed=all(abs(k.z) <= KEEP_Z_MAX for k in keeps) and demo.eval_is_identity and demo.eval_draws == 0,
        text=(f"A new mask every training pass: {distinct} distinct masks in {len(demo.masks)} passes "
              f"(kept {', '.join(f'{k:.0%}' for k in demo.keep_fraction)} of {len(demo.eval_hidden) * MASK_COLS} "
              f"units); in eval mode the layer "
              + ("returned its input unchanged" if demo.eval_is_identity else "changed its input")
              + (" and drew no random number" if demo.eval_draws == 0 else " and drew from the mask stream")
              + f". Share kept over {keeps[0].draws:,} draws: {parts}; the largest "
              f"deviation is {abs(worst.z):.1f} binomial standard errors (line: {KEEP_Z_MAX:g})."),
    )


def masks_figure(demo: MaskDemo, cfg: DropoutConfig):
    return dplots.masks(demo.masks, demo.dropped_hidden, demo.eval_hidden, keep=demo.keep_fraction,
                        title=f"Dropout masks on {cfg.hidden} hidden units of one digit, p = {cfg.p:g} (drop); "
                              f"kept units scaled by 1/(1 - p)")


def keep_figure(keeps: list[KeepFraction]):
    return dplots.keep_fraction([k.p for k in keeps], [k.kept for k in keeps], [k.std_error for k in keeps],
                                draws=keeps[0].draws, title="Share of units kept vs 1 - p (bars: 2 standard errors)")


# ---- the expectation ------------------------------------------------------------------------

def sampling_ratio(error: float, predicted: float) -> float:
    """Measured error over the sampling error alone; p = 0 predicts 0 (nothing is random), where
    only float rounding of the mean is allowed.

    >>> sampling_ratio(0.03, 0.02), sampling_ratio(1e-9, 0.0), sampling_ratio(0.1, 0.0)
    (1.5, 0.0, inf)
    """
    if predicted > 0:
        return error / predicted
    return 0.0 if error <= SAME_NET_TOL else math.inf


def expectation_verdicts(exp: Expectation) -> list[Verdict]:
    ratios = {n: sampling_ratio(exp.final[n], exp.predicted[n][-1]) for n in exp.predicted}
    keeps = all(r <= MEAN_RATIO_MAX for r in ratios.values())
    mean_text = (f"Inverted dropout keeps the expected activation: over {exp.ks[-1]} training passes on "
                 f"{exp.images} digits (p = {exp.p:g}), the mean of the dropped hidden units is "
                 f"{exp.final['inverted hidden']:.2%} (relative L2) from the eval activations, "
                 f"{ratios['inverted hidden']:.2f}x the {exp.predicted['inverted hidden'][-1]:.2%} the masks' sampling "
                 f"alone gives; the mean output f is {exp.final['inverted']:.2%} from the eval output "
                 f"({ratios['inverted']:.2f}x its sampling error; line: {MEAN_RATIO_MAX:g}x). Without any scaling "
                 f"the mean is off by {exp.final['lecture, no test scaling']:.1%}.")
    same = max(exp.max_abs_diff.values())
    conv_text = (f"The lecture's convention (no scaling in training, activations times the keep probability "
                 f"{1 - exp.p:g} at test time) is the same net with W2 scaled by 1/(1 - p): eval outputs differ by "
                 f"at most {exp.max_abs_diff['eval outputs']:.2g}, the means of the same training passes by "
                 f"{exp.max_abs_diff['expected outputs']:.2g} (line: {SAME_NET_TOL:g}); its mean is "
                 f"{exp.final['lecture']:.2%} from its eval output. Scaling by the drop p instead leaves it "
                 f"{exp.final['lecture, scaled by drop p']:.1%} off"
                 + (" (p = 0.5: the two readings coincide)." if exp.p == 0.5 else "."))
    return [Verdict("inverted dropout keeps the mean", mean_text, passed=keeps),
            Verdict("test-time scaling is the same net", conv_text, passed=same <= SAME_NET_TOL)]


def expectation_figure(exp: Expectation):
    return dplots.expectation(exp.ks, exp.errors, exp.predicted,
                              title=f"Mean of k training passes vs the eval output "
                                    f"(p = {exp.p:g}, {exp.images} digits)")


def expectation_table(exp: Expectation) -> pd.DataFrame:
    rows = []
    for name, err in exp.final.items():
        pred = exp.predicted.get(name, [None])[-1]
        rows.append({"series": name, "passes": exp.ks[-1], "relative error": err, "sampling error alone": pred,
                     "ratio": sampling_ratio(err, pred) if pred is not None else None})
    return pd.DataFrame(rows)


# ---- regularisation -------------------------------------------------------------------------

def gap_numbers(histories: list[GapHistory]) -> dict:
    return {h.name: {**vars(h), "gap": h.gap, "settled_train": settled(h.train_accuracy),
                     "settled_test": settled(h.test_accuracy), "settled_gap": settled(h.gap)} for h in histories}


def gap_table(histories: list[GapHistory], mc: dict[str, MCResult] | None = None) -> pd.DataFrame:
    rows = []
    for h in histories:
        row = {"p": h.p, "train accuracy": settled(h.train_accuracy), "test accuracy": settled(h.test_accuracy),
               "gap": settled(h.gap), "final test accuracy": h.test_accuracy[-1], "diverged_at": h.diverged_at}
        if mc is not None:
            r = mc.get(h.name)
            row["MC accuracy"] = r.accuracy[-1] if r else None
            row["eval accuracy"] = r.eval_accuracy if r else None
        rows.append(row)
    return pd.DataFrame(rows)


def gap_verdict(histories: list[GapHistory], cfg: DropoutConfig) -> Verdict:
    parts = [f"p = {h.p:g}: train {settled(h.train_accuracy):.1%}, test {settled(h.test_accuracy):.1%}, "
             f"gap {settled(h.gap):.1%}" for h in histories]
    text = (f"Train/test accuracy on {cfg.train_images} training digits ({cfg.arch}, {cfg.depth} x {cfg.width}, "
            f"{cfg.epochs} epochs; mean of the last quarter of the evaluations): " + "; ".join(parts) + ".")
    diverged = [h for h in histories if h.diverged_at is not None]
    if diverged:  # a net whose loss blew up says nothing about regularisation: left out
        text += (" Diverged (loss not finite), left out of the comparison: "
                 + ", ".join(f"{h.name} at step {h.diverged_at}" for h in diverged) + "; lower the learning rate.")
    plain = next((h for h in histories if h.p == 0 and h.diverged_at is None), None)
    others = [h for h in histories if h.p > 0 and h.diverged_at is None]
    passed = None
    if plain is not None and others:
        narrower = [h for h in others if settled(h.gap) <= settled(plain.gap) - GAP_MARGIN]
        passed = 2 * len(narrower) >= len(others)
        text += (f" Narrower than without dropout by at least {GAP_MARGIN:.0%} point: "
                 f"{', '.join(f'p = {h.p:g}' for h in narrower) or 'none'} of {len(others)}.")
    return Verdict("dropout narrows the gap", text, passed=passed)


def gap_curves_figure(histories: list[GapHistory], cfg: DropoutConfig):
    return dplots.gap_curves([dict(name=h.name, eval_steps=h.eval_steps, train_accuracy=h.train_accuracy,
                                   test_accuracy=h.test_accuracy, gap=h.gap) for h in histories],
                             title=f"{cfg.arch.upper()} on {cfg.train_images} training digits, one net per p")


def gap_bars_figure(histories: list[GapHistory], cfg: DropoutConfig):
    return dplots.gap_bars([h.p for h in histories],
                           {"train accuracy": [settled(h.train_accuracy) for h in histories],
                            "test accuracy": [settled(h.test_accuracy) for h in histories],
                            "gap": [settled(h.gap) for h in histories]},
                           title="Train accuracy, test accuracy and their gap per p (mean of the last quarter)")


# ---- MC dropout -----------------------------------------------------------------------------

def mc_verdict(results: dict[str, MCResult], cfg: DropoutConfig) -> Verdict:
    parts = [f"{name}: distance {r.distance[0]:.3f} at k = 1 -> {r.distance[-1]:.3f} at k = {r.ks[-1]}; "
             f"accuracy one pass {r.single_pass_accuracy:.1%}, MC average {r.accuracy[-1]:.1%}, eval "
             f"{r.eval_accuracy:.1%}" for name, r in results.items()]
    if not results:  # every net with dropout diverged (mc_average is skipped for those)
        return Verdict("MC dropout approaches the eval pass", passed=None,
                       text="No net with dropout trained without diverging: nothing to average.")
    # one pass (mc_passes = 1) has nothing to approach from: no verdict either way
    passed = all(r.distance[-1] < r.distance[0] for r in results.values()) if cfg.mc_passes > 1 else None
    # Pure sampling noise would shrink like 1/sqrt(k); more than twice that line at the last k
    # means the average converges to something other than the eval pass.
    floors = [name for name, r in results.items() if r.distance[-1] > 2 * r.distance[0] / math.sqrt(r.ks[-1])]
    tail = (f" For {', '.join(floors)} it levels off above the 1/sqrt(k) line: the eval pass only approximates "
            f"the ensemble's average (exact for one dropout layer followed by something linear, before the "
            f"softmax)." if floors else " It keeps falling like 1/sqrt(k)." if cfg.mc_passes > 1
            else " One pass only: nothing to compare it with.")
    return Verdict("MC dropout approaches the eval pass", passed=passed, text=(
                   "The ensemble that shares parameters: the softmax averaged over k stochastic passes moves "
                   "towards the eval pass's (mean total variation distance over the test digits): "
                   + "; ".join(parts) + "." + tail))


def mc_figure(results: dict[str, MCResult]):
    return dplots.mc([dict(name=name, ks=r.ks, distance=r.distance, accuracy=r.accuracy,
                           eval_accuracy=r.eval_accuracy) for name, r in results.items()],
                     title="MC dropout: the average of k stochastic passes vs the eval pass")
