"""One module per lesson; importing this package registers them all in LESSONS."""

from cnnbp.lessons.base import LESSONS, Frame, LessonConfig, Verdict, get_lesson, run_lesson
from cnnbp.lessons import init  # noqa: F401  (registers "init")
from cnnbp.lessons import preprocessing  # noqa: F401  (registers "preprocessing")

__all__ = ["LESSONS", "Frame", "LessonConfig", "Verdict", "get_lesson", "run_lesson"]
