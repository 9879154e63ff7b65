"""Label imbalance (lectures 000-002): registers the lesson "imbalance" and its claims."""

from cnnbp.lessons.base import Lesson, register
from cnnbp.lessons.imbalance.config import ImbalanceConfig
from cnnbp.lessons.imbalance.parts import LIVE, PARTS, start_message
from cnnbp.lessons.imbalance.training import LECTURE_METHODS

LESSON = register(Lesson(
    name="imbalance",
    title="Label imbalance",
    summary="An imbalanced training set (digits or shapes; one rare class against the rest, or a long tail "
            "up to 1:500) and each fix trained side by side on the same data, seed and step budget: none, "
            "over-sampling, under-sampling, loss reweighted by the inverse class ratio or the effective number, "
            "balanced batches, focal loss. Every metric from scikit-learn next to the always-the-majority "
            "baseline (the accuracy paradox), on a balanced and a same-ratio test set; ROC and PR curves; the "
            "lecture's two scenarios in numbers. Move the threshold: the kept predictions are re-scored at once.",
    config=ImbalanceConfig,
    parts=PARTS,
    start=start_message,
    figures=(
        ("histogram", "Images per class (train, test) and the class share each method's batches drew"),
        ("curves", "Training loss, test balanced accuracy and rare-class recall, one line per method"),
        ("metrics", "Accuracy, balanced accuracy, macro-F1, rare recall and precision, ROC-AUC, PR-AUC"),
        ("confusion", "Confusion matrices (counts; colour: share of the true class)"),
        ("roc", "ROC curves of the rare class with the chance line; circles: the threshold"),
        ("pr", "Precision-recall curves with the chance line; circles: the threshold"),
    ),
    tables=(("metrics", "Every metric, both test sets"), ("per_class", "Per class: precision, recall, F1, FPR"),
            ("seeds", "Per method and seed: the recalls and macro-F1 the comparisons read"),
            ("scenarios", "The lecture's two scenarios (binary, same-ratio test set)")),
    quick={"methods": list(LECTURE_METHODS), "steps": 60, "seeds": 1},
    live=LIVE,
))

from cnnbp.lessons.imbalance import claims  # noqa: E402,F401  (registers the imbalance claims)
