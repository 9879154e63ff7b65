"""Dropout (lecture 004): registers the lesson "dropout" and its claims."""

from cnnbp.lessons.base import Lesson, register
from cnnbp.lessons.dropout.config import DropoutConfig
from cnnbp.lessons.dropout.parts import PARTS

LESSON = register(Lesson(
    name="dropout",
    title="Dropout",
    summary="p is the drop probability (torch's); the lecture's test-time factor is the keep probability 1 - p. "
            "A new mask every training pass and none in eval, the share kept against 1 - p; inverted dropout's "
            "mean over many passes against the eval output, and the lecture's test-time scaling shown to be the "
            "same net; one net per p trained side by side on a small subset (train/test gap); MC dropout, the "
            "average of k stochastic passes against the eval pass.",
    config=DropoutConfig,
    parts=PARTS,
    start=lambda cfg, parts: f"starting: {len(cfg.parts)} parts; p = {cfg.p:g} is the drop probability (torch's)",
    figures=(
        ("masks", "Masks of a few training passes (1 = kept) and the hidden units they leave; eval: no mask"),
        ("keep_fraction", "Share of units kept vs 1 - p"),
        ("expectation", "Mean of k training passes vs the eval output, per convention"),
        ("gap_curves", "Train and test accuracy per p while training, and their gap"),
        ("gap_bars", "Train accuracy, test accuracy and gap per p"),
        ("mc", "MC dropout: the average of k stochastic passes vs the eval pass"),
    ),
    tables=(("keep_fraction", "Share kept per p"), ("expectation", "Mean of the training passes vs eval"),
            ("gap", "Per p: train and test accuracy, gap, MC and eval accuracy")),
    # every net's per-step batch losses (76 of the defaults' 116 KiB) are plotted nowhere: the page
    # leaves them out; the accuracy curves the figures draw stay
    drawn_numbers=("regularisation.*.steps", "regularisation.*.loss"),
    quick={"hidden": 64, "passes": 200, "images": 16, "drop_probs": ["0", "0.5"], "train_images": 50,
           "epochs": 20, "width": 64, "mc_passes": 20, "seeds": 1},
))

from cnnbp.lessons.dropout import claims  # noqa: E402,F401  (registers the dropout claims)
