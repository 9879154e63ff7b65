"""What dropout does to one forward pass, measured on the lecture's two-layer net.

The lecture's example: ``f(x) = W2 max(0, W1 x + b1) + b2`` with dropout on the hidden units.
We draw its weights at random (any weights will do: the claims are about expectations over
masks, not about learning) and feed it digits.

- :func:`mask_demo`: the masks of a few training passes on one image, and eval's (none).
- :func:`keep_fractions`: the measured share of kept units against ``1 - p``.
- :func:`expectation`: the mean over many training passes against the eval output, for
  inverted dropout and for the lecture's convention (no scaling in training, eval scaled by
  the keep probability), with the sampling error expected from the masks alone; and what goes
  wrong without the test-time scaling, or when "the probability" is read as the drop probability.

>>> net = lecture_net(inputs=4, hidden=16, outputs=3, seed=0)
>>> net.hidden(torch.ones(2, 4)).shape
torch.Size([2, 16])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from cnnbp.device import derive_seed, make_generator
from cnnbp.lessons.dropout.masks import SeededDropout, apply_mask, draw_mask, eval_scale

BIAS_STD = 0.1  # small random biases, so that the test-time scaling visibly leaves b2 alone

# Fixed before any run, never tuned to a result:
KEEP_Z_MAX = 4.0  # a measured keep share more than 4 binomial standard errors from 1 - p is a bug
# "Keeps the mean": ||mean of k passes - eval|| at most 1.5x what the masks' sampling alone gives
# (the measured/predicted ratio of an unbiased mean concentrates near 1 over thousands of
# entries; a bias of a few % of the mean pushes it far above 1.5 at the default 1000 passes).
MEAN_RATIO_MAX = 1.5
# ... told only from 40 or more effectively independent entries: there an unbiased mean's ratio,
# sqrt(chi2_n / n), stays below 1.36 in 999 cases of 1000 (at n = 10 it passes 1.5 in 1 of 20)
MIN_EFFECTIVE_ENTRIES = 40
SAME_NET_TOL = 1e-5  # the two conventions' outputs: equal up to float32 rounding


@dataclass(frozen=True)
class LectureNet:
    """``f(x) = W2 max(0, W1 x + b1) + b2``; Kaiming-scaled W1, Xavier-scaled W2."""

    w1: torch.Tensor  # (H, D)
    b1: torch.Tensor  # (H,)
    w2: torch.Tensor  # (O, H)
    b2: torch.Tensor  # (O,)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D) -> (N, H): the units dropout acts on."""
        return torch.relu(x @ self.w1.T + self.b1)

    def out(self, h: torch.Tensor, *, w2_scale: float = 1.0, h_scale: float = 1.0) -> torch.Tensor:
        """(..., H) -> (..., O); ``w2_scale`` reparametrises W2, ``h_scale`` is a test-time scaling."""
        return (h * h_scale) @ (self.w2 * w2_scale).T + self.b2


def lecture_net(*, inputs: int, hidden: int, outputs: int, seed: int) -> LectureNet:
    """The lecture's net with weights from the named stream ``(seed, "lecture-net")``."""
    g = make_generator(derive_seed(seed, "lecture-net"))
    w1 = torch.randn(hidden, inputs, generator=g) * math.sqrt(2.0 / inputs)
    b1 = torch.randn(hidden, generator=g) * BIAS_STD
    w2 = torch.randn(outputs, hidden, generator=g) * math.sqrt(1.0 / hidden)
    b2 = torch.randn(outputs, generator=g) * BIAS_STD
    return LectureNet(w1, b1, w2, b2)


@dataclass
class MaskDemo:
    """Masks (1 = kept) and hidden activations of one image, as (rows x 16) grids of plain numbers."""

    p: float
    masks: list[list[list[float]]]  # [pass][row][col]
    dropped_hidden: list[list[list[float]]]  # [pass][row][col]: inverted dropout's output
    eval_hidden: list[list[float]]  # [row][col]: eval mode, no mask
    keep_fraction: list[float]  # per pass shown
    eval_is_identity: bool  # an eval pass through a dropout layer returned its input unchanged
    eval_draws: int  # random numbers an eval pass took from the mask stream (0: no mask drawn)

    @property
    def eval_untouched(self) -> bool:
        """Eval mode returned its input unchanged and drew no mask."""
        return self.eval_is_identity and self.eval_draws == 0


def _grid(v: torch.Tensor, cols: int) -> list[list[float]]:
    return v.reshape(-1, cols).tolist()


def mask_demo(net: LectureNet, image: torch.Tensor, *, p: float, passes: int, seed: int,
              cols: int = 16) -> MaskDemo:
    """``passes`` training passes of one flattened ``image`` (D,): a new mask each time."""
    g = make_generator(derive_seed(seed, "mask-demo", p))
    h = net.hidden(image[None])[0]  # (H,)
    masks = [draw_mask(h, p=p, generator=g) for _ in range(passes)]
    layer = SeededDropout(p, generator=g).eval()
    before = g.get_state()
    out = layer(h)
    drew = 0 if torch.equal(g.get_state(), before) else 1  # a generator's state moves with every draw
    return MaskDemo(
        p=p,
        masks=[_grid(m, cols) for m in masks],
        dropped_hidden=[_grid(apply_mask(h, m, p=p), cols) for m in masks],
        eval_hidden=_grid(h, cols),
        keep_fraction=[float(m.mean()) for m in masks],
        eval_is_identity=torch.equal(out, h),
        eval_draws=drew,
    )


@dataclass
class KeepFraction:
    p: float
    draws: int  # passes x units
    kept: float  # measured share of kept units
    expected: float  # 1 - p
    std_error: float  # sqrt(p (1 - p) / draws): the binomial spread of ``kept``

    @property
    def z(self) -> float:
        """(kept - expected) in standard errors (0 when p = 0: nothing is random)."""
        return 0.0 if self.std_error == 0 else (self.kept - self.expected) / self.std_error

    @property
    def as_expected(self) -> bool:
        """Within KEEP_Z_MAX binomial standard errors of 1 - p."""
        return abs(self.z) <= KEEP_Z_MAX


def keep_fractions(ps: list[float], *, units: int, passes: int, seed: int) -> list[KeepFraction]:
    """For each drop probability, the share of ``passes x units`` mask entries that are 1."""
    out = []
    for p in ps:
        g = make_generator(derive_seed(seed, "keep-fraction", p))
        mask = draw_mask(torch.empty(passes, units), p=p, generator=g)
        n = passes * units
        out.append(KeepFraction(p=p, draws=n, kept=float(mask.double().mean()), expected=1.0 - p,
                                std_error=math.sqrt(p * (1 - p) / n)))
    return out


def checkpoints(passes: int, *, points: int = 30) -> list[int]:
    """About ``points`` pass counts from 1 to ``passes``, evenly spaced on a log axis.

    >>> checkpoints(100, points=5)
    [1, 3, 10, 32, 100]
    """
    ks = {round(10 ** (math.log10(passes) * i / (points - 1))) for i in range(points)} if passes > 1 else {1}
    return sorted(ks | {passes})


@dataclass
class Expectation:
    """Relative L2 error ``||mean over k passes - reference|| / ||reference||`` at each ``k``."""

    p: float
    images: int
    ks: list[int]
    # series name -> error at each k; see :func:`expectation` for what each compares
    errors: dict[str, list[float]] = field(default_factory=dict)
    predicted: dict[str, list[float]] = field(default_factory=dict)  # sampling error alone, at each k
    # per predicted series: (sum of the entries' variances)^2 / sum of their squares, the number
    # of equally noisy independent entries the error behaves like (None: nothing is random)
    effective_entries: dict[str, float | None] = field(default_factory=dict)
    max_abs_diff: dict[str, float] = field(default_factory=dict)  # the conventions side by side
    final: dict[str, float] = field(default_factory=dict)  # errors at k = passes

    @property
    def ratios(self) -> dict[str, float]:
        """Each predicted series' final error over the sampling error alone."""
        return {name: sampling_ratio(self.final[name], pred[-1]) for name, pred in self.predicted.items()}

    @property
    def keeps_mean(self) -> bool | None:
        """Inverted dropout's mean is within MEAN_RATIO_MAX of its sampling error, hidden and
        output; None where too few effective entries make the ratio itself too noisy to tell."""
        if any(n is not None and n < MIN_EFFECTIVE_ENTRIES for n in self.effective_entries.values()):
            return None
        return all(r <= MEAN_RATIO_MAX for r in self.ratios.values())

    @property
    def same_net(self) -> bool:
        """The lecture's convention and inverted dropout give the same outputs (float32 rounding)."""
        return max(self.max_abs_diff.values()) <= SAME_NET_TOL


def effective_entries(variances: torch.Tensor) -> float | None:
    """How many equally noisy independent entries a sum of squared errors with these variances
    behaves like: (sum v)^2 / sum v^2 (None when nothing is random).

    >>> effective_entries(torch.ones(10)), effective_entries(torch.tensor([1.0, 0.0, 0.0]))
    (10.0, 1.0)
    """
    total = float(variances.double().sum())
    return total**2 / float((variances.double() ** 2).sum()) if total > 0 else None


def sampling_ratio(error: float, predicted: float) -> float:
    """Measured error over the sampling error alone; p = 0 predicts 0 (nothing is random), where
    only float rounding of the mean is allowed.

    >>> sampling_ratio(0.03, 0.02), sampling_ratio(1e-9, 0.0), sampling_ratio(0.1, 0.0)
    (1.5, 0.0, inf)
    """
    if predicted > 0:
        return error / predicted
    return 0.0 if error <= SAME_NET_TOL else math.inf


def _rel(a: torch.Tensor, ref: torch.Tensor) -> float:
    """||a - ref|| / ||ref||; a zero reference (every hidden unit off) counts only an exact match."""
    diff, size = float((a - ref).norm()), float(ref.norm())
    if size == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / size


@torch.no_grad()
def expectation(net: LectureNet, x: torch.Tensor, *, p: float, passes: int, seed: int,
                chunk: int = 50) -> Expectation:
    """Mean over ``passes`` training passes on ``x`` (N, D), against each convention's eval output.

    Series (relative L2 errors):
    - ``inverted hidden``: mean of the dropped hidden units vs the eval hidden units;
    - ``inverted``: mean of f's training outputs vs f in eval mode;
    - ``lecture``: the lecture's convention on the reparametrised net W2' = W2 / (1 - p)
      (the same function: only where the factor sits differs), training passes with the same
      masks, unscaled, vs eval with every hidden activation scaled by the keep probability;
    - ``lecture, no test scaling``: the same training passes vs an unscaled eval pass;
    - ``lecture, scaled by drop p``: vs eval scaled by ``p`` (the slide read with p = drop).
    ``predicted``: the error the masks' sampling alone gives, exactly:
    ``E||mean_k - E||^2 = (p / (q k)) * sum h^2`` (hidden) and ``sum_ij W2_ij^2 h_j^2`` (outputs).
    """
    q = 1.0 - p
    g = make_generator(derive_seed(seed, "expectation", p))
    h = net.hidden(x)  # (N, H)
    w2_lecture = 1.0 / q  # W2' = W2 / q: trained with the lecture's convention, the same net
    refs = {
        "inverted hidden": h,
        "inverted": net.out(h),
        "lecture": net.out(h, w2_scale=w2_lecture, h_scale=eval_scale(p, convention="lecture")),
        "lecture, no test scaling": net.out(h, w2_scale=w2_lecture),
        "lecture, scaled by drop p": net.out(h, w2_scale=w2_lecture, h_scale=p),
    }
    ks = checkpoints(passes)
    sums = {"inverted hidden": torch.zeros_like(h), "inverted": torch.zeros_like(refs["inverted"]),
            "lecture": torch.zeros_like(refs["inverted"])}
    errors: dict[str, list[float]] = {name: [] for name in refs}
    done = 0
    for k in ks:  # passes done + 1 .. k, in chunks; no running sums kept per pass
        while done < k:
            c = min(chunk, k - done)
            masks = draw_mask(h.expand(c, *h.shape), p=p, generator=g)  # (c, N, H): one mask per pass
            hidden = apply_mask(h, masks, p=p).sum(0)  # (N, H), summed over the c passes
            sums["inverted hidden"] += hidden
            sums["inverted"] += net.out(hidden) + (c - 1) * net.b2  # f is affine: sum of c outputs
            lecture = apply_mask(h, masks, p=p, convention="lecture").sum(0)
            sums["lecture"] += net.out(lecture, w2_scale=w2_lecture) + (c - 1) * net.b2
            done += c
        for name, ref in refs.items():
            source = "lecture" if name.startswith("lecture") else name
            errors[name].append(_rel(sums[source] / k, ref))
    means = {name: s / passes for name, s in sums.items()}
    var_entries = {"inverted hidden": (p / q) * h**2,  # per pass: Var(m h / q) of each entry
                   "inverted": (p / q) * ((h**2) @ (net.w2**2).T)}
    var_hidden, var_out = (float(v.sum()) for v in var_entries.values())
    size_hidden, size_out = float(h.norm()), float(refs["inverted"].norm())
    # all hidden units off: nothing to drop, no sampling error (var_hidden is 0 too)
    predicted = {"inverted hidden": [math.sqrt(var_hidden / k) / size_hidden if size_hidden else 0.0 for k in ks],
                 "inverted": [math.sqrt(var_out / k) / size_out if size_out else 0.0 for k in ks]}
    return Expectation(
        p=p, images=len(x), ks=ks, errors=errors, predicted=predicted,
        effective_entries={name: effective_entries(v) for name, v in var_entries.items()},
        max_abs_diff={
            # the two conventions' eval outputs: W2 h + b2 against (W2 / q)(q h) + b2
            "eval outputs": float((refs["inverted"] - refs["lecture"]).abs().max()),
            # their expected outputs: the means of the same training passes under each convention
            "expected outputs": float((means["inverted"] - means["lecture"]).abs().max()),
        },
        final={name: e[-1] for name, e in errors.items()},
    )
