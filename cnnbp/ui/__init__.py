"""The Gradio app: one tab per lesson plus the Evidence tab. Only this package imports gradio."""

from __future__ import annotations

import os

import gradio as gr
import plotly.graph_objects as go
from starlette.middleware import Middleware

from cnnbp.lessons import LESSONS
from cnnbp.ui import plot_in_place, presenter
from cnnbp.ui.config_cache import ConfigCache
from cnnbp.ui.evidence_tab import build_evidence_tab
from cnnbp.ui.lesson_tab import build_lesson_tab
from cnnbp.ui.session_defaults import share_session_defaults
from cnnbp.ui.share import CSS as SHARE_CSS
from cnnbp.ui.share import add_to_app
from cnnbp.ui.style import CSS

TITLE = "cnnbp: a live lab for the best practices of convolutional networks"

QUEUE_MAX_SIZE = int(os.environ.get("CNNBP_QUEUE_MAX_SIZE", 64))  # a lecture hall of clicks; beyond
# this a caller is told at once that the queue is full and to try again


def launch_options() -> dict:
    """How the app is served, for app.py and the tests alike.

    No tracebacks reach the browser (user-facing messages are gr.Error); uploads are capped;
    no folder beyond Gradio's own temp files is served (allowed_paths stays empty); the page and
    its config are built once, not per visitor (cnnbp/ui/config_cache.py).
    Gradio reads GRADIO_SERVER_NAME / GRADIO_SERVER_PORT itself (default 127.0.0.1:7860).
    """
    return {"show_error": False, "max_file_size": "5mb", "allowed_paths": [], "css": CSS + SHARE_CSS + presenter.CSS,
            "js": presenter.JS, "app_kwargs": {"middleware": [Middleware(ConfigCache)]}}


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cnnbp", delete_cache=(3600, 3600)) as demo:
        with gr.Row():
            gr.Markdown(f"## {TITLE}\nEach tab turns a claim of the lecture into an experiment: change the "
                        "settings, press **Run**, watch the curves come in, read the measured verdict.",
                        elem_classes=["page-head"])
            toggle = gr.Button("Presenter view (P)", elem_id=presenter.TOGGLE_ID, scale=0, min_width=170,
                               size="sm", elem_classes=["presenter-toggle"])
        toggle.click(None, js="() => { window.cnnbpPresenter(); }")  # the page alone: no server call
        # plotly.js (megabytes of script) loads with the page's first figure: one empty figure, hidden,
        # drawn at page load, so that loading it is not a stall of seconds inside the first run.
        gr.Plot(go.Figure(), show_label=False, elem_classes=["cnnbp-hidden"], elem_id="plotly-preload")
        demo.load(None, js=plot_in_place.JS)  # a figure updated in its old drawing (the page alone)
        with gr.Tabs(overflow_behavior="wrap") as tabs:
            shares = [build_lesson_tab(lesson) for lesson in LESSONS.values()]
            build_evidence_tab()
        add_to_app(demo, tabs, shares)  # links, playlists, rooms (cnnbp/ui/share.py)
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=1)
    share_session_defaults(demo)  # a visitor's first event copies the blocks' configs, not rebuilds them
    return demo
