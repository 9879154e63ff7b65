"""One module per lesson; importing this package registers them all in LESSONS."""
# ruff: noqa: I001  (the import order is the tabs' order, the lecture's)

from cnnbp.lessons.base import LESSONS, Frame, LessonConfig, Verdict, get_lesson, run_lesson
# In the lecture's order: 003's activations, preprocessing, initialisation, batch norm and the other
# norms; dropout; data augmentation (004); then transfer learning, label imbalance and visualising (000-004).
from cnnbp.lessons import activations  # noqa: F401  (registers "activations")
from cnnbp.lessons import preprocessing  # noqa: F401  (registers "preprocessing")
from cnnbp.lessons import init  # noqa: F401  (registers "init")
from cnnbp.lessons import batchnorm  # noqa: F401  (registers "batchnorm")
from cnnbp.lessons import norms  # noqa: F401  (registers "norms")
from cnnbp.lessons import dropout  # noqa: F401  (registers "dropout")
from cnnbp.lessons import augment  # noqa: F401  (registers "augment")
from cnnbp.lessons import transfer  # noqa: F401  (registers "transfer")
from cnnbp.lessons import imbalance  # noqa: F401  (registers "imbalance")
from cnnbp.lessons import visualise  # noqa: F401  (registers "visualise")
from cnnbp.lessons import architecture  # noqa: F401  (registers "architecture")

__all__ = ["LESSONS", "Frame", "LessonConfig", "Verdict", "get_lesson", "run_lesson"]
