"""Normalisation layers (lectures 000, 001, 003): registers the lesson "norms" and its claims."""

from cnnbp.lessons.base import Lesson, register
from cnnbp.lessons.norms.config import PART_NAMES, NormsConfig
from cnnbp.lessons.norms.parts import PARTS, start_message

LESSON = register(Lesson(
    name="norms",
    title="Normalisation layers",
    summary="BatchNorm, LayerNorm, InstanceNorm and GroupNorm: which cells of an N x C x H x W tensor share a "
            "statistic (books, pages, words; checked against PyTorch); GroupNorm(1, C) = LayerNorm and "
            "GroupNorm(C, C) = InstanceNorm, measured; InstanceNorm's contrast invariance; the same CNN trained "
            "with each norm; accuracy as the batch shrinks to 2 and what batch size 1 does to BatchNorm; "
            "SyncBatchNorm simulated over K devices.",
    config=NormsConfig,
    parts=PARTS,
    start=start_message,
    figures=(
        ("picture", "N books x C pages x H*W words: the cells one statistic averages, per norm"),
        ("contrast", "Contrast change: InstanceNorm vs BatchNorm (eval) outputs"),
        ("compare_curves", "The same CNN with each norm: training loss and test accuracy"),
        ("compare_final", "Final test accuracy and time per epoch, per norm"),
        ("sweep", "Final test accuracy as the batch size falls (and BatchNorm at batch 1): tick sweep in parts"),
        ("sync_noise", "SyncBatchNorm: per-device statistics' error vs images per device: tick sync in parts"),
        ("sync_accuracy", "SyncBatchNorm: accuracy with per-device vs synchronised statistics: tick sync in parts"),
    ),
    tables=(("picture", "Reduction axes per norm"), ("equivalences", "GroupNorm's equivalences: max abs difference"),
            ("contrast", "Contrast change: max abs output change per norm"),
            ("compare", "Side by side: final accuracy and time per epoch"), ("sweep", "Batch-size sweep, per run"),
            ("batch_one", "Batch size 1: what PyTorch does"), ("sync", "SyncBatchNorm simulation")),
    # every part (sweep and sync are not in the default run), evaluated 4 times an epoch as before
    quick={"parts": list(PART_NAMES), "evals_per_epoch": 4,
           "epochs": 1, "seeds": 1, "sweep_images": 128, "sweep_epochs": 1, "sweep_seeds": 1, "width": 8,
           "groups": 2, "norms": ["none", "batch", "group"], "sweep_batches": ["16", "2"],
           "sync_devices": ["2", "8"]},
))

from cnnbp.lessons.norms import claims  # noqa: E402,F401  (registers the normalisation claims)
