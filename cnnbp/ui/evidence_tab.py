"""The Evidence tab: every registered claim, its source, and a button that measures them all."""

from __future__ import annotations

from typing import Iterator

import gradio as gr
import pandas as pd

import cnnbp.lessons  # noqa: F401  (registers every lesson's claims)
from cnnbp.claims import all_claims, run_claim
from cnnbp.ui.lesson_tab import HEAVY

COLUMNS = ["claim", "lesson", "statement", "source", "verdict", "measured", "seconds"]


def claims_table() -> pd.DataFrame:
    rows = [{"claim": c.id, "lesson": c.lesson, "statement": c.statement, "source": c.source,
             "verdict": "not run", "measured": "", "seconds": None} for c in all_claims().values()]
    return pd.DataFrame(rows, columns=COLUMNS)


def run_all_claims() -> Iterator[tuple[str, pd.DataFrame]]:
    table = claims_table()
    for i, claim_id in enumerate(table["claim"]):
        yield f"measuring {claim_id} ({i + 1} of {len(table)})", table
        row = run_claim(claim_id).as_row()
        table.loc[i, ["verdict", "measured", "seconds"]] = [row["verdict"], row["measured"], row["seconds"]]
    held = int((table["verdict"] == "holds").sum())
    yield f"{held} of {len(table)} claims hold on our data", table


def build_evidence_tab() -> None:
    with gr.Tab("Evidence", id="evidence"):
        gr.Markdown("### Evidence\nEvery claim of the lecture that a lesson tests, with its source text "
                    "(`seeds/000`-`004`) and the figure measured here. A claim that does not hold on our "
                    "small data is reported as such.")
        run = gr.Button("Measure every claim", variant="primary", elem_id="evidence-run")
        status = gr.Markdown(elem_id="evidence-status")
        table = gr.Dataframe(value=claims_table(), wrap=True, elem_id="evidence-table")
        run.click(run_all_claims, inputs=None, outputs=[status, table], api_name="claims",
                  concurrency_limit=1, concurrency_id=HEAVY)
