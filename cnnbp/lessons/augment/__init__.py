"""Data augmentation, test-time augmentation and ensembles (lectures 003 and 004): registers the
lesson "augment" and its claims."""

from cnnbp.data import dataset_label
from cnnbp.lessons.augment.config import AugmentConfig
from cnnbp.lessons.augment.parts import PARTS
from cnnbp.lessons.base import Lesson, register

LESSON = register(Lesson(
    name="augment",
    title="Data augmentation",
    summary="One image through each transforms.v2 augmentation, as the batch the network sees (and where it "
            "changes the label: flipped digits, measured); a plain and an augmented net per seed on a small "
            "subset (train/test accuracy, the gap); test-time augmentation over fixed crops (and mirrors where "
            "they keep the label) against its cost in forward passes; ensembles of the seeds' nets against "
            "their mean member. Augmentation runs on the batch tensor, every image with its own draw from "
            "the run's seeded stream.",
    config=AugmentConfig,
    parts=PARTS,
    start=lambda cfg, parts: f"starting: {', '.join(p.name for p in parts)} on {dataset_label(cfg.dataset)}",
    figures=(
        ("gallery", "One image through each augmentation: one batch of copies each"),
        ("curves", "Train and test accuracy while training, plain vs augmented (first seed)"),
        ("accuracy", "Final test accuracy and train - test gap per seed"),
        ("flips", "Flipped test images called by another name, per class"),
        ("tta_views", "Each test-time view's prediction beside the average"),
        ("tta", "Accuracy without and with test-time augmentation"),
        ("ensemble", "Accuracy of the average of K nets vs the mean member"),
    ),
    tables=(("gallery", "What each augmentation does to the label"), ("accuracy", "Per seed and net"),
            ("flips", "Per class, per flip"), ("tta", "TTA per seed, with its cost"),
            ("ensemble", "Ensemble accuracy per K")),
    quick={"dataset": "digits", "gallery_size": 4, "train_images": 100, "test_images": 200, "epochs": 15,
           "seeds": 1, "tta_scales": ["1", "0.8"], "tta_examples": 2},
))

from cnnbp.lessons.augment import claims  # noqa: E402,F401  (registers the augmentation claims)
