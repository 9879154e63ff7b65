"""Batch normalisation (lecture 003): registers the lesson "batchnorm" and its claims."""

from cnnbp.lessons.base import Lesson, register
from cnnbp.lessons.batchnorm.config import PART_NAMES, BatchNormConfig
from cnnbp.lessons.batchnorm.parts import PARTS, start_message

LESSON = register(Lesson(
    name="batchnorm",
    title="Batch normalisation",
    summary="One BatchNorm layer up close: running statistics converging to the data's, the same input in "
            "train and eval mode, eval = the running-statistics formula, gamma = sigma and beta = mu giving the "
            "identity. The same CNN with and without BN from a bad init and at a high learning rate (steps to a "
            "target accuracy), BN before vs after the nonlinearity, the classic bug of evaluating in train mode, "
            "and BN folded into the conv for inference (outputs and time, vs PyTorch's fuse_conv_bn_eval).",
    config=BatchNormConfig,
    parts=PARTS,
    start=start_message,
    figures=(
        ("running_stats", "Running mean and variance converging to the data's statistics"),
        ("checks", "Train vs eval, the formulas and the identity: max absolute differences"),
        ("train_eval", "The same inputs in eval mode and in train mode"),
        ("curves", "With and without BN: bad init, high learning rate, placement"),
        ("steps_to_target", "Steps to the target accuracy"),
        ("bug", "Evaluating a BN net in train mode (the classic bug)"),
        ("folding", "BN folded into the conv: inference time"),
    ),
    tables=(("checks", "One BN layer: what was compared"), ("training", "CNNs, per variant"),
            ("bug", "Eval mode vs train mode"), ("folding", "Folded vs unfolded")),
    # every part: the quick numbers were recorded with placement, before it left the default run
    quick={"parts": list(PART_NAMES), "stat_steps": 60, "depth": 2, "width": 8, "epochs": 2, "fold_batch": 64,
           "fold_repeats": 5, "seeds": 1},
))

from cnnbp.lessons.batchnorm import claims  # noqa: E402,F401  (registers the batch-normalisation claims)
