"""The page lets go of a figure's old drawing when Gradio draws its new one (issue 17).

Gradio 6.31's Plot draws every new value of a figure into a new div (a keyed Svelte block) with
``Plotly.react`` and drops the old div without ``Plotly.purge``: each dropped drawing keeps its
window resize listener (40+ after one run), so every resize of the window (the presenter view, a
projector's resolution) redraws every figure a run ever sent, long after they left the page. The page
script below purges a figure's previous drawing once Gradio has removed it from the page.

Updating the drawn div in place instead (``react`` on it, a diff) measured 1 to 2.7x faster per figure,
but moving divs under Gradio's own blocks lost figures in the browser test; not done.

Client-side only; installed once plotly.js has loaded (the page preloads it with a hidden figure).
"""

JS = """
() => {
  const drawnIn = new Map();  // Gradio's Plot block -> the div last drawn in it
  const install = (P) => {
    if (P.__cnnbpPurge) return;
    P.__cnnbpPurge = true;
    const react = P.react;
    P.react = function (gd, ...rest) {
      const block = gd.closest && gd.closest('.block');
      const before = block && drawnIn.get(block);
      if (before && before !== gd && !before.isConnected) P.purge(before);  // Gradio dropped it
      if (block) drawnIn.set(block, gd);
      return react.call(this, gd, ...rest);
    };
  };
  const wait = () => { if (window.Plotly && window.Plotly.react) install(window.Plotly); else setTimeout(wait, 100); };
  wait();
}
"""
