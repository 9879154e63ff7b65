"""The class's own data and models in the browser: a zip upload under a lesson's settings, and a
Download of the models a run trained.

A zip becomes a dataset of this browser session only (:mod:`cnnbp.data.session`): the server maps
the session to the set's secret name and puts it only into this session's dataset dropdowns (the
uploading tab's at once, every other tab's when its dropdown is opened: one upload serves all
lessons), never into another session's page. A new upload replaces the session's last one; the
store drops sets unused for hours and beyond a bound. No ``gr.State`` or ``demo.unload`` is
used: either makes every page hold a heartbeat connection open (Gradio's only way to learn a
session ended), for memory that the bounded store frees anyway. The zip is decoded in memory;
the only copy on disk is the one Gradio keeps in its own upload folder (``delete_cache``).

The API takes the same zip: ``/upload_data`` returns the set's name, which any lesson endpoint
then takes as its ``dataset``.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr

from cnnbp.data import LESSON_DATASETS, LESSON_SET_CHOICES
from cnnbp.data.archives import limits_text, register_archive
from cnnbp.data.session import DatasetChoices, forget, session_set
from cnnbp.data.uploads import UploadError
from cnnbp.lessons.base import ConfigError, Lesson, validate_config
from cnnbp.nn import checkpoints
from cnnbp.ui.runner import uploaded_path

# Lessons whose runs keep their trained models for download (their parts call checkpoints.keep_models).
KEEPS_MODELS = ("norms", "visualise", "imbalance")


class SessionUploads:
    """browser session -> the name of its uploaded set (a new upload replaces and drops the last)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: dict[str, str] = {}

    def replace(self, session: str, name: str) -> None:
        with self._lock:
            old = self._names.get(session)
            self._names[session] = name
        if old and old != name:
            forget(old)

    def get(self, session: str | None) -> str | None:
        with self._lock:
            return self._names.get(session or "")


SESSIONS = SessionUploads()


def upload_data(archive: Any, request: gr.Request | None = None) -> str:
    """A zip (its path) -> the name of the session's new dataset; one-line gr.Error if refused."""
    path = uploaded_path(archive)
    if not isinstance(path, str):
        raise gr.Error("choose a .zip file first", print_exception=False)
    try:
        name, _ = register_archive(path, title=Path(path).stem)
    except UploadError as err:
        raise gr.Error(str(err), print_exception=False) from None
    session = getattr(request, "session_hash", None)
    if session:
        SESSIONS.replace(session, name)
    return name


def upload_and_select(archive: Any, request: gr.Request) -> tuple[Any, str]:
    """The uploading tab: its dropdown gets the set, selected, and the note says what was read."""
    return dataset_update(upload_data(archive, request), select=True)


def offer_session_upload(request: gr.Request) -> tuple[Any, str]:
    """Another tab's dropdown, as it opens: this session's upload added to its choices."""
    name = SESSIONS.get(getattr(request, "session_hash", None))
    return dataset_update(name, select=False) if name else (gr.skip(), gr.skip())


def offer_upload_in(builtins: tuple[str, ...]):
    """A focus handler for another dataset field (transfer's ``imagenet_target``): its ``builtins``
    plus this session's upload."""
    def offer(request: gr.Request) -> Any:
        name = SESSIONS.get(getattr(request, "session_hash", None))
        return dataset_update(name, select=False, builtins=builtins)[0] if name else gr.skip()
    return offer


def dataset_update(name: str, *, select: bool, builtins: tuple[str, ...] = LESSON_DATASETS) -> tuple[Any, str]:
    """A dropdown offering the built-in sets plus the session's upload, and the note about it."""
    try:
        entry = session_set(name)
    except ValueError as err:
        return gr.update(choices=list(builtins)), str(err)
    label = f"{entry.title} (your upload)"
    choices = [*builtins, (label, name)]
    return (gr.update(choices=choices, value=name) if select else gr.update(choices=choices),
            f"**{label}**: {entry.note}. Offered as the dataset in every tab.")


_API_DOORS: set[int] = set()


def _api_door() -> None:
    """Once per Blocks: /upload_data for API clients (a hidden file box in, the set's name out)."""
    root = gr.context.Context.root_block
    if id(root) in _API_DOORS:
        return
    _API_DOORS.add(id(root))
    with gr.Group(visible=False):
        api_file, api_name, api_button = gr.File(file_types=[".zip"]), gr.Textbox(), gr.Button()
    api_button.click(upload_data, inputs=api_file, outputs=api_name, api_name="upload_data", queue=False)


def build_uploads(lesson: Lesson, widgets: dict[str, gr.components.Component]) -> None:
    """Under a lesson's settings: the own-data zip (where the lesson takes a dataset) and the Download
    of its trained models (where its runs keep them). Nothing for other lessons."""
    field = lesson.config.model_fields.get("dataset")
    takes_uploads = field is not None and any(getattr(m, "registry", None) is LESSON_SET_CHOICES
                                              for m in field.metadata)
    if takes_uploads:
        _api_door()
        with gr.Accordion("Your own data (zip)", open=False, elem_id=f"{lesson.name}-own-data"):
            gr.Markdown(f"Class folders (`cat/001.png`, `dog/001.png`) or a CSV of file names and labels: "
                        f"{limits_text()}. Only this browser session sees it.")
            archive = gr.File(label="zip of images", file_types=[".zip"], elem_id=f"{lesson.name}-data-zip")
            note = gr.Markdown(elem_id=f"{lesson.name}-data-note")
        dropdown = widgets["dataset"]
        archive.upload(upload_and_select, inputs=archive, outputs=[dropdown, note], api_visibility="private",
                       queue=False, preprocess=False)
        dropdown.focus(offer_session_upload, inputs=None, outputs=[dropdown, note], api_visibility="private",
                       queue=False)
    for name, info in lesson.config.model_fields.items():  # other fields that take an upload as their data
        registry = next((m.registry for m in info.metadata if isinstance(getattr(m, "registry", None),
                                                                         DatasetChoices)), None)
        if name != "dataset" and registry is not None and name in widgets:
            widgets[name].focus(offer_upload_in(tuple(registry)), inputs=None, outputs=widgets[name],
                                api_visibility="private", queue=False)
    if lesson.name in KEEPS_MODELS:
        names = list(widgets)
        with gr.Accordion("Download the trained models", open=False, elem_id=f"{lesson.name}-models-download"):
            button = gr.Button("Prepare the last run's models (.zip of .pt)", elem_id=f"{lesson.name}-models")
            models = gr.File(label="trained models", elem_id=f"{lesson.name}-models-file")
        button.click(lambda *values: models_file(lesson, names, values), inputs=[widgets[n] for n in names],
                     outputs=models, api_name=f"{lesson.name}_models", preprocess=False)


DOWNLOADS = Path(tempfile.gettempdir()) / "cnnbp-models"
DOWNLOAD_TTL_S = 3600


def models_file(lesson: Lesson, names: list[str], values: Any) -> str:
    """The models the run of these settings kept, as a zip file (its path; Gradio copies it into its cache)."""
    try:
        cfg = validate_config(lesson.config, dict(zip(names, values)))
    except ConfigError as err:
        raise gr.Error(str(err), print_exception=False) from None
    kept = checkpoints.kept_models(checkpoints.run_key(lesson.name, cfg, exclude=lesson.live))
    if not kept:
        raise gr.Error("no trained models are kept for these settings: press Run first (runs stopped early "
                       "keep none)", print_exception=False)
    DOWNLOADS.mkdir(mode=0o700, exist_ok=True)
    for old in DOWNLOADS.glob("*.zip"):  # an hour is long enough for Gradio to have copied it
        if time.time() - old.stat().st_mtime > DOWNLOAD_TTL_S:
            old.unlink(missing_ok=True)
    path = DOWNLOADS / f"{lesson.name}-models-{secrets.token_hex(6)}.zip"
    path.write_bytes(checkpoints.models_zip(kept))
    return str(path)
