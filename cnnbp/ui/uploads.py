"""The class's own data and models in the browser: a zip upload under a lesson's settings, and a
Download of the models a run trained.

A zip becomes a dataset of this browser session only (:mod:`cnnbp.data.session`): its secret name
lives in the session's ``gr.State`` and in this session's dataset dropdowns (every tab's: one
upload serves all lessons), never in another session's page. The set is dropped when the
session ends (``demo.unload``, at once when the tab closes; the State's delete callback as a
backstop) or when a new upload replaces it. The zip is decoded in memory; the only copy on disk
is the one Gradio keeps in its own upload folder (deleted by ``delete_cache``).

The API takes the same zip: ``/upload_data`` returns the set's name, which any lesson endpoint
then takes as its ``dataset``.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from cnnbp.data import LESSON_DATASETS, LESSON_SET_CHOICES
from cnnbp.data.archives import limits_text, register_archive
from cnnbp.data.session import forget, session_set
from cnnbp.data.uploads import UploadError
from cnnbp.lessons.base import ConfigError, Lesson, validate_config
from cnnbp.nn import checkpoints
from cnnbp.ui.runner import uploaded_path

# Lessons whose runs keep their trained models for download (their parts call checkpoints.keep_models).
KEEPS_MODELS = ("norms",)


class SessionUploads:
    """browser session -> the name of its uploaded set, so the session's end can drop it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: dict[str, str] = {}

    def replace(self, session: str, name: str) -> None:
        with self._lock:
            old = self._names.get(session)
            self._names[session] = name
        if old and old != name:
            forget(old)

    def end(self, session: str) -> None:
        with self._lock:
            name = self._names.pop(session, None)
        forget(name)


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


def end_session(request: gr.Request) -> None:
    SESSIONS.end(getattr(request, "session_hash", None) or "")


def dataset_update(name: str | None) -> tuple[Any, str]:
    """A session's dropdown and note once its upload changed: the built-in sets plus the upload, selected."""
    if not name:
        return gr.skip(), ""
    try:
        entry = session_set(name)
    except ValueError as err:
        return gr.update(choices=list(LESSON_DATASETS), value=LESSON_DATASETS[0]), str(err)
    label = f"{entry.title} (your upload)"
    return (gr.update(choices=[*LESSON_DATASETS, (label, name)], value=name),
            f"**{label}**: {entry.note}. Selected as the dataset in every tab.")


@dataclass
class _Shared:
    state: gr.State  # this session's upload name


_SHARED: dict[int, _Shared] = {}


def _shared() -> _Shared:
    """The one upload State of the Blocks being built (tabs share it), with its unload hook and API."""
    root = gr.context.Context.root_block
    key = id(root)
    if key not in _SHARED:
        state = gr.State(None, delete_callback=forget)
        root.unload(end_session)
        with gr.Group(visible=False):  # the API's own door: a file in, the name out
            api_file = gr.File(file_types=[".zip"])
            api_name = gr.Textbox()
            api_button = gr.Button()
        api_button.click(upload_data, inputs=api_file, outputs=api_name, api_name="upload_data", queue=False)
        _SHARED[key] = _Shared(state)
    return _SHARED[key]


def build_uploads(lesson: Lesson, widgets: dict[str, gr.components.Component]) -> None:
    """Under a lesson's settings: the own-data zip (where the lesson takes a dataset) and the Download
    of its trained models (where its runs keep them). Nothing for other lessons."""
    field = lesson.config.model_fields.get("dataset")
    takes_uploads = field is not None and any(getattr(m, "registry", None) is LESSON_SET_CHOICES
                                              for m in field.metadata)
    if takes_uploads:
        shared = _shared()
        with gr.Accordion("Your own data (zip)", open=False):
            gr.Markdown(f"Class folders (`cat/001.png`, `dog/001.png`) or a CSV of file names and labels: "
                        f"{limits_text()}. Only this browser session sees it; it is dropped when you close the tab.")
            archive = gr.File(label="zip of images", file_types=[".zip"], elem_id=f"{lesson.name}-data-zip")
            note = gr.Markdown(elem_id=f"{lesson.name}-data-note")
        archive.upload(upload_data, inputs=archive, outputs=shared.state, api_visibility="private", queue=False)
        shared.state.change(dataset_update, inputs=shared.state, outputs=[widgets["dataset"], note], queue=False,
                            api_visibility="private")
    if lesson.name in KEEPS_MODELS:
        names = list(widgets)
        with gr.Accordion("Download the trained models", open=False):
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
    kept = checkpoints.kept_models(checkpoints.run_key(lesson.name, cfg))
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
