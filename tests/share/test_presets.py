"""Presets and links: every lesson's settings round-trip exactly; bad links and files are refused in
one line by the lesson's own Config; a preset run gives the numbers of the run it was made from."""

import json

import pytest

from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import merge_frames, run_lesson, validate_config
from cnnbp.presets import Question, make_preset, read_preset, read_query, to_query
from cnnbp.train import RunControl


@pytest.mark.parametrize("name", list(LESSONS))
@pytest.mark.parametrize("which", ["defaults", "quick", "seed"])
def test_every_lesson_round_trips_through_preset_and_link(name, which):
    lesson = LESSONS[name]
    values = {"defaults": {}, "quick": dict(lesson.quick), "seed": {**lesson.quick, "seed": 12345}}[which]
    cfg = validate_config(lesson.config, values)
    assert read_preset(json.dumps(make_preset(name, cfg))).cfg == cfg
    assert read_query(to_query(name, cfg)) == (name, cfg)


def test_link_names_only_what_differs_from_the_defaults():
    cfg = validate_config(LESSONS["init"].config, {"width": 512, "inits": ["xavier", "kaiming"], "seed": 3})
    assert to_query("init", cfg) == "lesson=init&seed=3&inits=xavier,kaiming&width=512"
    assert to_query("init", LESSONS["init"].config()) == "lesson=init"


@pytest.mark.parametrize("query, words", [
    ("lesson=init&width=-3", "width: Input should be greater than or equal to 16"),
    ("lesson=init&width=1e9", "width"),
    ("lesson=init&width=nan", "width"),
    ("lesson=nope", "unknown lesson 'nope'"),
    ("lesson=init&bogus=1", "bogus: unknown setting"),
    ("lesson=init&inits=", "inits: List should have at least 1 item"),
    ("lesson=init&inits=xavier,xavier", "duplicates"),
    ("lesson=init&activations=softmax", "unknown activation 'softmax'"),
    ("width=3", "without a lesson="),
    ("lesson=visualise&image=/etc/passwd", "image: a file upload cannot come from a preset or a link"),
])
def test_bad_link_is_one_line(query, words):
    with pytest.raises(ValueError) as err:
        read_query(query)
    assert words in str(err.value) and "\n" not in str(err.value)
    assert "/work" not in str(err.value)


def test_plain_visit_and_playlist_keys_are_no_preset():
    assert read_query("") is None
    assert read_query({"playlist": "x", "step": "2", "room": "abc"}) is None


@pytest.mark.parametrize("text, words", [
    ("not json", "preset: not JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"lesson": "init", "settings": {"width": 3}}', "width"),
    ('{"lesson": "init", "settings": [1]}', "settings: expected an object"),
    ('{"lesson": "init", "extra": 1}', "unknown key 'extra'"),
    ('{"format": "other", "lesson": "init"}', "expected format"),
    ('{"lesson": "init", "question": {"text": "?", "choices": ["a"]}}', "two or more distinct"),
    ('{"lesson": "init", "question": {"text": "?", "choices": ["a", "b"]}}', "numbers_path"),
    ('{"lesson": "init", "title": 3}', "title: expected text"),
    ("x" * 70_000, "too big"),
])
def test_bad_preset_is_one_line(text, words):
    with pytest.raises(ValueError) as err:
        read_preset(text)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_question_round_trips():
    cfg = LESSONS["init"].config()
    q = Question("Which init keeps layer 6 alive?", ("xavier", "kaiming"), ("classic", 0))
    preset = read_preset(make_preset("init", cfg, title="t", prompt="p", question=q))
    assert (preset.title, preset.prompt, preset.question) == ("t", "p", q)


def final_numbers(name, values):
    return merge_frames(run_lesson(name, values, control=RunControl())).numbers


def test_a_preset_run_gives_the_numbers_of_the_run_it_was_made_from():
    values = {**LESSONS["preprocessing"].quick, "parts": ["cloud", "images"], "seed": 7, "correlation": 0.5}
    cfg = validate_config(LESSONS["preprocessing"].config, values)
    direct = final_numbers("preprocessing", cfg.model_dump())
    from_file = read_preset(json.dumps(make_preset("preprocessing", cfg)))
    from_link = read_query(to_query("preprocessing", cfg))
    assert final_numbers(from_file.lesson, from_file.settings()) == direct
    assert final_numbers(from_link[0], from_link[1].model_dump()) == direct


def test_an_uploaded_set_never_travels_in_a_link_or_a_preset():
    """An upload's secret name is the key to it: a link or preset leaves it out (the field falls back
    to its default) and a link or preset that carries one is refused, so a shared link hands nobody
    another session's data."""
    from cnnbp.data.archives import register_archive
    from cnnbp.data.session import forget
    from tests.pets import pets_archive

    name, _ = register_archive(pets_archive(), title="pets")
    try:
        cfg = validate_config(LESSONS["norms"].config, {**LESSONS["norms"].quick, "dataset": name})
        query = to_query("norms", cfg)
        assert name not in query and "dataset" not in query
        preset = make_preset("norms", cfg)
        assert name not in json.dumps(preset) and "dataset" not in preset["settings"]
        with pytest.raises(ValueError, match="^dataset: an uploaded set cannot come from a preset or a link"):
            read_query(f"lesson=norms&dataset={name}")
        with pytest.raises(ValueError, match="^dataset: an uploaded set cannot come from a preset or a link"):
            read_preset({**preset, "settings": {**preset["settings"], "dataset": name}})
    finally:
        forget(name)
