"""The page's CSS (passed to ``launch``): large verdict lines whose state is a word and a colour,
a tab bar that wraps, Run/Stop in a bar that stays at the top while the page scrolls."""

CSS = """
.verdicts { display: flex; flex-direction: column; gap: 4px; }
.verdict { font-size: 20px; line-height: 1.35; border-left: 8px solid #777; padding: 2px 8px; }
.verdict summary { cursor: pointer; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  list-style: none; }
.verdict summary::-webkit-details-marker { display: none; }
.verdict[open] summary { white-space: normal; }
.verdict .v-text { font-size: 17px; }
.v-word { display: inline-block; min-width: 8.2em; text-align: center; color: #fff; font-weight: 700;
  border-radius: 4px; padding: 0 6px; font-size: 17px; }
/* Okabe-Ito, darkened for white text: bluish green, vermillion, orange; grey for a note */
.v-holds { border-color: #00735a; } .v-holds .v-word { background: #00735a; }
.v-fails { border-color: #b8410a; } .v-fails .v-word { background: #b8410a; }
.v-canttell { border-color: #8a5f00; } .v-canttell .v-word { background: #8a5f00; }
.v-note { border-color: #5a5a5a; } .v-note .v-word { background: #5a5a5a; }
.run-bar { position: sticky; top: 0; z-index: 20; background: var(--background-fill-primary);
  padding: 4px 0; }
.figure-caption p { font-size: 17px; margin: 0 0 14px 4px; }
"""
