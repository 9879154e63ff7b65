"""Fixtures every lesson's tests share: the lesson's quick run (computed once per session, in
tests/lessons/quick.py) as its frames and as the merged final frame. A test module names its
lesson with ``LESSON = get_lesson("...")``. And ``hub``: torch's hub cache moved to an empty folder
(no cached weights), for the tests of choices offered only where they can run."""

from __future__ import annotations

import pytest
import torch

from cnnbp.lessons.base import merge_frames
from tests.lessons.quick import quick_frames


@pytest.fixture(scope="module")
def frames(request):
    return list(quick_frames(request.module.LESSON.name))


@pytest.fixture(scope="module")
def final(frames):
    return merge_frames(frames)


@pytest.fixture
def hub(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"
