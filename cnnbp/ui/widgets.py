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


def upload_kind(info) -> str | None:
    """``"image"`` or ``"model"`` for a Config field declared ``json_schema_extra={"upload": ...}`` (its
    value is the path of an uploaded file), else None."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return extra.get("upload")


def upload_fields(config: type[LessonConfig]) -> set[str]:
    """The Config fields whose widget is an upload box."""
    return {name for name, info in config.model_fields.items() if upload_kind(info)}


def widget_for(name: str, info, *, elem_id: str | None = None) -> gr.components.Component:
    """One input component for Config field ``name``."""
    label = name.replace("_", " ")
    common = {"label": label, "info": info.description, "elem_id": elem_id}
    default = info.default
    if upload_kind(info) == "image":  # a file-path field: an upload box (PNG/JPEG checked by the Config)
        return gr.Image(type="filepath", sources=["upload"], label=f"{label}: {info.description}",
                        elem_id=elem_id, height=180)
    if upload_kind(info) == "model":  # a checkpoint file: read with weights_only by the Config's validator
        return gr.File(label=f"{label}: {info.description}", file_types=[".pt"], elem_id=elem_id, height=120)
    options = field_choices(info)
    annotation = info.annotation
    if options is not None:
        if typing.get_origin(annotation) is list:
            return gr.Dropdown(options, value=list(default), multiselect=True, **common)
        return gr.Dropdown(options, value=default, **common)
    if annotation is bool:
        return gr.Checkbox(value=default, **common)
    lo, hi = _bounds(info)
    extra = info.json_schema_extra or {}
    if annotation is int and lo is not None and hi is not None and hi - lo <= 100_000 and name != "seed":
        return gr.Slider(lo, hi, value=default, step=extra.get("step", 1), **common)
    if annotation is float and lo is not None and hi is not None and "step" in extra:  # opt-in: a float slider
        return gr.Slider(lo, hi, value=default, step=extra["step"], **common)
    if annotation in (int, float):
        return gr.Number(value=default, precision=0 if annotation is int else None, minimum=lo, maximum=hi, **common)
    return gr.Textbox(value=str(default), **common)


def field_order(config: type[LessonConfig]) -> list[str]:
    """The order of the widgets, and so of the API endpoint's parameters: the lesson's own
    settings first, then the advanced ones (the seed)."""
    names = list(config.model_fields)
    return [n for n in names if n not in ADVANCED] + [n for n in names if n in ADVANCED]


def build_widgets(config: type[LessonConfig], *, prefix: str) -> dict[str, gr.components.Component]:
    """Every Config field as a component (elem_id ``prefix-field``), in :func:`field_order`;
    ``seed`` under "Advanced"."""
    fields = config.model_fields
    widgets = {name: widget_for(name, fields[name], elem_id=f"{prefix}-{name}")
               for name in field_order(config) if name not in ADVANCED}
    with gr.Accordion("Advanced", open=False):
        for name in ADVANCED:
            widgets[name] = widget_for(name, fields[name], elem_id=f"{prefix}-{name}")
    return widgets
