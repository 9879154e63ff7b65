"""The transfer lesson's verdicts: results in, wording out. Each reads its claim's predicate on
the result object (comparison.py, sweep.py, selection.py), never a test of its own."""

from __future__ import annotations

from cnnbp.lessons.base import Verdict
from cnnbp.lessons.transfer.comparison import FORGET_MARGIN, Comparison, Forgetting, Scores
from cnnbp.lessons.transfer.config import TransferConfig
from cnnbp.lessons.transfer.selection import RHO_LINE, Selection
from cnnbp.lessons.transfer.strategies import EVALS
from cnnbp.lessons.transfer.sweep import RuleCell


def _steps(n: int | None) -> str:
    return str(n) if n is not None else "never"


def compare_verdicts(cfg: TransferConfig, result: Comparison, scores: Scores) -> list[Verdict]:
    out = []
    finetune, lora = result.run("finetune"), result.run("lora")
    if scores.frozen_beats_scratch is not None:
        claim = "transfer.small_similar_frozen_beats_scratch"
        out.append(Verdict(
            label=claim, claim=claim, passed=scores.frozen_beats_scratch,
            text=f"Frozen {cfg.source} features (stage {cfg.stage}) + logistic regression: "
                 f"{scores.accuracy['linear_probe']:.1%} test accuracy; scratch after {cfg.steps} steps: "
                 f"{scores.accuracy['scratch']:.1%} ({cfg.images_per_class} images per class of {cfg.target})."))
    if scores.pretrained_faster is not None:
        claim = "transfer.pretrained_converges_faster"
        out.append(Verdict(
            label=claim, claim=claim, passed=scores.pretrained_faster,
            text=f"Steps to {cfg.target_accuracy:.0%} test accuracy: fine-tuned {_steps(scores.steps_to['finetune'])}, "
                 f"scratch {_steps(scores.steps_to['scratch'])} (of {cfg.steps}; measured every "
                 f"{max(1, cfg.steps // EVALS)} steps)."))
    if lora is not None and finetune is not None:
        out.append(Verdict(
            label="LoRA", passed=None,
            text=f"LoRA rank {cfg.lora_rank}: {lora.final_accuracy:.1%} with {lora.trainable:,} trainable parameters "
                 f"({lora.trainable / lora.total:.0%}); full fine-tuning {finetune.final_accuracy:.1%} with "
                 f"{finetune.trainable:,} (100%)."))
    return out


def forgetting_verdict(cfg: TransferConfig, result: Forgetting) -> Verdict:
    low, high = result.low, result.high
    wrecked = (f" At lr {cfg.forget_lr:g} the target accuracy is at chance too: the large rate wrecked the network, "
               "it did not trade the source task for the target." if result.wrecked else "")
    claim = "transfer.large_lr_forgets"
    return Verdict(
        label=claim, claim=claim, passed=result.forgets,
        text=f"Source-task accuracy of {cfg.source}: {low['before']:.1%} before; after fine-tuning at lr {cfg.lr:g}: "
             f"{low['after']:.1%}, at lr {cfg.forget_lr:g}: {high['after']:.1%} (target accuracy {low['target']:.1%} "
             f"vs {high['target']:.1%}; line: the larger rate loses {FORGET_MARGIN:.0%} more).{wrecked}")


def size_verdicts(cfg: TransferConfig, rows: list[Scores]) -> list[Verdict]:
    small, large = rows[0], rows[-1]
    claim = "transfer.large_finetune_beats_freezing"
    return [
        Verdict(label=claim, claim=claim, passed=large.finetune_beats_freezing,
                text=f"{large.per_class} images per class: fine-tune all {large.accuracy['finetune']:.1%}, "
                     f"linear probe {large.accuracy['linear_probe']:.1%}, bottom {cfg.freeze_stages} stages frozen "
                     f"{large.accuracy['freeze']:.1%}."),
        Verdict(label="gap at small data", passed=None,
                text=f"Pretrained minus scratch: {small.pretrained_gap:+.1%} at {small.per_class} per class, "
                     f"{large.pretrained_gap:+.1%} at {large.per_class} (lecture: 9.9 vs 3.5 AP, a gap that closes "
                     "with data)."),
    ]


def rule_verdicts(cfg: TransferConfig, cells: list[RuleCell]) -> list[Verdict]:
    agree = sum(c.agrees for c in cells)
    negative = [c for c in cells if c.negative_transfer]
    parts = [f"{c.similarity} / {c.size}: {c.best} (lecture: {c.lecture})" for c in cells]
    out = [Verdict(label="rule of thumb", passed=None,
                   text=f"Best strategy per cell on {cfg.target}: " + "; ".join(parts)
                        + f". The measured best agrees with the lecture in {agree} of 4 cells.")]
    if negative:
        out.append(Verdict(label="negative transfer", passed=None, text="Negative transfer: fine-tuned from the "
                           "dissimilar source, the network ends below scratch (" + "; ".join(
                               f"{c.source} at {c.row.per_class}/class: {c.row.accuracy['finetune']:.1%} vs scratch "
                               f"{c.row.accuracy['scratch']:.1%}, its linear probe {c.row.accuracy['linear_probe']:.1%}"
                               for c in negative) + ")."))
    else:
        out.append(Verdict(label="negative transfer", passed=None, text="No negative transfer found: fine-tuned "
                           "from the dissimilar source, the network never ended below scratch here."))
    return out


def selection_verdict(cfg: TransferConfig, result: Selection) -> Verdict:
    order = sorted(result.rows, key=lambda r: -r["similarity"])
    claim = "transfer.similarity_ranks_sources"
    return Verdict(
        label=claim, claim=claim, passed=result.ranks_sources,
        text="Mean-feature cosine similarity -> linear-probe accuracy on "
             f"{cfg.target}: " + ", ".join(f"{r['source']} {r['similarity']:.3f} -> {r['accuracy']:.1%}" for r in order)
             + f"; Spearman {result.spearman:.2f} (line: {RHO_LINE:g}).")
