"""The Gradio app: one tab per lesson plus the Evidence tab. Only this package imports gradio."""

from __future__ import annotations

import gradio as gr

from cnnbp.lessons import LESSONS
from cnnbp.ui.evidence_tab import build_evidence_tab
from cnnbp.ui.lesson_tab import build_lesson_tab

TITLE = "cnnbp: a live lab for the best practices of convolutional networks"
QUEUE_MAX_SIZE = 64  # a lecture hall of clicks; beyond this a caller is told the app is busy


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cnnbp", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(f"## {TITLE}\nEach tab turns a claim of the lecture into an experiment: change the "
                    "settings, press **Run**, watch the curves come in, read the measured verdict.")
        with gr.Tabs():
            for lesson in LESSONS.values():
                build_lesson_tab(lesson)
            build_evidence_tab()
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=1)
    return demo
