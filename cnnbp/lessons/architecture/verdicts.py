"""The architecture lesson's verdicts: pure functions, results -> Verdict. The arithmetic claims are
exact (counts by the calculator and by torch, equal or not); a trained comparison holds only at
every seed (``Comparison.no_worse``)."""

from __future__ import annotations

from dataclasses import dataclass

from cnnbp.lessons.architecture.figures import human
from cnnbp.lessons.architecture.layers import SMALL_KERNEL, Row, Shape, halvings
from cnnbp.lessons.architecture.models import Summary
from cnnbp.lessons.architecture.receptive import EffectiveField
from cnnbp.lessons.architecture.stacks import MARGIN, MIN_SEEDS, STACKS, Comparison
from cnnbp.lessons.base import Verdict

# The lecture's example (004, "CONV Layer Parameter Count"): 90x90x10 in, 5 filters 3x3x10, stride 1, pad 1.
LECTURE_INPUT = Shape(90, 90, 10)
LECTURE_SPEC = "conv 5 k3 s1 p1"
LECTURE_PARAMS = 455
LECTURE_FC_BOUND = 3_280_500_000  # "the number of parameters is > 3,280,500,000"


@dataclass(frozen=True)
class ConvVsFc:
    """The lecture's example counted by the calculator and by torch (``sum(p.numel())``)."""

    conv_params: int
    conv_params_torch: int
    fc_params: int
    fc_params_torch: int
    out_shape: str

    @property
    def holds(self) -> bool:
        return (self.conv_params == self.conv_params_torch == LECTURE_PARAMS and self.out_shape == "90x90x5"
                and self.fc_params == self.fc_params_torch > LECTURE_FC_BOUND)


def conv_vs_fc(c: ConvVsFc) -> Verdict:
    return Verdict(label="455 parameters vs more than 3.28e9", claim="architecture.conv_455_vs_fc", passed=c.holds,
                   headline=f"conv: {c.conv_params:,} parameters; fully connected: {c.fc_params:,}",
                   text=(f"The lecture's 90x90x10 input through 5 filters 3x3x10, stride 1, pad 1: {c.out_shape}, "
                         f"5 x (3 x 3 x 10 + 1) = {c.conv_params} parameters (torch: {c.conv_params_torch}). A fully "
                         f"connected layer from its 81,000 inputs to the same 40,500 outputs: {c.fc_params:,} "
                         f"(torch: {c.fc_params_torch:,}), {c.fc_params / c.conv_params:,.0f} times more; the lecture "
                         f"says more than {LECTURE_FC_BOUND:,}."))


def torch_agrees(rows: list[Row], params_torch: int, flops_torch: int, out_torch: str) -> Verdict:
    params, macs = sum(r.params for r in rows), sum(r.macs for r in rows)
    agree = params == params_torch and flops_torch == 2 * macs and out_torch == rows[-1].out.text
    return Verdict(label="torch agrees with the calculator", passed=agree,
                   headline=(f"calculator {human(params)} parameters, {human(macs)} MACs; torch "
                             f"{human(params_torch)}, {human(flops_torch / 2)}"), text=(
        f"Your stack: {params:,} parameters (torch's sum of numel: {params_torch:,}), {macs:,} multiply-adds "
        f"(torch's FlopCounterMode: {flops_torch:,} FLOPs = 2 x {flops_torch / 2:,.0f}), output {rows[-1].out.text} "
        f"(torch: {out_torch}); receptive field of the last layer {rows[-1].rf_size[0]}x{rows[-1].rf_size[1]}."))


def too_large_for_torch(rows: list[Row]) -> Verdict:
    return Verdict(label="torch agrees with the calculator", passed=None,
                   headline=f"{human(sum(r.params for r in rows))} parameters: too large for torch to build", text=(
        f"Your stack: {human(sum(r.params for r in rows))} parameters, {human(sum(r.macs for r in rows))} "
        f"multiply-adds, output {rows[-1].out.text}: a weight or output of more than 2^62 elements, more than "
        "torch can build even on the meta device; the calculator's count stands alone."))


def advice(inp: Shape, rows: list[Row]) -> list[Verdict]:
    """The lecture's advice (004, "CNN Architecture") checked on the stack."""
    out = []
    halves = min(halvings(inp.height), halvings(inp.width))
    pools = [r for r in rows if r.layer.kind == "pool" or (r.layer.kind == "conv" and r.layer.stride > 1)]
    uneven = [r for r in pools if r.notes]
    out.append(Verdict(label="input divisible by 2 many times", passed=halves >= max(len(pools), 2) and not uneven,
                       headline=f"{inp.height}x{inp.width} halves {halves} time(s); {len(pools)} downsampling(s)",
                       text=(f"{inp.height}x{inp.width} halves {halves} time(s) without a remainder; the stack "
                             f"downsamples {len(pools)} time(s)" + (
                                 f", and layer(s) {', '.join(str(r.index) for r in uneven)} drop rows or columns "
                                 "(see the table's notes)" if uneven else "") + ". 224 halves 5 times, 32 five.")))
    kinds = [r.layer.kind for r in rows]
    bad_pools = [r.index for r in rows if r.layer.kind == "pool" and (r.index == 1 or kinds[r.index - 2] != "conv")]
    out.append(Verdict(label="a conv before each pool", passed=not bad_pools if "pool" in kinds else None,
                       headline=(f"{kinds.count('pool')} pool(s), {len(bad_pools)} without a conv before"
                                 if "pool" in kinds else "no pooling layer"), text=(
        "no pooling layer in the stack" if "pool" not in kinds else
        "every pool follows a conv" if not bad_pools else
        f"pool layer(s) {', '.join(map(str, bad_pools))} follow no conv")))
    large = [r for r in rows if r.layer.kind == "conv" and r.layer.kernel > SMALL_KERNEL]
    text = f"every conv is {SMALL_KERNEL}x{SMALL_KERNEL} or smaller" if not large else "; ".join(
        _stacked_instead(r.index, r.layer.kernel) for r in large)
    kernels = [r.layer.kernel for r in rows if r.layer.kind == "conv"]
    out.append(Verdict(label="small filters", passed=not large if kernels else None, text=text,
                       headline=f"largest conv kernel {max(kernels)}x{max(kernels)}" if kernels else "no conv layer"))
    return out


def _stacked_instead(index: int, k: int) -> str:
    if k % 2 == 0:
        return f"layer {index}: {k}x{k} (an even kernel has no centre pixel)"
    n = (k - 1) // 2
    return f"layer {index}: a {k}x{k} conv has {k * k}C^2 weights; {n} stacked 3x3 convs see {k}x{k} with {9 * n}C^2"


def vgg_fc(s: Summary) -> Verdict:
    largest = s.largest
    holds = s.fc_share > 0.5 and largest.kind == "Linear"
    return Verdict(label="VGG-16's parameters sit in its fc layers", claim="architecture.vgg16_params_in_fc",
                   passed=holds, headline=f"VGG-16: {human(s.params)} parameters, {s.fc_share:.0%} in its fc layers",
                   text=(
                       f"torchvision's VGG-16 built without weights: {s.params:,} parameters (sum of numel; our "
                       f"recurrence {s.params_by_recurrence:,}), {s.fc_params:,} ({s.fc_share:.1%}) in its 3 fc "
                       f"layers; the largest layer is {largest.name} ({largest.kind}, {largest.params:,}, "
                       f"{largest.params / s.params:.0%}), while the convs do "
                       f"{1 - sum(x.macs for x in s.counted.layers if x.kind == 'Linear') / s.macs:.0%} of the "
                       f"{human(s.macs)} multiply-adds."))


def counters(summaries: list[Summary]) -> Verdict:
    """Where the counters agree and why they seem not to."""
    exact = all(s.flops == 2 * s.macs for s in summaries)
    cards = [s for s in summaries if s.reported]
    card_text = "; ".join(f"{s.label}'s model card says {s.reported[1]:g} 'GFLOPS', which are our "
                          f"{s.macs / 1e9:.3g} G multiply-adds" for s in cards)
    equal = sum(s.flops == 2 * s.macs for s in summaries)
    return Verdict(label="counters", passed=exact,
                   headline=f"torch's FLOPs = 2 x our multiply-adds on {equal} of {len(summaries)} networks", text=(
        f"On {len(summaries)} networks torch's FlopCounterMode reports exactly 2 x our multiply-adds "
        f"({'all equal' if exact else 'NOT all equal'}): it counts 2 per multiply-add of the convs and matrix "
        f"products, and no bias, normalisation, activation, pooling or residual add. {card_text}: papers and "
        "model cards mostly call multiply-adds FLOPs, a factor 2 apart."))


def same_field_fewer_weights(pairs: list[tuple[str, str, int, int, int, int]], channels: int) -> Verdict:
    """``pairs``: (small, large, its field, the large's field, its weights by torch, the large's by torch)."""
    holds = all(rs == rl and ws == STACKS[s].weights(channels) < wl == STACKS[lg].weights(channels)
                for s, lg, rs, rl, ws, wl in pairs)
    relus = ", ".join(f"{STACKS[s].label} {STACKS[s].nonlinearities} vs {STACKS[lg].nonlinearities}"
                      for s, lg, *_ in pairs)
    text = "; ".join(f"{STACKS[s].label}: a {rs}x{rs} field with {ws:,} weights ({ws // channels ** 2}C^2), "
                     f"{STACKS[lg].label}: {rl}x{rl} with {wl:,} ({wl // channels ** 2}C^2)"
                     for s, lg, rs, rl, ws, wl in pairs)
    headline = "; ".join(f"{STACKS[s].label}: {rs}x{rs} with {ws // channels ** 2}C^2, not {wl // channels ** 2}C^2"
                         for s, lg, rs, rl, ws, wl in pairs)
    return Verdict(label="stacked 3x3 convs: same field, fewer weights", passed=holds, headline=headline,
                   claim="architecture.stacked_3x3_fewer_weights",
                   text=f"C = {channels}, no biases, counted by torch; fields by the recurrence and by gradients. "
                        f"{text}. Each stacked conv adds a ReLU: {relus}.")


def trained(c: Comparison) -> Verdict:
    small, large = STACKS[c.small], STACKS[c.large]
    diffs = ", ".join(f"{d:+.3f}" for d in c.differences)
    head = f"{small.label} minus {large.label}, final test accuracy per seed: {diffs}. "
    if len(c.differences) < MIN_SEEDS:
        tail = f"{len(c.differences)} seed(s): cannot tell (decided over at least {MIN_SEEDS} seeds)."
    elif c.no_worse is True:
        tail = (f"No seed falls more than {MARGIN:.0%} behind: no worse" + (", and ahead at every seed" if c.better
                else "") + f" with {small.weights(1)}C^2 instead of {large.weights(1)}C^2 weights.")
    elif c.no_worse is False:
        tail = f"Every seed falls more than {MARGIN:.0%} behind: worse here."
    else:
        tail = f"Seeds disagree about a {MARGIN:.0%} line: too close to call; more seeds or epochs can tell."
    return Verdict(label=f"trained: {c.small} vs {c.large}", passed=c.no_worse, text=head + tail,
                   headline=(f"{small.label} minus {large.label}: "
                             + "/".join(f"{d * 100:+.1f}" for d in c.differences) + " points"))


def effective(erf: EffectiveField, stack: str) -> Verdict:
    shape = ("gathered at its centre: the effective field is smaller than the theoretical one"
             if erf.centre > erf.centre_area else "no more at its centre than its area")
    return Verdict(label="effective receptive field", passed=None,
                   headline=f"{erf.centre:.0%} of the gradient on the central {erf.centre_area:.0%} of the field",
                   text=(
        f"Unit (layer {erf.layer}, row {erf.row}, col {erf.col}) of the trained {stack} net: {erf.inside:.1%} of "
        f"|d unit / d input| lies inside its {erf.size}x{erf.size} theoretical field (no pixel outside can reach "
        f"it); the central window holds {erf.centre:.0%} of it on {erf.centre_area:.0%} of the area: {shape}."))
