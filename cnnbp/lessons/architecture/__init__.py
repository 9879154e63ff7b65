"""CNN architecture (lecture 004): registers the lesson "architecture" and its claims."""

from cnnbp.lessons.architecture.config import ArchitectureConfig
from cnnbp.lessons.architecture.parts import PARTS
from cnnbp.lessons.base import Lesson, register

LESSON = register(Lesson(
    name="architecture",
    title="CNN architecture",
    summary="A calculator: an input H x W x C and a stack typed in one line ('conv 5 k3 s1 p1, pool 2, fc 10') -> "
            "every layer's output shape, parameters, multiply-adds and receptive field, checked by torch, against a "
            "fully connected layer, and against the lecture's advice; it answers at once. The same counts for "
            "VGG-16, ResNet-18, EfficientNet-Lite0 and the app's SmallCNN (sum of numel, FlopCounterMode, our "
            "recurrence). Two 3x3 convs against one 5x5, three against one 7x7, trained side by side over seeds; "
            "a unit's receptive field on an image, theoretical and measured by gradients.",
    config=ArchitectureConfig,
    parts=PARTS,
    figures=(
        ("shapes", "Your stack: every tensor's shape; parameters, a fully connected layer's, multiply-adds"),
        ("model_layers", "A real architecture's parameters and multiply-adds per layer"),
        ("stacks", "Stacked 3x3 convs vs one large filter, trained side by side"),
        ("receptive", "A unit's receptive field on an image: theoretical and effective (gradients)"),
    ),
    tables=(("layers", "Your stack, layer by layer (receptive field: size, jump, start)"),
            ("models", "Real architectures: every counter side by side"),
            ("model_layers", "The chosen architecture, layer by layer"),
            ("stacks", "Per stack and seed: weights, receptive field, final test accuracy")),
    quick={"seeds": 1, "epochs": 1, "stacks": ["3x3 x2", "5x5"]},
    live=("height", "width", "channels", "layers", "model", "unit_layer", "unit_row", "unit_col"),
))

from cnnbp.lessons.architecture import claims  # noqa: E402,F401  (registers the architecture claims)
