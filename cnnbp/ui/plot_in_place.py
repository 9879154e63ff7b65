"""The page updates a figure's drawing in place when Gradio sends its new value (issue 17).

Gradio 6.31's Plot (templates/frontend/assets/Plot-*.js) draws every new value of a figure into a
new empty div: the figure's value keys a Svelte block, so each update makes a new PlotlyPlot whose
effect calls ``Plotly.react`` on a div with nothing drawn in it, a full draw from scratch, automargin
passes included; the old div is dropped without ``Plotly.purge`` (its window resize listener stays).

The page script below wraps ``Plotly.react``: when Gradio asks it to draw into a new empty div of a
Plot block whose last drawing Gradio has just dropped, that drawing is put inside the new div and
``react`` updates it there (plotly diffs the figure: the SVG, the axes and the grown margins are kept).
The new div is Svelte's own node, kept where Svelte put it, so Svelte's bookkeeping of its block is
untouched; only the node's content is ours. Where there is no old drawing (the first draw, a block
drawn anew) plotly draws as before, and a drawing that is not reused is purged.

``window.cnnbpFreshDraws = true`` turns the reuse off (the bench compares both in one page).
Client-side only; installed once plotly.js has loaded (the page preloads it with a hidden figure).
"""

JS = """
() => {
  const drawnIn = new Map();  // Gradio's Plot block -> the div its figure is drawn in
  const install = (P) => {
    if (P.__cnnbpInPlace) return;
    P.__cnnbpInPlace = true;
    const react = P.react;
    P.react = function (gd, ...rest) {
      const block = gd.closest && gd.closest('.block');
      if (!block) return react.call(this, gd, ...rest);
      const before = drawnIn.get(block);
      const fresh = () => { drawnIn.set(block, gd); return react.call(this, gd, ...rest); };
      const inPlace = () => {
        const out = react.call(this, before, ...rest);
        // react measured the div as drawn, where a fresh draw finds Gradio's empty div: plotly would then
        // size the drawing to 100% of its div's height at the next window resize, and it collapses.
        before._context._hasZeroHeight = true;
        return out;
      };
      if (before && before !== gd && gd.contains(before)) return inPlace();  // Gradio's second call
      if (before && before !== gd && !before.isConnected) {  // Gradio dropped the old drawing
        if (!window.cnnbpFreshDraws && gd.childElementCount === 0) {
          before.removeAttribute('data-testid');  // the new div is the block's plotly div now
          gd.appendChild(before);
          return inPlace();
        }
        P.purge(before);
      }
      return fresh();
    };
  };
  const wait = () => { if (window.Plotly && window.Plotly.react) install(window.Plotly); else setTimeout(wait, 100); };
  wait();
}
"""
