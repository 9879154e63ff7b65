"""Weight initialisation (lecture 003): registers the lesson "init" and its claims."""

from cnnbp.lessons.base import Lesson, register
from cnnbp.lessons.init.config import InitConfig
from cnnbp.lessons.init.parts import PARTS, start_message

LESSON = register(Lesson(
    name="init",
    title="Initialisation",
    summary="Per-layer activation and gradient statistics for std 0.01 / 0.05 / Xavier / Kaiming and "
            "more: the lecture's 6 x 4096 MLP, a small CNN trained live, and constant init's symmetry.",
    config=InitConfig,
    parts=PARTS,
    start=start_message,
    figures=(
        ("classic_histograms", "Rows of histograms: activations per layer, one row per init"),
        ("classic_profiles", "Mean, std and weight gradient per layer"),
        ("cnn_curves", "CNN training loss and test accuracy"),
        ("cnn_layer_std", "CNN activation std per layer during training"),
        ("cnn_dead", "Dead / saturated units per layer"),
        ("symmetry", "Constant init: distinct neurons per layer"),
    ),
    tables=(("classic", "Classic MLP, per layer"), ("cnn", "CNN, per variant"), ("symmetry", "Symmetry, per layer")),
    quick={"width": 512, "depth": 4, "epochs": 1, "symmetry_steps": 10, "inits": ["normal_0.01", "xavier", "kaiming"]},
))

from cnnbp.lessons.init import claims  # noqa: E402,F401  (registers the init claims)
