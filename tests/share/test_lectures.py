"""Rooms keep their votes apart; a question's measured answer is read as documented; the shipped
playlists walk the lectures, their questions are answered by their recorded runs."""

import json
from pathlib import Path

import pytest

from cnnbp import rooms as rooms_module
from cnnbp.lessons.base import Verdict
from cnnbp.presets import PLAYLISTS_DIR, Question, measured_answer, read_playlist, shipped_playlists
from cnnbp.replays import find
from cnnbp.rooms import Rooms

ROOT = Path(__file__).resolve().parents[2]
CHOICES = ("xavier", "kaiming")


def test_one_rooms_votes_never_reach_another():
    rooms = Rooms()
    a, b = rooms.create(), rooms.create()
    rooms.vote(a, "q", "phone-1", "xavier", CHOICES)
    rooms.vote(a, "q", "phone-2", "kaiming", CHOICES)
    rooms.vote(b, "q", "phone-1", "kaiming", CHOICES)  # the same device in another room
    rooms.vote(a, "other", "phone-3", "kaiming", CHOICES)  # another question of room a
    assert rooms.tally(a, "q", CHOICES) == {"xavier": 1, "kaiming": 1}
    assert rooms.tally(b, "q", CHOICES) == {"xavier": 0, "kaiming": 1}
    assert rooms.tally(a.lower(), "other", CHOICES) == {"xavier": 0, "kaiming": 1}  # codes read any case


def test_rooms_are_bounded_and_refuse_in_one_line(monkeypatch):
    rooms = Rooms(max_rooms=2)
    first, _, _ = rooms.create(), rooms.create(), rooms.create()
    assert not rooms.exists(first)  # the oldest room went
    with pytest.raises(ValueError, match="no room"):
        rooms.vote(first, "q", "v", "xavier", CHOICES)
    code = rooms.create()
    with pytest.raises(ValueError, match="choose one of xavier, kaiming"):
        rooms.vote(code, "q", "v", "relu", CHOICES)
    monkeypatch.setattr(rooms_module, "MAX_VOTERS", 2)
    rooms.vote(code, "q", "v1", "xavier", CHOICES)
    rooms.vote(code, "q", "v2", "xavier", CHOICES)
    rooms.vote(code, "q", "v2", "kaiming", CHOICES)  # a voter already in may change their mind
    with pytest.raises(ValueError, match="2 guesses already"):
        rooms.vote(code, "q", "v3", "xavier", CHOICES)
    assert rooms.tally(code, "q", CHOICES) == {"xavier": 1, "kaiming": 1}


NUMBERS = {"classic": {"relu": {"xavier": {"std": [1.0, 0.1]}, "kaiming": {"std": [1.0, 0.9]}}},
           "best": "kaiming", "index": 0, "flag": True}


@pytest.mark.parametrize("question, answer", [
    (Question("?", CHOICES, ("classic", "relu"), ("std", -1), "max"), "kaiming"),
    (Question("?", CHOICES, ("classic", "relu"), ("std", -1), "min"), "xavier"),
    (Question("?", CHOICES, ("best",)), "kaiming"),
    (Question("?", CHOICES, ("index",)), "xavier"),
    (Question("?", CHOICES, ("flag",)), "kaiming"),
    (Question("?", CHOICES, ("missing",)), None),
    (Question("?", ("HOLDS", "DOES NOT HOLD", "CAN'T TELL"), verdict="b"), "DOES NOT HOLD"),
    (Question("?", ("HOLDS", "DOES NOT HOLD", "CAN'T TELL"), verdict="c"), "CAN'T TELL"),
    (Question("?", ("HOLDS", "DOES NOT HOLD", "CAN'T TELL"), verdict="absent"), None),
])
def test_measured_answer_by_hand(question, answer):
    verdicts = [Verdict("a", "", True), Verdict("b", "", False), {"label": "c", "passed": None}]
    assert measured_answer(question, NUMBERS, verdicts) == answer


def test_one_playlist_per_lecture_text():
    playlists = shipped_playlists()
    assert len(playlists) == 5
    assert sorted(p.lecture[:3] for p in playlists.values()) == ["000", "001", "002", "003", "004"]
    seeds = ROOT.parent.parent / "shared" / "seeds"
    if seeds.is_dir():  # beside the repository in the course's layout
        assert {p.lecture for p in playlists.values()} == {f.name for f in seeds.glob("*.txt")}


@pytest.mark.parametrize("name", sorted(p.stem for p in PLAYLISTS_DIR.glob("*.json")))
def test_shipped_questions_are_answered_by_their_recorded_runs(name):
    """Every verdict question names a verdict its lesson gives; where the step's run is recorded,
    the recorded run answers every question with one of its choices."""
    playlist = shipped_playlists()[name]
    recorded = {}
    for lesson in {s.lesson for s in playlist.steps}:
        recorded[lesson] = {v["label"] for v in json.loads(
            (ROOT / "tests" / "lessons" / "recorded" / f"{lesson}.json").read_text())["verdicts"]}
    for i, step in enumerate(playlist.steps, 1):
        q = step.question
        if q is None:
            continue
        if q.verdict:
            assert q.verdict in recorded[step.lesson], (name, i, q.verdict)
        frame = find(step.lesson, step.cfg)
        if frame is not None:
            assert measured_answer(q, frame.numbers, frame.verdicts) in q.choices, (name, i)


@pytest.mark.parametrize("name", sorted(p.stem for p in PLAYLISTS_DIR.glob("*.json")))
def test_every_shipped_playlist_ships_its_runs(name):
    assert [i for i, s in enumerate(shipped_playlists()[name].steps, 1) if find(s.lesson, s.cfg) is None] == []


def test_a_bad_playlist_names_its_step():
    good = {"lesson": "init", "settings": {}, "title": "t", "prompt": "p"}
    data = {"format": "cnnbp-playlist", "version": 1, "title": "x",
            "steps": [good, {**good, "settings": {"width": 3}}]}
    with pytest.raises(ValueError, match="step 2: width"):
        read_playlist(json.dumps(data), "mine")
    with pytest.raises(ValueError, match="step 1: a step needs a title and a prompt"):
        read_playlist({**data, "steps": [{"lesson": "init"}]})
    with pytest.raises(ValueError, match="format 'cnnbp-playlist'"):
        read_playlist({"steps": [good]})


def test_tally_by_hand():
    from cnnbp.ui.share import tally_markdown

    text = tally_markdown({"xavier": 1, "kaiming": 3}, answer="kaiming")
    assert "(4)" in text and "- xavier: 1 (25%) ██\n" in text  # round(2.5) is 2
    assert "- kaiming: 3 (75%) ████████ ← measured" in text
    assert tally_markdown({"xavier": 0}) == "No guesses yet."
