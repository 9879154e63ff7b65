"""A verdict's one line, the same wherever it is shown (the page, the CLI, the take-home report):
a word for its state (not an emoji: a hall PC without an emoji font draws every emoji as the
same box), its headline (the number that matters) and the lecture's claim in a few words.

>>> from cnnbp.lessons.base import Verdict
>>> v = Verdict("ReLU converges faster", "...", True, headline="ReLU 3.4x faster than sigmoid")
>>> plain_line(v)
'HOLDS  ReLU 3.4x faster than sigmoid'
>>> verdict_word(Verdict("race", "1 seed: too few to tell", None))
("CAN'T TELL", 'v-canttell')
"""

from __future__ import annotations

import html
import re

from cnnbp.claims import CLAIMS
from cnnbp.lessons.base import Verdict

# passed None is either a plain observation (NOTE) or a measurement that cannot decide: the
# verdicts say the latter in words ("cannot tell", "too close to call", "too few runs to tell").
CANNOT_TELL = re.compile(r"can(?:'|no|not)?t tell|can not tell|could not tell|too close to call|"
                         r"too (?:few|little|short)\b[^.;:]{0,24}? to (?:tell|call)", re.I)


def verdict_word(v: Verdict) -> tuple[str, str]:
    """(word, css class) of a verdict, from its fields alone."""
    if v.passed is True:
        return "HOLDS", "v-holds"
    if v.passed is False:
        return "DOES NOT HOLD", "v-fails"
    if CANNOT_TELL.search(v.text):
        return "CAN'T TELL", "v-canttell"
    return "NOTE", "v-note"


def why_cannot_tell(v: Verdict) -> str:
    """The clause of a can't-tell verdict's text that says why ("1 seed: too few to tell"), so the
    line a hall reads is not a bare "CAN'T TELL" beside two numbers that look decisive; "" otherwise."""
    if v.passed is not None or not (m := CANNOT_TELL.search(v.text)):
        return ""
    start = max(v.text.rfind(sep, 0, m.start()) for sep in (". ", "; ", ", "))
    start = 0 if start < 0 else start + 2
    ends = [i for sep in (". ", "; ", ", ", " (") if (i := v.text.find(sep, m.end())) >= 0]
    clause = v.text[start:min(ends, default=len(v.text))].strip().rstrip(".")
    return clause if len(clause) <= 90 else v.text[m.start():m.end()]


def lecture_of(v: Verdict) -> str:
    """The lecture's claim the verdict measures, in a few words ("" when it measures none)."""
    claim = CLAIMS.get(v.claim) if v.claim else None
    return claim.lecture if claim else ""


def plain_line(v: Verdict) -> str:
    """The verdict in one line of plain text: word, headline (or the label), the lecture's claim."""
    lecture, why = lecture_of(v), why_cannot_tell(v) if v.headline else ""
    return (f"{verdict_word(v)[0]}  {v.headline or v.label}" + (f"  [{why}]" if why else "")
            + (f"  (lecture: {lecture})" if lecture else ""))


def verdicts_html(verdicts: list[Verdict], *, unfolded: bool = False) -> str:
    """One line per verdict: a coloured word, the headline in large type (the number that matters)
    and the lecture's claim in a few words; a click unfolds the label and the whole text
    (``unfolded``: shown unfolded, as in the take-home report). A verdict without a headline shows
    its label and its text cut to one line, the whole text when unfolded."""
    if not verdicts:
        return ""
    rows = []
    for v in verdicts:
        word, cls = verdict_word(v)
        lecture = lecture_of(v)
        if v.headline:
            why = why_cannot_tell(v)
            line = (f'<span class="v-headline">{html.escape(v.headline)}</span>'
                    + (f'<span class="v-why">{html.escape(why)}</span>' if why else "")
                    + (f'<span class="v-lecture">lecture: {html.escape(lecture)}</span>' if lecture else ""))
            body = (f'<div class="v-body"><b class="v-label">{html.escape(v.label)}</b> '
                    f'<span class="v-text">{html.escape(v.text)}</span></div>')
        else:  # the summary is everything: the text is in the page once
            line = (f'<b class="v-label">{html.escape(v.label)}</b> '
                    f'<span class="v-text">{html.escape(v.text)}</span>')
            body = ""
        cut = "" if v.headline else " v-cut"
        rows.append(f'<details class="verdict {cls}"{" open" if unfolded else ""}><summary>'
                    f'<span class="v-word">{word}</span><span class="v-line{cut}">{line}</span></summary>'
                    f"{body}</details>")
    return '<div class="verdicts">' + "".join(rows) + "</div>"


VERDICT_CSS = """
.verdicts { display: flex; flex-direction: column; gap: 4px; }
/* One line per verdict: the word, the headline in large type, the lecture's claim; a click unfolds
   the whole text. Sizes in em follow the verdict's font size (the presenter view enlarges it). */
.verdict { font-size: 20px; line-height: 1.25; border-left: 8px solid #777; padding: 2px 8px; }
.verdict summary { cursor: pointer; list-style: none; display: flex; align-items: baseline; gap: 10px; }
.verdict summary::-webkit-details-marker { display: none; }
.verdict summary::after { content: ""; flex: none; align-self: center; margin-left: auto; padding: 4px;
  border: solid currentColor; border-width: 0 3px 3px 0; transform: rotate(-45deg); opacity: 0.55; }
.verdict[open] summary::after { transform: rotate(45deg); }
.v-line { flex: 1 1 auto; min-width: 0; }
.v-headline { font-weight: 600; margin-right: 0.7em; }
.v-why { display: inline-block; font-size: 0.8em; font-weight: 600; color: #8a5f00; margin-right: 0.7em; }
.v-lecture { display: inline-block; font-size: 0.8em; opacity: 0.8; font-style: italic; }
.v-cut { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.verdict[open] .v-cut { white-space: normal; }
.v-body { margin: 4px 0 6px 0; font-size: 0.85em; }
.verdict .v-text { font-size: 17px; }
.v-word { flex: none; display: inline-block; min-width: 10em; text-align: center; color: #fff; font-weight: 700;
  border-radius: 4px; padding: 0 6px; font-size: 16px; }
/* Okabe-Ito, darkened for white text: bluish green, vermillion, orange; grey for a note */
.v-holds { border-color: #00735a; } .v-holds .v-word { background: #00735a; }
.v-fails { border-color: #b8410a; } .v-fails .v-word { background: #b8410a; }
.v-canttell { border-color: #8a5f00; } .v-canttell .v-word { background: #8a5f00; }
.v-note { border-color: #5a5a5a; } .v-note .v-word { background: #5a5a5a; }
"""
