"""The Evidence tab: every registered claim, its source, and a button that measures them all."""

from __future__ import annotations

import threading
from typing import Any, Iterator

import gradio as gr
import pandas as pd

import cnnbp.lessons  # noqa: F401  (registers every lesson's claims)
from cnnbp.claims import all_claims, run_claim
from cnnbp.train import RunControl
from cnnbp.ui.lesson_tab import HEAVY, RUN_THREADS
from cnnbp.ui.runner import CONTROLS, make_request_handler, make_stop_handler, session_of
from cnnbp.ui.slots import SLOTS

COLUMNS = ["claim", "lesson", "statement", "source", "verdict", "measured", "seconds"]


def claims_table() -> pd.DataFrame:
    rows = [{"claim": c.id, "lesson": c.lesson, "statement": c.statement, "source": c.source,
             "verdict": "not run", "measured": "", "seconds": None} for c in all_claims().values()]
    return pd.DataFrame(rows, columns=COLUMNS)


MEASURED: dict[str, dict] = {}  # claim id -> its row at seed 0: a claim measures the same every time
_MEASURED_LOCK = threading.Lock()
TAB = "evidence"


def measure(claim_id: str) -> dict:
    """A claim's row, measured once per server (a failed check is measured again next time)."""
    with _MEASURED_LOCK:
        row = MEASURED.get(claim_id)
    if row is None:
        row = run_claim(claim_id).as_row()
        if row["verdict"] != "error":
            with _MEASURED_LOCK:
                MEASURED[claim_id] = row
    return row


def run_all_claims(request: gr.Request) -> Iterator[tuple[str, Any]]:
    """Measure every claim in turn (a long run: it waits for the long-run slot); Stop ends it
    between two claims and keeps the rows measured so far."""
    session = session_of(request)
    control = CONTROLS.start(session, TAB)
    try:
        if not (yield from SLOTS.wait("long", control, lambda line: (line, gr.skip()))):
            yield "stopped by the user before it started", gr.skip()
            return
        try:
            yield from measure_rows(control)
        finally:
            SLOTS.release("long")
    finally:
        control.cancel()
        CONTROLS.finish(session, TAB, control)


def measure_rows(control: RunControl) -> Iterator[tuple[str, pd.DataFrame]]:
    table = claims_table()
    for i, claim_id in enumerate(table["claim"]):
        if control.stop_reason():
            yield f"stopped by the user after {i} of {len(table)} claims (the rows measured are kept)", table
            return
        yield f"measuring {claim_id} ({i + 1} of {len(table)})", table
        row = measure(claim_id)
        table.loc[i, ["verdict", "measured", "seconds"]] = [row["verdict"], row["measured"], row["seconds"]]
    held = int((table["verdict"] == "holds").sum())
    yield f"{held} of {len(table)} claims hold on our data", table


def build_evidence_tab() -> None:
    with gr.Tab("Evidence", id=TAB):
        gr.Markdown("### Evidence\nEvery claim of the lecture that a lesson tests, with its source text "
                    "(`seeds/000`-`004`) and the figure measured here. A claim that does not hold on our "
                    "small data is reported as such. Each claim is measured once per server; a second "
                    "press shows the rows at once and measures only the rest.")
        with gr.Row(elem_classes=["run-bar"], equal_height=True):
            run = gr.Button("Measure every claim", variant="primary", elem_id="evidence-run", scale=2)
            stop = gr.Button("Stop", variant="stop", elem_id="evidence-stop", scale=1)
            with gr.Column(scale=3):
                status = gr.Markdown(elem_id="evidence-status")
                stop_note = gr.Markdown(elem_id="evidence-stop-note")
        table = gr.Dataframe(value=claims_table(), wrap=True, elem_id="evidence-table")
        run.click(run_all_claims, inputs=None, outputs=[status, table], api_name="claims",
                  concurrency_limit=RUN_THREADS, concurrency_id=HEAVY)
        run.click(make_request_handler(TAB), inputs=None, outputs=[stop_note], queue=False,
                  api_visibility="private")
        stop.click(make_stop_handler(TAB), inputs=None, outputs=[stop_note], api_name="claims_stop", queue=False)
