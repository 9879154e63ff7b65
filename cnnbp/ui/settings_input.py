"""A tab's settings as few inputs for the page's own events (Run, the live re-run, Quick settings, Reset).

Gradio's page (6.31, js/core/src/dependency.ts) keeps a table of loading states and, at every message of
every running event, hands each entry to its component (``update_loading_stati_state``: a walk of the
page's ~900 components per entry). When an event completes, Gradio marks it ``stream_state: "closed"``,
so each of its inputs joins that table (``LoadingStatus.resolve_args`` types it "input") and stays for
the page's life: after a tab's Quick settings or first run, each of its 14 to 36 widgets was updated at
every later message of every run. There is no switch for it (``show_progress`` and
``show_progress_on`` choose the outputs only).

So the page's events take :attr:`SettingsInput.inputs`: one hidden JSON box with the plain widgets'
raw values, filled at the trigger by a JS-only event (no server call and no loading state, Gradio's
``js=`` with ``fn=None``), plus the upload boxes, which stay inputs of their own so that Gradio
still refuses any file outside its upload folder. The API endpoint keeps every widget as a parameter.
"""

from __future__ import annotations

from typing import Any, Callable

import gradio as gr

from cnnbp.lessons.base import ConfigError

# The widgets' values as one output: one list (a bare array would be read as one value per output).
COLLECT_JS = "(...values) => [values]"


class SettingsInput:
    """The hidden box that carries a tab's plain widget values, and the events that read it."""

    def __init__(self, prefix: str, widgets: dict[str, gr.components.Component], uploads: set[str]) -> None:
        self.names = list(widgets)
        self.widgets = widgets
        self.plain = [n for n in self.names if n not in uploads]
        self.uploads = [n for n in self.names if n in uploads]
        self.box = gr.JSON(visible=False, elem_id=f"{prefix}-settings")

    @property
    def inputs(self) -> list[gr.components.Component]:
        """What a page event takes: the box, then each upload box."""
        return [self.box, *(self.widgets[n] for n in self.uploads)]

    @property
    def params(self) -> list[str]:
        """The names of :attr:`inputs`, for a handler's signature."""
        return ["settings", *self.uploads]

    def values(self, box: Any, *uploads: Any) -> list[Any]:
        """Every widget's raw value, in the widgets' order, from the values of :attr:`inputs`.

        >>> s = SettingsInput.__new__(SettingsInput)
        >>> s.names, s.plain, s.uploads = ["a", "f", "b"], ["a", "b"], ["f"]
        >>> s.values([1, "x"], {"path": "p"})
        [1, {'path': 'p'}, 'x']
        >>> s.values(None)
        Traceback (most recent call last):
        ...
        cnnbp.lessons.base.ConfigError: the page sent no settings list of 2 values: reload the page
        """
        if not isinstance(box, list) or len(box) != len(self.plain) or len(uploads) != len(self.uploads):
            raise ConfigError(f"the page sent no settings list of {len(self.plain)} values: reload the page")
        given = {**dict(zip(self.plain, box)), **dict(zip(self.uploads, uploads))}
        return [given[n] for n in self.names]

    def on(self, triggers: list, fn: Callable, **event: Any) -> Any:
        """``fn`` on ``triggers``, given :attr:`inputs`: the box is filled in the page first."""
        collect = gr.on(triggers, None, inputs=[self.widgets[n] for n in self.plain], outputs=[self.box],
                        js=COLLECT_JS, api_visibility="private")
        return collect.then(fn, inputs=self.inputs, **event)
