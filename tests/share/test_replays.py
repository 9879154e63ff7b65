"""A recorded run plays back equal to the live run it recorded: numbers, verdicts, tables, figures."""

import gzip
import json

import pandas as pd
import plotly.io as pio
import pytest

from cnnbp.device import numerics_fingerprint
from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import merge_frames, validate_config
from cnnbp.replays import RUNS_DIR, find, record, restore, run_key, save
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


@pytest.mark.parametrize("step", [6, 9, 10, 12])  # the cheap steps of lecture 7 (under 2 s each)
def test_shipped_records_still_equal_a_live_run(step):
    """At the thread count they were recorded at (CPU_CORES=1; another one moves float sums by
    ~1e-5), the shipped records equal a live run exactly. A record goes stale when its lesson's
    numbers change: re-record with ``CPU_CORES=1 python -m cnnbp.replays assets/playlists/NAME.json``."""
    from cnnbp.device import torch_threads
    from cnnbp.presets import shipped_playlists

    preset = shipped_playlists()["003-training-neural-networks-1"].steps[step - 1]
    recorded = find(preset.lesson, preset.cfg)
    path = RUNS_DIR / f"{run_key(preset.lesson, preset.cfg)}.json.gz"
    numerics = json.loads(gzip.decompress(path.read_bytes())).get("numerics")
    if numerics != numerics_fingerprint():
        pytest.skip(f"recorded on a CPU whose kernels round differently (numerics {numerics}, here "
                    f"{numerics_fingerprint()}): a live run here need not equal it to the last bit")
    with torch_threads(1):
        live = merge_frames(LESSONS[preset.lesson].run(preset.cfg, RunControl()))
    assert json.dumps(recorded.numbers, sort_keys=True) == json.dumps(live.numbers, sort_keys=True)
    assert [v.as_dict() for v in recorded.verdicts] == [v.as_dict() for v in live.verdicts]
