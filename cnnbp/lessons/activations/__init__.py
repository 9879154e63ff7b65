"""Activation functions (lecture 003): registers the lesson "activations" and its claims.

config.py (settings, cost), parts.py (the run), verdicts.py, figures.py, claims.py; the
experiments: functions.py, zero_centred.py, selu.py, race.py.
"""

from cnnbp.lessons.activations.config import PART_NAMES, ActivationsConfig
from cnnbp.lessons.activations.parts import PARTS, start_message
from cnnbp.lessons.base import Lesson, register

LESSON = register(Lesson(
    name="activations",
    title="Activation functions",
    summary="Every activation of the registry with its derivative and where it saturates; the lecture's "
            "x = -10, 0, 10; why non-zero-centred outputs give same-sign gradients (and a zig-zag path); "
            "SELU's self-normalisation in a deep plain MLP; a small CNN trained with each activation "
            "(steps to a target accuracy, ratio to ReLU) and at a too-large learning rate (dead ReLUs), its "
            "verdicts decided over 3 seeds.",
    config=ActivationsConfig,
    parts=PARTS,
    start=start_message,
    figures=(
        ("functions", "Every activation f(x) and its derivative f'(x); shaded: saturated"),
        ("same_sign", "Same-sign weight gradients: all-positive vs zero-centred inputs"),
        ("zigzag", "The zig-zag: SGD on two weights, all-positive vs zero-mean inputs"),
        ("selu", "Deep plain MLP: per-layer mean and std, SELU vs ReLU vs tanh"),
        ("race_curves", "CNN training loss and test accuracy, one line per activation"),
        ("steps_to_target", "Steps to the target accuracy"),
        ("dead", "Dead units per layer during training, low vs high learning rate: tick dead in parts"),
    ),
    tables=(("at_points", "x = -10, 0, 10: value and gradient"), ("same_sign", "Same-sign gradients and the zig-zag"),
            ("selu", "Deep MLP, per layer"), ("race", "CNN, per variant")),
    # the curves and the loss surface are drawn whole in their figures: the page's numbers keep the
    # statistics (saturated share, peak, path length, steps), not the grids
    drawn_numbers=("functions.x", "functions.curves.*.value", "functions.curves.*.grad",
                   *(f"zigzag.*.{grid}" for grid in ("grid_loss", "grid_w1", "grid_w2"))),
    # every part (dead is not in the default run)
    quick={"parts": list(PART_NAMES), "functions": ["sigmoid", "tanh", "relu", "leaky_relu", "maxout"],
           "mlp_depth": 20, "mlp_width": 128,
           "activations": ["sigmoid", "relu"], "dead_activations": ["relu", "leaky_relu"], "epochs": 3,
           "seeds": 1},
))

from cnnbp.lessons.activations import claims  # noqa: E402,F401  (registers the activation claims)
