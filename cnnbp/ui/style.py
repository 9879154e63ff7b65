"""The page's CSS (passed to ``launch``): large verdict lines whose state is a word and a colour,
a tab bar that wraps, Run/Stop in a bar that stays at the top while the page scrolls."""

from cnnbp.verdict_line import VERDICT_CSS

CSS = VERDICT_CSS + """
.run-bar { position: sticky; top: 0; z-index: 20; background: var(--background-fill-primary);
  padding: 4px 0; }
/* Figures first: the verdicts take at most a third of the screen above the figures and scroll inside
   it (Architecture's ten verdicts filled the whole first screen at 1024 x 768). */
.figures-col .verdicts { max-height: 32vh; overflow-y: auto; overscroll-behavior: contain; }
.figure-caption p { font-size: 17px; margin: 0 0 14px 4px; }
/* Gradio's progress overlay on the status line is see-through: its progress words and bars (the same
   words as the status line's, in small mono type) lay over the status text, both unreadable. Only its
   corner text stays: the clock and, while queued, the queue position. */
[id$="-status"] .progress-level, [id$="-status"] .eta-bar { display: none; }
/* Gradio fades a component whose event is pending to 20% opacity: the status line, the one component
   that shows a run's progress, was faint grey for the whole run. It stays at full strength, in large type. */
[id$="-status"] .pending { opacity: 1 !important; }
[id$="-status"] p { font-size: 18px; line-height: 1.3; }
/* Every tab in one click: one row of tabs at 1024 px, two at 150% zoom (683 px), none in a "..."
   menu (Gradio's 16 px padding a side wrapped the bar at 1024 px). */
.tab-container > button[role=tab] { padding: 0 9px; }
/* At 150% zoom the page's header shrinks, a lesson's summary scrolls inside three lines and the
   Run bar's buttons take one or two lines: the bar stays on the first screen of every tab. */
@media (max-width: 800px) {
  .page-head h2 { font-size: 20px; margin: 0; }
  .page-head p { display: none; }
  .lesson-head p { max-height: 4.8em; overflow-y: auto; }
  .run-bar button { font-size: 16px; padding: 4px 8px; min-height: 0; }
  .figures-col { order: -1; }  /* the settings column wraps under the figures, not over them */
}
"""
