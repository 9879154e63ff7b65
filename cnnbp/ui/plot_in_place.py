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

Every draw Gradio asks for is also put off to a task of its own (``setTimeout``), one figure per task,
the latest value of each figure once, figures on the screen first: a draw never shares a task with
Gradio's handling of a message nor with another figure's draw, so a click (Stop) waits for one draw at
most, and the values of a figure that arrived while the page was behind (a loaded machine) are drawn
once, not one after another. A figure off the screen is drawn once no figure on it waits. Until its
turn an update leaves the old drawing on the page.

``window.cnnbpFreshDraws = true`` turns the reuse off, ``window.cnnbpDrawAtOnce = true`` the waiting
(each draw in Gradio's task, as Gradio does): the bench compares both ways in one page.
``window.cnnbpDrawsDue()`` is the number of figures waiting for their draw.
Client-side only; installed once plotly.js has loaded (the page preloads it with a hidden figure).
"""

JS = """
() => {
  const drawnIn = new Map();  // Gradio's Plot block -> the div its figure is drawn in
  const due = new Map();  // Plot block -> [plotly, div, arguments] of its latest value not drawn yet
  const onScreen = new Set();  // Plot blocks in the viewport (an IntersectionObserver: no layout forced)
  const seen = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) onScreen.add(e.target); else onScreen.delete(e.target);
  });
  let waiting = false;
  window.cnnbpDrawsDue = () => due.size;  // the tests wait for 0 before they read the figures
  const install = (P) => {
    if (P.__cnnbpInPlace) return;
    P.__cnnbpInPlace = true;
    const react = P.react;
    const draw = (block, self, gd, rest) => {
      const before = drawnIn.get(block);
      if (before && before !== gd && gd.contains(before)) {  // an update: in the old drawing
        const out = react.call(self, before, ...rest);
        // react measured the div as drawn, where a fresh draw finds Gradio's empty div: plotly would then
        // size the drawing to 100% of its div's height at the next window resize, and it collapses.
        before._context._hasZeroHeight = true;
        return out;
      }
      drawnIn.set(block, gd);
      return react.call(self, gd, ...rest);
    };
    const drawNext = () => {  // one figure per task, those on the screen first
      waiting = false;
      const block = [...due.keys()].find((b) => onScreen.has(b)) || due.keys().next().value;
      if (block === undefined) return;
      const [self, gd, rest] = due.get(block);
      due.delete(block);
      if (due.size) later();
      if (gd.isConnected) draw(block, self, gd, rest);  // else a newer value of the block is due
    };
    const later = () => { if (!waiting) { waiting = true; setTimeout(drawNext); } };
    P.react = function (gd, ...rest) {
      const block = gd.closest && gd.closest('.block');
      if (!block) return react.call(this, gd, ...rest);
      seen.observe(block);
      const before = drawnIn.get(block);
      if (before && before !== gd && !before.isConnected) {  // Gradio dropped the old drawing
        if (!window.cnnbpFreshDraws && gd.childElementCount === 0) {
          before.removeAttribute('data-testid');  // the new div is the block's plotly div now
          gd.appendChild(before);  // at once: the figure stays on the page until its update is drawn
        } else {
          P.purge(before);
          drawnIn.delete(block);
        }
      }
      if (window.cnnbpDrawAtOnce) { due.delete(block); return draw(block, this, gd, rest); }
      due.set(block, [this, gd, rest]);
      later();
      return Promise.resolve(gd);
    };
  };
  const wait = () => { if (window.Plotly && window.Plotly.react) install(window.Plotly); else setTimeout(wait, 100); };
  wait();
}
"""
