"""The page's CSS (passed to ``launch``): large verdict lines whose state is a word and a colour,
a tab bar that wraps, Run/Stop in a bar that stays at the top while the page scrolls."""

from cnnbp.verdict_line import VERDICT_CSS

CSS = VERDICT_CSS + """
.run-bar { position: sticky; top: 0; z-index: 20; background: var(--background-fill-primary);
  padding: 4px 0; }
.figure-caption p { font-size: 17px; margin: 0 0 14px 4px; }
"""
