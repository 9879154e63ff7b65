"""A recorded run plays back equal to the live run it recorded: numbers, verdicts, tables, figures."""

import json

import pandas as pd
import plotly.io as pio
import pytest

from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import merge_frames, validate_config
from cnnbp.replays import find, record, restore, run_key, save
from cnnbp.train import RunControl

LESSON = LESSONS["init"]


@pytest.fixture(scope="module")
def live():
    cfg = validate_config(LESSON.config, {**LESSON.quick, "parts": ["classic", "symmetry"], "seed": 5})
    return cfg, merge_frames(LESSON.run(cfg, RunControl()))


def assert_same_run(replay, final):
    assert json.dumps(replay.numbers, sort_keys=True) == json.dumps(final.numbers, sort_keys=True)
    assert [v.as_dict() for v in replay.verdicts] == [v.as_dict() for v in final.verdicts]
    assert replay.tables.keys() == final.tables.keys() and replay.figures.keys() == final.figures.keys()
    for name, table in final.tables.items():
        pd.testing.assert_frame_equal(replay.tables[name], table, check_dtype=False)
    for name, fig in final.figures.items():
        assert json.loads(pio.to_json(replay.figures[name])) == json.loads(pio.to_json(fig)), name


def test_a_replay_equals_the_live_run_it_recorded(live, tmp_path):
    cfg, final = live
    data = json.loads(json.dumps(record("init", cfg, final)))  # through JSON, as on disk
    lesson, cfg2, replay = restore(data)
    assert (lesson, cfg2) == ("init", cfg) and replay.done
    assert_same_run(replay, final)
    path = save(data, tmp_path)
    assert path.name == f"{run_key('init', cfg)}.json.gz"
    assert_same_run(find("init", cfg, tmp_path), final)
    assert save(data, tmp_path).read_bytes() == path.read_bytes()  # the same record, the same bytes


def test_only_exactly_these_settings_and_seed_find_the_record(live, tmp_path):
    cfg, final = live
    save(record("init", cfg, final), tmp_path)
    assert find("init", cfg.model_copy(update={"seed": 6}), tmp_path) is None
    assert find("init", validate_config(LESSON.config, {**LESSON.quick, "parts": ["classic"], "seed": 5}),
                tmp_path) is None


def test_unfinished_runs_and_foreign_files_are_refused(live):
    cfg, final = live
    with pytest.raises(ValueError, match="only a finished run"):
        record("init", cfg, type(final)(0.5, "stopped"))
    with pytest.raises(ValueError, match="not a recorded run"):
        restore({"lesson": "init"})
    bad = {**record("init", cfg, final), "settings": {"width": 3}}
    with pytest.raises(ValueError, match="width"):
        restore(bad)
