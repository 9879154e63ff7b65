"""Presenter view for a lecture hall: one toggle (the header's button, the P key, or the URL
parameter ``?presenter=1``) hides the settings, gives the figures the full width and makes the
type large; keys R, S and N press the shown tab's Run and Stop and open the next tab.

Client-side only (the page's JS and CSS): nothing reaches the server, no other visitor changes.
"""

TOGGLE_ID = "presenter-toggle"

CSS = """
.presenter-toggle { align-self: flex-start; max-height: 44px; }
body.presenter .settings-col { display: none !important; }
body.presenter .figures-col { min-width: 100% !important; flex-basis: 100% !important; }
body.presenter .prose, body.presenter .prose p { font-size: 22px !important; }
body.presenter .verdict { font-size: 27px; }
body.presenter .verdict .v-text, body.presenter .v-word { font-size: 22px; }
body.presenter .figure-caption p { font-size: 22px; }
body.presenter .run-bar button { font-size: 22px; }
/* one figure to a screen: each is as tall as the window lets it be read whole */
body.presenter .figures-col .js-plotly-plot { min-height: 70vh; }
"""

# Runs once when the page loads (Gradio's ``launch(js=...)``).
JS = """
() => {
  const visible = (sel) => [...document.querySelectorAll(sel)].find(el => el.offsetParent !== null);
  const resize = () => window.dispatchEvent(new Event('resize'));  // plotly redraws at the new width
  window.cnnbpPresenter = (on) => {
    const now = document.body.classList.toggle('presenter', on);
    const url = new URL(window.location);
    if (now) url.searchParams.set('presenter', '1'); else url.searchParams.delete('presenter');
    window.history.replaceState(null, '', url);
    setTimeout(resize, 50);
    return now;
  };
  if (new URLSearchParams(window.location.search).get('presenter') === '1') window.cnnbpPresenter(true);
  document.addEventListener('keydown', (e) => {
    const typing = e.target.closest('input, textarea, select, [contenteditable=true]');
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key.toLowerCase();
    if (key === 'p') window.cnnbpPresenter();
    else if (key === 'r') visible('button[id$="-run"]')?.click();
    else if (key === 's') visible('button[id$="-stop"]')?.click();
    else if (key === 'n') {
      const tabs = [...document.querySelectorAll('[role=tab]')];
      const at = tabs.findIndex(t => t.getAttribute('aria-selected') === 'true');
      tabs[(at + 1) % tabs.length]?.click();
    } else return;
    e.preventDefault();
  });
}
"""
