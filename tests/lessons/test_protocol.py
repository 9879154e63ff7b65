"""The lesson protocol, checked for every registered lesson on its quick settings: the stream
starts at once and empty, progress only grows, the last frame says done, every declared figure
(titled) and table arrives, the numbers are plain JSON, a verdict is given. A new lesson gets
these checks by registering; its own tests add what only it can say (which numbers are timings,
when the same seed must give the same numbers, what each figure shows)."""

from __future__ import annotations

import json
import math

import pytest

from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import merge_frames
from tests.lessons.quick import quick_frames

@pytest.mark.parametrize("name", list(LESSONS))
def test_stream_starts_empty_grows_and_ends_done(name):
    frames = quick_frames(name)
    assert frames[0].progress == 0.0 and not frames[0].figures, "the first frame comes before any work"
    assert frames[-1].done and frames[-1].progress == 1.0 and frames[-1].message.startswith("done in")
    progress = [f.progress for f in frames]
    assert progress == sorted(progress) and all(0.0 <= p <= 1.0 for p in progress)
    assert len(frames) >= 3, "a lesson streams, it does not answer once at the end"


@pytest.mark.parametrize("name", list(LESSONS))
def test_every_declared_figure_and_table_arrives_titled_with_plain_numbers(name):
    lesson, final = LESSONS[name], merge_frames(quick_frames(name))
    assert set(final.figures) == {n for n, _ in lesson.figures}
    assert set(final.tables) == {n for n, _ in lesson.tables}
    for fig_name, fig in final.figures.items():
        assert fig.layout.title.text, f"figure {fig_name} has no title"
    text = json.dumps(final.numbers, allow_nan=True)  # plain numbers only, no tensors or arrays
    assert not any(math.isinf(v) for v in _floats(json.loads(text)) if isinstance(v, float))
    assert final.verdicts and all(v.text.strip() for v in final.verdicts)


def _floats(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _floats(v)
    elif isinstance(value, list):
        for v in value:
            yield from _floats(v)
    else:
        yield value
