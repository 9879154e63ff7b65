"""One tab per lesson: settings on the left, live figures, tables and verdicts on the right."""

from __future__ import annotations

import gradio as gr

from cnnbp.lessons.base import Lesson
from cnnbp.ui.runner import make_handler, stop_handler
from cnnbp.ui.widgets import build_widgets

HEAVY = "heavy"  # one concurrency group for every training event: 2 cores, one run at a time


def build_lesson_tab(lesson: Lesson, *, concurrency_limit: int = 1) -> None:
    with gr.Tab(lesson.title, id=lesson.name):
        gr.Markdown(f"### {lesson.title}\n{lesson.summary}")
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                widgets = build_widgets(lesson.config, prefix=lesson.name)
                with gr.Row():
                    run = gr.Button("Run", variant="primary", elem_id=f"{lesson.name}-run")
                    stop = gr.Button("Stop", variant="stop", elem_id=f"{lesson.name}-stop")
            with gr.Column(scale=3):
                status = gr.Markdown("Press **Run**.", elem_id=f"{lesson.name}-status")
                verdicts = gr.Markdown(elem_id=f"{lesson.name}-verdicts")
                plots = [gr.Plot(label=caption, elem_id=f"{lesson.name}-{name}") for name, caption in lesson.figures]
                tables = []
                for name, caption in lesson.tables:
                    with gr.Accordion(caption, open=False):
                        tables.append(gr.Dataframe(label=caption, elem_id=f"{lesson.name}-table-{name}"))
                with gr.Accordion("Measured numbers (JSON)", open=False):
                    numbers = gr.JSON(label="numbers")
        names = list(widgets)
        run.click(
            make_handler(lesson, names),
            inputs=[widgets[n] for n in names],
            outputs=[status, verdicts, *plots, *tables, numbers],
            api_name=lesson.name,
            concurrency_limit=concurrency_limit,
            concurrency_id=HEAVY,
            # Raw values reach the Config, which validates every field and names it in the
            # message; Gradio's own checks would say "Value -1 is less than minimum value 16."
            preprocess=False,
        )
        # Stop reaches the run's RunControl: the lesson stops between two steps and its last
        # frame ("stopped by the user", with the partial results) still reaches the page.
        # Gradio's `cancels=` would drop that frame, so it is not used.
        stop.click(stop_handler, inputs=None, outputs=[status], api_name=f"{lesson.name}_stop", queue=False)
