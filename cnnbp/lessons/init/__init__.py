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
    figures=(  # "what it shows | what to look at" (the second part is shown under the figure)
        ("classic_histograms", "Rows of histograms: activations per layer, one row per init | The last column: "
         "a spike at 0 means the signal died on its way through the layers (the lecture's std 0.01)"),
        ("classic_profiles", "Mean, std and weight gradient per layer | The std panel's log axis: a line that "
         "falls by a factor per layer vanishes; a flat line keeps its scale"),
        ("cnn_curves", "CNN training loss and test accuracy | Which curve leaves 2.3 (chance: ln 10) first; "
         "a flat line at 2.3 is a network that does not learn"),
        ("cnn_layer_std", "CNN activation std per layer during training | How many decades lie between the "
         "panels: each init's scale per layer, kept or lost while it trains"),
        ("cnn_dead", "Dead / saturated units per layer | Red cells: layers where units no longer pass a "
         "gradient; compare the rows of one activation across inits"),
        ("symmetry", "Constant init: distinct neurons per layer | Constant init's bars against the dotted "
         "line: all units of a layer stay one and the same neuron"),
    ),
    tables=(("classic", "Classic MLP, per layer"), ("cnn", "CNN, per variant"), ("symmetry", "Symmetry, per layer")),
    quick={"width": 512, "depth": 4, "epochs": 1, "symmetry_steps": 10, "inits": ["normal_0.01", "xavier", "kaiming"]},
))

from cnnbp.lessons.init import claims  # noqa: E402,F401  (registers the init claims)
