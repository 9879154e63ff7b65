"""Gradio widgets derived from a lesson's Config: slider ranges from the field bounds,
dropdown choices from the registries. UI and backend never drift; the server validates
again whatever a caller sends."""

from __future__ import annotations

import typing

import annotated_types
import gradio as gr

from cnnbp.lessons.base import LessonConfig, field_choices

ADVANCED = ("seed",)  # fields shown in a collapsed accordion


def _bounds(info) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in info.metadata:
        if isinstance(m, annotated_types.Ge):
            lo = m.ge
        elif isinstance(m, annotated_types.Gt):
            lo = m.gt
        elif isinstance(m, annotated_types.Le):
            hi = m.le
        elif isinstance(m, annotated_types.Lt):
            hi = m.lt
    return lo, hi


def widget_for(name: str, info) -> gr.components.Component:
    """One input component for Config field ``name``."""
    label = name.replace("_", " ")
    default = info.default
    info_text = info.description
    options = field_choices(info)
    annotation = info.annotation
    if options is not None:
        if typing.get_origin(annotation) is list:
            return gr.Dropdown(options, value=list(default), multiselect=True, label=label, info=info_text)
        return gr.Dropdown(options, value=default, label=label, info=info_text)
    if annotation is bool:
        return gr.Checkbox(value=default, label=label, info=info_text)
    lo, hi = _bounds(info)
    if annotation is int and lo is not None and hi is not None and hi - lo <= 100_000 and name != "seed":
        extra = info.json_schema_extra or {}
        return gr.Slider(lo, hi, value=default, step=extra.get("step", 1), label=label, info=info_text)
    if annotation in (int, float):
        return gr.Number(value=default, label=label, info=info_text, precision=0 if annotation is int else None,
                         minimum=lo, maximum=hi)
    return gr.Textbox(value=str(default), label=label, info=info_text)


def field_order(config: type[LessonConfig]) -> list[str]:
    """The order of the widgets, and so of the API endpoint's parameters: the lesson's own
    settings first, then the advanced ones (the seed)."""
    names = list(config.model_fields)
    return [n for n in names if n not in ADVANCED] + [n for n in names if n in ADVANCED]


def build_widgets(config: type[LessonConfig]) -> dict[str, gr.components.Component]:
    """Every Config field as a component, in :func:`field_order`; ``seed`` under "Advanced"."""
    widgets = {}
    for name in field_order(config):
        if name in ADVANCED:
            continue
        widgets[name] = widget_for(name, config.model_fields[name])
    with gr.Accordion("Advanced", open=False):
        for name in ADVANCED:
            widgets[name] = widget_for(name, config.model_fields[name])
    return widgets
