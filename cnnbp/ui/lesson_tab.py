"""One tab per lesson: settings on the left, live figures, tables and verdicts on the right."""

from __future__ import annotations

import gradio as gr

from cnnbp.lessons.base import ConfigError, Lesson
from cnnbp.ui.runner import make_handler, make_request_handler, make_stop_handler
from cnnbp.ui.share import TabShare, add_to_tab
from cnnbp.ui.uploads import build_uploads
from cnnbp.ui.widgets import build_widgets

HEAVY = "heavy"  # one concurrency group for every run event; the handlers share the cores by kind
# (cnnbp.ui.slots: a short run never waits behind a long one). Gradio's limit only caps the
# threads that may wait there; beyond it Gradio's own queue holds the clicks.
RUN_THREADS = 16


def quick_values(lesson: Lesson, names: list[str]) -> list:
    """The lesson's quick settings over its defaults, one value per widget in ``names``."""
    fields = lesson.config.model_fields
    return [lesson.quick.get(n, fields[n].default) for n in names]


# Tab labels short enough that every tab fits one row at 1024 px and two at 150% zoom (style.py
# tightens the tabs' padding; the bar wraps, never a "..." menu); the lesson's full title heads the tab.
SHORT = {"activations": "Activations", "preprocessing": "Preprocessing", "init": "Init",
         "batchnorm": "BatchNorm", "norms": "Norm layers", "dropout": "Dropout", "augment": "Augment",
         "transfer": "Transfer", "imbalance": "Imbalance", "visualise": "Visualise", "architecture": "Architecture"}


def tab_label(lesson: Lesson) -> str:
    return SHORT.get(lesson.name, lesson.title)


LOOK = " | "  # in a figure's caption: "what it shows | what to look at"


def figure_caption(caption: str) -> tuple[str, str]:
    """A lesson's figure caption -> (what the figure shows, what to look at in it, or "").

    A lesson may follow the caption with " | " and one short line saying what to look at; the
    line is shown under the figure. Captions without it keep working as before.

    >>> figure_caption("CNN curves | Kaiming falls first")
    ('CNN curves', 'Kaiming falls first')
    >>> figure_caption("CNN curves")
    ('CNN curves', '')
    """
    what, _, look = caption.partition(LOOK)
    return what.strip(), look.strip()


def settings_message(what: str, names: list[str], before: list, after: list) -> str:
    """What Quick settings or Reset to defaults (``what``) changed, in one status line."""
    changed = [f"{n} {b} \u2192 {a}" for n, b, a in zip(names, before, after) if b != a]
    return f"{what}: {', '.join(changed) if changed else 'nothing to change'}. Press **Run**."


def build_lesson_tab(lesson: Lesson, *, concurrency_limit: int = RUN_THREADS) -> TabShare:
    with gr.Tab(tab_label(lesson), id=lesson.name):
        gr.Markdown(f"### {lesson.title}\n{lesson.summary}", elem_classes=["lesson-head"])
        # Run and Stop first, in a bar that stays at the top while the figures scroll.
        with gr.Row(elem_classes=["run-bar"], equal_height=True):
            run = gr.Button("Run", variant="primary", elem_id=f"{lesson.name}-run", scale=1, min_width=100)
            stop = gr.Button("Stop", variant="stop", elem_id=f"{lesson.name}-stop", scale=1, min_width=100)
            quick = gr.Button("Quick settings (a few seconds)", elem_id=f"{lesson.name}-quick", scale=2,
                              min_width=160)
            reset = gr.Button("Reset to defaults", elem_id=f"{lesson.name}-reset", scale=2, min_width=140)
            with gr.Column(scale=3, min_width=200):
                status = gr.Markdown("Press **Run**.", elem_id=f"{lesson.name}-status")
                stop_note = gr.Markdown(elem_id=f"{lesson.name}-stop-note")
                # Never shown: the trigger of the API endpoint, which takes every widget (the page's
                # Run takes them as one value, cnnbp.ui.settings_input).
                api_run = gr.Button(visible=False, elem_id=f"{lesson.name}-api-endpoint")
        with gr.Row():
            with gr.Column(scale=1, min_width=260, elem_classes=["settings-col"]):
                with gr.Accordion("Settings", open=True):
                    widgets = build_widgets(lesson.config, prefix=lesson.name)
                build_uploads(lesson, widgets)  # own data (zip) and the trained models' download, where they apply
                shared = add_to_tab(lesson, widgets, status)  # link, preset file, take-home
                settings = shared.settings  # the widgets as one value for the page's events
            with gr.Column(scale=3, elem_classes=["figures-col"]):
                verdicts = gr.HTML(elem_id=f"{lesson.name}-verdicts")
                plots = []
                for name, caption in lesson.figures:
                    what, look = figure_caption(caption)
                    # The figure's own title heads it; Gradio's label box would lie over that title.
                    plots.append(gr.Plot(label=what, show_label=False, elem_id=f"{lesson.name}-plot-{name}"))
                    gr.Markdown(f"**What to look at:** {look}" if look else what,
                                elem_classes=["figure-caption"], elem_id=f"{lesson.name}-caption-{name}")
                tables = []
                for name, caption in lesson.tables:
                    with gr.Accordion(caption, open=False):
                        tables.append(gr.Dataframe(label=caption, elem_id=f"{lesson.name}-table-{name}"))
                with gr.Accordion("Measured numbers (JSON)", open=False):
                    numbers = gr.JSON(label="numbers")
        names = list(widgets)
        # A live demo in a lecture, or a student on two cores: every widget to the lesson's small
        # settings (the ones the tests run), the rest to their defaults. No server work, no API.
        fields = lesson.config.model_fields
        defaults = [fields[n].default for n in names]

        def before_values(inputs) -> list:
            try:
                return settings.values(*inputs)
            except ConfigError as err:
                raise gr.Error(str(err), print_exception=False) from None

        def to_quick(*inputs):
            before, after = before_values(inputs), quick_values(lesson, names)
            return [*after, settings_message("Quick settings", names, before, after)]

        def to_defaults(*inputs):
            return [*defaults, settings_message("Reset to defaults", names, before_values(inputs), defaults)]

        widget_list = [widgets[n] for n in names]
        # Progress is shown on the status line alone: Gradio's page passes the loading state
        # of every component any event has shown progress on to that component at every message of a run,
        # those of tabs run earlier included (the largest part of a streaming run's main-thread time).
        # The page's events take the settings as one value for the same reason (cnnbp.ui.settings_input).
        for button, fn in ((quick, to_quick), (reset, to_defaults)):
            settings.on([button.click], fn, outputs=[*widget_list, status], queue=False, api_visibility="private",
                        show_progress_on=[status])
        outputs = [status, verdicts, *plots, *tables, numbers]
        # Raw values reach the Config, which validates every field and names it in the
        # message; Gradio's own checks would say "Value -1 is less than minimum value 16."
        run_event = dict(outputs=outputs, concurrency_limit=concurrency_limit, concurrency_id=HEAVY,
                         show_progress_on=[status], preprocess=False)
        api_run.click(make_handler(lesson, names), inputs=widget_list, api_name=lesson.name, **run_event)
        page_handler = make_handler(lesson, names, settings)  # the same run, the settings as one value
        settings.on([run.click], page_handler, api_visibility="private", trigger_mode="once", **run_event)
        if lesson.live:
            # The page's handler, re-triggered by the live fields: no second API endpoint (the
            # named one above computes the same), and only the latest value runs once the
            # current event ends ("always_last"), however many times the slider moved meanwhile.
            settings.on(live_triggers(lesson, widgets), page_handler, api_visibility="private",
                        trigger_mode="always_last", show_progress="minimal", **run_event)
        # Stop reaches the run's RunControl: the lesson stops between two steps and its last
        # frame ("stopped by the user", with the partial results) still reaches the page.
        # Gradio's `cancels=` would drop that frame, so it is not used.
        # Stop answers in its own line, never in the status line: its reply (a separate HTTP
        # response) could land after the run's last frame and overwrite "stopped by the user".
        stop.click(make_stop_handler(lesson.name), inputs=None, outputs=[stop_note], api_name=f"{lesson.name}_stop",
                   queue=False)
        # Counted at the click, before the run may wait in the queue: a Stop meanwhile still reaches it.
        run.click(make_request_handler(lesson.name), inputs=None, outputs=[stop_note], queue=False,
                  api_visibility="private")
        # The class watches the figures, not the page's header: a Run pressed with the bar lower on
        # the screen brings the bar to the top, the verdicts and figures under it.
        run.click(None, js=SCROLL_TO_RUN_BAR_JS.replace("LESSON", lesson.name))
    return shared.with_numbers(numbers)


SCROLL_TO_RUN_BAR_JS = """
() => {
  const bar = document.getElementById('LESSON-run')?.closest('.run-bar');
  if (!bar) return;
  const top = bar.getBoundingClientRect().top + window.scrollY;
  if (window.scrollY < top - 1) window.scrollTo({top: top, behavior: 'smooth'});
}
"""


def live_triggers(lesson: Lesson, widgets: dict[str, gr.components.Component]) -> list:
    """The events that re-run ``lesson`` when one of its ``live`` fields changes: a slider's
    ``release`` (once per drag or typed value, not at every pixel), a text box's Enter or leaving it
    (not every keystroke: a half-typed layer spec would be refused at each key), any other widget's
    ``change``."""
    missing = [n for n in lesson.live if n not in widgets]
    if missing:
        raise ValueError(f"lesson {lesson.name!r}: live fields {missing} have no widget")
    events = []
    for n in lesson.live:
        widget = widgets[n]
        if isinstance(widget, gr.Slider):
            events.append(widget.release)
        elif isinstance(widget, gr.Textbox):
            events += [widget.submit, widget.blur]
        else:
            events.append(widget.change)
    return events
