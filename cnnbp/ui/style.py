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
"""
