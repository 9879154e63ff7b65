"""The architecture tab's live calculator: which widget events re-run it (a text box on Enter or
when left, never at every key: a half-typed spec would be refused at each one)."""

from __future__ import annotations

import gradio as gr

from cnnbp.lessons import get_lesson
from cnnbp.ui.lesson_tab import build_lesson_tab, tab_label

LESSON = get_lesson("architecture")


def test_the_live_fields_rerun_on_enter_blur_release_and_change():
    with gr.Blocks() as demo:
        build_lesson_tab(LESSON)
    (api,) = [fn for fn in demo.fns.values() if fn.name == "run_architecture"]
    click, live = [fn for fn in demo.fns.values() if fn.name == "run_architecture_page"]
    assert api.api_name == "architecture" and live.api_visibility == "private" and live.fn is click.fn
    # The page's events follow a JS-only event that fills the settings box: it names their triggers.
    fill = demo.fns[live.trigger_after]
    assert fill.fn is None and fill.js
    by_id = {b._id: b for b in demo.blocks.values()}
    triggers = {(by_id[i].elem_id.removeprefix("architecture-"), event) for i, event in fill.targets}
    assert triggers == {("layers", "submit"), ("layers", "blur"), ("height", "release"), ("width", "release"),
                        ("channels", "release"), ("model", "change"), ("unit_layer", "release"),
                        ("unit_row", "release"), ("unit_col", "release")}


def test_the_tab_label_is_short():
    assert tab_label(LESSON) == "Architecture"
