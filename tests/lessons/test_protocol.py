"""The lesson protocol, checked for every registered lesson on its quick settings: the stream
starts at once and empty, progress only grows, the last frame says done, every declared figure
(titled) and table arrives, the numbers are plain JSON, a verdict is given. A new lesson gets
these checks by registering; its own tests add what only it can say (which numbers are timings,
when the same seed must give the same numbers, what each figure shows)."""

from __future__ import annotations

import json
import math
import typing

import pytest

from cnnbp.claims import CLAIMS
from cnnbp.device import torch_threads
from cnnbp.lessons import LESSONS, run_lesson
from cnnbp.lessons.base import ConfigError, cost_budget, field_choices, merge_frames, validate_config
from cnnbp.train import RunControl
from tests.lessons.quick import QUICK_THREADS, quick_frames
from tests.lessons.test_recorded import strip_timings


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
    for drawn, declared in ((final.figures, lesson.figures), (final.tables, lesson.tables)):
        names = {n for n, _ in declared}
        assert names - set(lesson.optional) <= set(drawn) <= names
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


# ---- stop, budget, cost and bad input: the same for every lesson --------------------------------

@pytest.mark.parametrize("name", list(LESSONS))
def test_a_stop_mid_run_ends_it_with_what_was_measured(name):
    control = RunControl()
    seen = []
    for frame in run_lesson(name, LESSONS[name].quick, control=control):
        seen.append(frame)
        if 0.0 < frame.progress < 1.0 and not control.cancelled.is_set():
            control.cancel()  # the first frame with work done: a part is under way or has ended
            cancelled_at = len(seen)
    last = seen[-1]
    assert last.done and last.message.startswith("stopped by the user after") and last.progress < 1.0
    assert len(seen) - cancelled_at <= 3, "the run went on streaming after the Stop"
    full = quick_frames(name)
    assert len(seen) < len(full) or last.progress < full[-1].progress


@pytest.mark.parametrize("name", list(LESSONS))
def test_a_spent_wall_budget_stops_before_any_work(name):
    frames = list(run_lesson(name, LESSONS[name].quick, control=RunControl(budget_s=0.0)))
    assert frames[-1].done and "wall-clock budget of 0 s was spent" in frames[-1].message
    assert not frames[-1].figures and frames[-1].progress == 0.0


@pytest.mark.parametrize("name", list(LESSONS))
def test_a_job_over_the_cost_budget_is_refused_in_one_line(name, monkeypatch):
    lesson = LESSONS[name]
    cost = validate_config(lesson.config, {}).cost_seconds()
    assert 0.0 < cost < cost_budget(), "the defaults must fit the budget and cost something"
    quick = validate_config(lesson.config, lesson.quick).cost_seconds()
    assert quick <= cost, "the quick settings are the small ones"
    monkeypatch.setenv("CNNBP_MAX_COST_S", str(cost / 2))
    with pytest.raises(ConfigError, match=r"^this job is too big: estimated \d+ s on 2 CPU cores") as err:
        list(run_lesson(name, {}))  # refused before the first frame
    assert "\n" not in str(err.value)


def bad_values(config) -> list[tuple[str, object]]:
    """For each field a value it must refuse: NaN and infinity for numbers, one past a bound,
    a word for a number, a name outside a registry or Literal, and an unknown field."""
    bad = [("no_such_setting", 1)]
    for field_name, info in config.model_fields.items():
        annotation = info.annotation
        many = typing.get_origin(annotation) is list
        options = field_choices(info)
        if options is not None:
            bad.append((field_name, ["no-such-choice"] if many else "no-such-choice"))
            continue
        if annotation in (int, float):
            bad.append((field_name, "many"))
            bad.append((field_name, math.nan))
            bad.append((field_name, math.inf))
            for meta in info.metadata:
                if getattr(meta, "le", None) is not None:
                    bad.append((field_name, meta.le + 1))
                if getattr(meta, "lt", None) is not None:
                    bad.append((field_name, meta.lt))
                if getattr(meta, "ge", None) is not None:
                    bad.append((field_name, meta.ge - 1))
                if getattr(meta, "gt", None) is not None:
                    bad.append((field_name, meta.gt))
    return bad


@pytest.mark.parametrize("name, field_name, value", [
    (name, f, v) for name in LESSONS for f, v in bad_values(LESSONS[name].config)])
def test_bad_input_is_refused_in_one_line_that_names_the_field(name, field_name, value):
    with pytest.raises(ConfigError) as err:
        run_lesson(name, {field_name: value})
    message = str(err.value)
    assert field_name in message and "\n" not in message and "/work" not in message


@pytest.mark.parametrize("name", list(LESSONS))
def test_the_lesson_has_claims_and_its_verdicts_name_registered_ones(name):
    mine = [c for c in CLAIMS.values() if c.lesson == name]
    assert mine, f"{name} registers no claim"
    for verdict in merge_frames(quick_frames(name)).verdicts:
        assert verdict.label and (verdict.claim is None or CLAIMS[verdict.claim].lesson == name)


# Where a result came from differs on a second run by design: visualise's model is "trained", then
# "reused from the model cache (same training settings)".
PROVENANCE = [("model", "source")]


def comparable(numbers: dict) -> dict:
    out = strip_timings(json.loads(json.dumps(numbers, allow_nan=True)))
    for outer, inner in PROVENANCE:
        out.get(outer, {}).pop(inner, None)
    return out


@pytest.mark.parametrize("name", list(LESSONS))
def test_same_settings_and_seed_give_the_same_numbers(name):
    with torch_threads(QUICK_THREADS):  # as the first run: another thread count rounds differently
        again = merge_frames(run_lesson(name, LESSONS[name].quick))
    first = merge_frames(quick_frames(name))
    assert comparable(again.numbers) == comparable(first.numbers)
    assert [(v.label, v.passed) for v in again.verdicts] == [(v.label, v.passed) for v in first.verdicts]
