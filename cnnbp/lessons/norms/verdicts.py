"""The normalisation lesson's verdicts: pure functions, measured results -> Verdict (the wording
and the lines; the predicates themselves live on the result objects)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnbp.lessons.base import Verdict
from cnnbp.lessons.norms import real_data
from cnnbp.lessons.norms.batch_one import BatchOneResult
from cnnbp.lessons.norms.contrast import CHANGED_ABOVE, INVARIANT_RATIO, ContrastResult
from cnnbp.lessons.norms.equivalences import Equivalences
from cnnbp.lessons.norms.races import MIN_SEEDS, Paired, SideBySide
from cnnbp.lessons.norms.training import NormRun

if TYPE_CHECKING:
    from cnnbp.lessons.norms.config import NormsConfig

NAMES = {"batch": "BatchNorm", "group": "GroupNorm", "layer": "LayerNorm", "instance": "InstanceNorm",
         "none": "no norm"}
LOSS_AGREES = 1e-5  # two training losses "agree" (float32 rounding of a loss of order 1); fixed before any run


def counted(count: int, word: str) -> str:
    """"1 epoch", "3 epochs"."""
    return f"{count} {word}{'s' * (count != 1)}"


def picture_verdict(numbers: dict, cfg: NormsConfig) -> Verdict:
    n, c, h, w = numbers["shape"]
    parts = [f"{p['label']} {p['set_size']} cells ({p['statistics']} statistics)" for p in numbers["norms"].values()]
    agree = all(p["torch_agrees"] for p in numbers["norms"].values())
    cells = ", ".join(f"{p['label']} {p['set_size']}" for p in numbers["norms"].values())
    return Verdict(label="N x C x H x W picture", passed=agree, headline=f"cells sharing statistics: {cells}", text=(
        f"A {n} x {c} x {h} x {w} tensor ({n} books, {c} pages per book, {h * w} words per page), the cell of book "
        f"{cfg.cell_sample}, page {cfg.cell_channel}: it shares its mean and variance with " + ", ".join(parts)
        + f" (GroupNorm with {cfg.picture_groups} groups). The lit cells are exactly those whose input moves "
        f"torch's own functional norm at that cell (autograd): {'all four agree' if agree else 'MISMATCH'}."))


def equivalence_verdict(result: Equivalences) -> Verdict:
    parts = [f"{r['pair']} ({r['dtype']}): max abs diff {r['max_abs_diff']:.2g} (tolerance {r['tolerance']:g})"
             for r in result.rows]
    largest = max(r["max_abs_diff"] for r in result.rows)
    return Verdict(label="GroupNorm equivalences", passed=result.equal, claim="norms.group_norm_equivalences",
                   headline=f"GN(1 group) = LN, GN(C groups) = IN: largest difference {largest:.1g}",
                   text=f"On one N(0, 1) tensor of shape {tuple(result.rows[0]['shape'])}: " + "; ".join(parts) + ".")


def contrast_words(result: ContrastResult) -> str:
    """InstanceNorm's change against the control's, in words (the verdict's and the figure's)."""
    c = result.change
    if result.ratio is None:
        return (f"BatchNorm's output moves by only {c['batch']:.2g} (below {CHANGED_ABOVE:g}): too small a contrast "
                "change to tell")
    moves = f"InstanceNorm's output moves by {c['instance']:.2g}, {result.ratio:.2%} of BatchNorm's {c['batch']:.2g}"
    return moves + (" (invariant)" if result.invariant else " (not invariant)")


def contrast_verdict(result: ContrastResult) -> Verdict:
    c = result.change
    others = ", ".join(f"{n} {c[n]:.2g}" for n in c if n not in ("instance", "batch"))
    eps_note = (f"{result.instance_without_eps:.1g} with eps = 0, so the rest is eps's doing"
                if result.instance_without_eps is not None else "a flat map: no eps-free figure")
    headline = (f"BatchNorm moves only {c['batch']:.2g}: too small to tell" if result.ratio is None else
                f"InstanceNorm moves {result.ratio:.2%} as much as BatchNorm")
    return Verdict(label="InstanceNorm contrast invariance", passed=result.invariant,
                   claim="norms.instance_norm_contrast_invariance", headline=headline, text=(
        f"Images x -> {result.scale:g} x + {result.shift:g} (not clipped, so the change stays affine), then one conv "
        f"layer and a norm; BatchNorm in eval, with its statistics fixed, is the control. {contrast_words(result)}; "
        f"invariant means below {INVARIANT_RATIO:.0%} of the control's change ({eps_note}). Max abs change of the "
        f"others: {others}: LayerNorm and GroupNorm pool channels whose shifts differ, so only the scale cancels."))


def best_words(race: SideBySide) -> str:
    """Which norm trained the best CNN, decided over the seeds (the verdict's and the bars' title)."""
    n, lead = len(race.seeds), race.leader
    others = [b for o in race.accuracy if o != lead and (b := race.best_seed(o)) is not None]
    if lead is None:
        return "no run finished"
    if len(race.accuracy) == 1:
        return f"only {lead} trained: nothing to compare"
    if n < MIN_SEEDS:
        return (f"highest mean: {lead}; {counted(n, 'seed')} cannot tell which norm is best "
                f"(it takes at least {MIN_SEEDS})")
    worst = f"{race.leader_worst:.1%}" if race.leader_worst is not None else "diverged"
    if race.best is not None:
        beaten = f"every other norm's best ({max(others):.1%})" if others else "the others, which all diverged"
        return f"best: {lead}, its worst seed ({worst}) above {beaten}"
    close = ", ".join(f"{o} ({race.best_seed(o):.1%})" for o in race.contenders)
    return f"highest mean: {lead}, too close to call: its worst seed ({worst}) is reached by the best of {close}"


def compare_verdict(numbers: dict, race: SideBySide, cfg: NormsConfig) -> Verdict:
    parts = []
    for r in numbers["summary"]:
        if r["mean"] is None:
            parts.append(f"{r['norm']}: diverged or stopped")
            continue
        spread = f" (seeds {', '.join(f'{a:.1%}' for a in r['seeds'])})" if len(r["seeds"]) > 1 else ""
        parts.append(f"{r['norm']} {r['mean']:.1%}{spread}, {r['seconds_per_epoch']:.2f} s/epoch")
    best = best_words(race)
    means = ", ".join(f"{NAMES.get(r['norm'], r['norm'])} " + ("diverged" if r["mean"] is None else f"{r['mean']:.0%}")
                      for r in numbers["summary"])
    return Verdict(label="norms side by side", headline=f"final accuracy: {means}", text=(
        f"Same CNN ({cfg.depth} convs, width {cfg.width}), same data order and init per seed, "
        f"{counted(cfg.epochs, 'epoch')} at batch {cfg.batch_size}, lr {cfg.lr:g}; final test accuracy: "
        + "; ".join(parts) + f". {best[0].upper()}{best[1:]}."))


def per_seed(race: Paired, names: dict[str, str]) -> str:
    """"seed 0: GroupNorm 89.7%, BatchNorm 93.9%; seed 1: ..." (``names``: norm -> its name)."""
    def show(acc: float | None) -> str:
        return f"{acc:.1%}" if acc is not None else "diverged"
    return "; ".join(f"seed {s}: {names[race.a]} {show(a)}, {names[race.b]} {show(b)}"
                     for s, a, b in zip(race.seeds, race.a_accuracy, race.b_accuracy))


def race_words(race: Paired, names: dict[str, str]) -> str:
    """The race's decision: a ahead on every seed, b ahead on every seed, split, or too few seeds."""
    a, b, n = names[race.a], names[race.b], len(race.seeds)
    if not race.enough_seeds:
        return f"{counted(n, 'seed')} cannot tell (a race is decided over at least {MIN_SEEDS})"
    by = f" by more than {race.margin * 100:g} points" if race.margin else ""
    if race.a_wins is None:
        return f"{a} ahead{by} on {race.a_ahead_on} of {n} seeds, {b} on {race.b_ahead_on}: too close to call"
    winner = a if race.a_wins else b
    return f"{winner} ahead{by} on every one of the {n} seeds"


def sweep_verdict(summary: dict, race: Paired | None, cfg: NormsConfig) -> Verdict:
    lines = [f"{norm}: " + ", ".join(f"batch {b} {m:.1%}" for b, m in zip(v["batch_sizes"], v["mean"]))
             for norm, v in summary.items()]
    smallest = min(cfg.batch_list())
    decided = ""
    if race is not None:
        decided = (f" At batch {smallest}, {per_seed(race, NAMES)}: {race_words(race, NAMES)}"
                   + {True: ", so GroupNorm beats BatchNorm.", False: ", so GroupNorm does not beat BatchNorm here.",
                      None: "."}[race.a_wins])
        gaps = [(b, summary["batch"]["mean"][summary["batch"]["batch_sizes"].index(b)]
                 - summary["group"]["mean"][summary["group"]["batch_sizes"].index(b)])
                for b in summary["batch"]["batch_sizes"] if b in summary["group"]["batch_sizes"]]
        decided += (" BatchNorm minus GroupNorm, means: "
                    + ", ".join(f"batch {b} {g * 100:+.1f} points" for b, g in gaps)
                    + f". At batch {smallest} BatchNorm's statistics in the first layers still pool {smallest} x "
                    f"{cfg.first_map_pixels()} positions per channel.")
    at_smallest = ", ".join(f"{NAMES.get(norm, norm)} {v['mean'][v['batch_sizes'].index(smallest)]:.0%}"
                            for norm, v in summary.items() if smallest in v["batch_sizes"])
    return Verdict(label="GroupNorm vs BatchNorm at small batches", passed=race.a_wins if race else None,
                   headline=f"batch {smallest}: {at_smallest}",
                   claim=small_batch_claim(cfg.dataset) if smallest == 2 and race else None, text=(
        f"Final test accuracy, {cfg.sweep_images} training images, {counted(cfg.sweep_epochs, 'epoch')} at every "
        f"batch size (lr scaled linearly with the batch, as the GroupNorm paper trains), mean of "
        f"{counted(cfg.sweep_seeds, 'seed')}: " + "; ".join(lines) + "." + decided))


def small_batch_claim(dataset: str) -> str:
    """The claim the batch-2 race measures: on real images its own, on the rest the digits' one."""
    return real_data.CLAIM_ID if real_data.is_real(dataset) else "norms.group_beats_batch_at_batch_2"


def batch_one_verdict(result: BatchOneResult, cnn: NormRun | None, sweep: dict | None, cfg: NormsConfig) -> Verdict:
    text = ("Fully connected BatchNorm at batch size 1: PyTorch "
            + (f"refuses to train: \"{result.error}\". " if result.refused else "accepts it. ")
            + f"Why: the batch's mean is the sample itself, so x - m = {result.centred_max:g} and the variance is "
              f"{result.variance_max:g} for every feature; four different samples all come out as the same "
              f"vector (range {result.output_spread:g}) and the gradient reaching the input is "
              f"{result.input_grad_max:g}: nothing is learnt. ")
    if result.conv_accepted:
        text += (f"On conv features PyTorch accepts batch size 1 (each channel still has H x W values): the "
                 f"statistics are one image's own, so in training BatchNorm2d is InstanceNorm (max abs diff "
                 f"{result.conv_vs_instance:.2g}), while eval uses running averages of them. ")
    if "sweep" not in cfg.parts:
        text += "Tick sweep in parts to train a BatchNorm CNN at batch 1 beside the sweep's batch sizes."
    elif cnn is not None:
        if cnn.final_accuracy is None:
            text += f"Our BatchNorm CNN at batch 1 diverged at step {cnn.diverged_at}."
        else:
            text += (f"Our BatchNorm CNN trained at batch 1 ({cfg.sweep_images} images, "
                     f"{counted(cfg.sweep_epochs, 'epoch')}): "
                     f"{cnn.final_accuracy:.1%} test accuracy in eval mode")
            bn = (sweep or {}).get("batch")
            if bn and bn["batch_sizes"]:
                text += (f" (batch {bn['batch_sizes'][-1]}: {bn['mean'][-1]:.1%}, mean of "
                         f"{counted(len(bn['seeds'][-1]), 'seed')})")
            text += "."
    return Verdict(label="batch size 1 breaks BatchNorm", passed=result.breaks_batchnorm,
                   headline=(f"batch 1: x - m = {result.centred_max:g}, variance {result.variance_max:g}, input "
                             f"gradient {result.input_grad_max:g}"),
                   claim="norms.batch_size_one_breaks_batchnorm", text=text)


def sync_verdict(numbers: dict, cfg: NormsConfig, compare: dict | None = None) -> Verdict:
    check = numbers["check"]
    diffs = ", ".join(f"{k} {v:.2g} ({check['relative_diff'][k]:.1g} of its largest value)"
                      for k, v in check["max_abs_diff"].items())
    noise = "; ".join(f"{n['per_device_batch']:g} images/device: mean off by {n['mean_error']:.2f} std, std off by "
                      f"{n['std_error']:.0%}" for n in numbers["noise"] if n["devices"] > 1)
    accs = "; ".join(f"{r['name']}: " + (f"{r['final_accuracy']:.1%}" if r["final_accuracy"] is not None
                                         else "diverged") for r in numbers["runs"])
    relative = max(check["relative_diff"].values())
    return Verdict(label="SyncBatchNorm", passed=check["equal"],
                   headline=f"{check['devices']} synced devices = whole-batch BN to {relative:.1g} (relative)", text=(
        f"Synchronised statistics over {check['devices']} simulated devices equal whole-batch BatchNorm: max abs "
        f"diff {diffs} (tolerance {check['tolerance']:g}, relative). "
        f"Per-device statistics of a batch of {cfg.sync_batch}: "
        f"{noise}. Test accuracy after {counted(cfg.epochs, 'epoch')}: {accs}."
        + _plain_bn_note(numbers, cfg, compare)))


def _plain_bn_note(numbers: dict, cfg: NormsConfig, compare: dict | None) -> str:
    """The synchronised run against plain BatchNorm's side-by-side run of the same seed, where
    the two share the batch size: the same network, so the same losses until float rounding
    (different summation order) sends the two SGD paths apart."""
    plain = (compare or {}).get("runs", {}).get(f"batch, seed {cfg.seed}")
    synced = next((r for r in numbers["runs"] if r["sync"]), None)
    if not plain or not synced or cfg.batch_size != cfg.sync_batch or plain["final_accuracy"] is None \
            or synced["final_accuracy"] is None:
        return ""
    same = 0
    for a, b in zip(plain["loss"], synced["loss"]):
        if a is None or b is None or abs(a - b) > LOSS_AGREES:
            break
        same += 1
    return (f" Plain BatchNorm at batch {cfg.batch_size} (side by side, same seed) and the synchronised simulation: "
            f"training losses within {LOSS_AGREES:g} for the first {same} of {len(synced['loss'])} steps, then "
            f"apart by float rounding; final accuracy {plain['final_accuracy']:.1%} vs {synced['final_accuracy']:.1%}.")
