"""Click-through: the test images behind a cell of the imbalance lesson's confusion matrix, and
the test image behind a point of the visualising lesson's embeddings.

The lesson keeps each finished run's test-set probabilities (``imbalance.training.PREDICTIONS``);
the images are rebuilt from the same settings and seed (the split is seeded), and a cell's images
are those whose true class is the row and whose prediction, by the lesson's own rule
(``metrics.decide``) at the run's threshold, is the column: the count the figure prints. An
embedding point carries its test-set index (the figure's ``customdata``); the visualising
lesson's test set is rebuilt from its dataset and seed alike.
"""

from __future__ import annotations

import numpy as np
import torch

from cnnbp.lessons.imbalance.config import ImbalanceConfig
from cnnbp.lessons.imbalance.metrics import decide
from cnnbp.lessons.imbalance.scoring import BASELINE_THRESHOLD
from cnnbp.lessons.imbalance.training import BASELINE, PREDICTIONS, build, eval_split, method_label
from cnnbp.lessons.visualise.config import VisualiseConfig
from cnnbp.lessons.visualise.model import load_data

MAX_IMAGES = 24  # a cell of a 1:50 majority class holds hundreds: the first ones show the point


def cell_indices(cfg: ImbalanceConfig, model: str, true_class: str, predicted: str) -> tuple[str, np.ndarray]:
    """(test set, indices into it) of the cell of ``model`` (its label as the figure shows it)."""
    trained = PREDICTIONS.get(cfg.run_key(cfg.seed))
    if trained is None:
        raise ValueError("run the lesson on these settings first: the cell's predictions are not kept")
    models = {method_label(m): m for m in trained.probs["balanced"]}
    classes = [str(c) for c in trained.classes]
    if model not in models or true_class not in classes or predicted not in classes:
        raise ValueError(f"no confusion cell {model!r}, true {true_class!r}, predicted {predicted!r}")
    shown = cfg.test_set if cfg.test_set in trained.labels else "balanced"
    name = models[model]
    threshold = BASELINE_THRESHOLD if name == BASELINE else cfg.threshold
    pred = decide(trained.probs[shown][name], rare=trained.rare, threshold=threshold)
    y = trained.labels[shown]
    return shown, np.flatnonzero((y == classes.index(true_class)) & (pred == classes.index(predicted)))


def cell_images(cfg: ImbalanceConfig, model: str, true_class: str, predicted: str,
                limit: int = MAX_IMAGES) -> tuple[str, list[np.ndarray]]:
    """A caption and the cell's first ``limit`` test images as uint8 H x W (x 3) arrays."""
    shown, idx = cell_indices(cfg, model, true_class, predicted)
    data = build(cfg, cfg.seed)
    assert eval_split(cfg, data) == shown
    images = to_uint8(data.tests[shown][0][idx[:limit]])
    return (f"{model}: true {true_class}, predicted {predicted}: {len(idx)} test images"
            + (f" (the first {limit})" if len(idx) > limit else "")), images



def to_uint8(x: torch.Tensor) -> list[np.ndarray]:
    """(N, C, H, W) images -> N uint8 arrays (H x W, or H x W x 3), each stretched to 0..255."""
    x = x.float()
    lo, hi = x.amin(dim=(1, 2, 3), keepdim=True), x.amax(dim=(1, 2, 3), keepdim=True)
    x = ((x - lo) / (hi - lo).clamp_min(1e-8) * 255).round().to(torch.uint8)
    return [img.permute(1, 2, 0).squeeze(-1).numpy() for img in x]


def embedding_image(cfg: VisualiseConfig, index: int) -> tuple[str, np.ndarray]:
    """A caption and test image ``index`` of the visualising lesson's dataset (its embeddings' points)."""
    data = load_data(cfg.dataset, seed=cfg.seed)
    if not 0 <= index < len(data.x_test):
        raise ValueError(f"no test image #{index}; the {cfg.dataset} test set has {len(data.x_test)}")
    label = data.classes[int(data.y_test[index])]
    return f"test image #{index}, class {label}", to_uint8(data.x_test[index:index + 1])[0]
