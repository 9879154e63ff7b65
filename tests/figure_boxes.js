async (root) => {
  // Every drawn plotly figure under `root`: boxes of its legend, titles, axis titles and tick labels,
  // and the overlaps and clipping a reader at the back of a hall would see. The page draws figures
  // one per task (cnnbp/ui/plot_in_place.py): the figures still waiting are drawn first.
  for (let i = 0; i < 600 && window.cnnbpDrawsDue && window.cnnbpDrawsDue() > 0; i++) await new Promise((r) => setTimeout(r, 50));
  const box = (el) => { const r = el.getBoundingClientRect(); return {x0: r.left, y0: r.top, x1: r.right, y1: r.bottom}; };
  const meets = (a, b, tol = 1) => a.x0 + tol < b.x1 && b.x0 + tol < a.x1 && a.y0 + tol < b.y1 && b.y0 + tol < a.y1;
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && (el.textContent || '').trim() !== '' ; };
  const cls = (el) => (el.getAttribute('class') || '');
  const out = [];
  for (const plot of root.querySelectorAll('.js-plotly-plot')) {
    const holder = plot.closest('[id]');
    const name = holder ? holder.id : '?';
    const fig = box(plot);
    const problems = [];
    const legends = [...plot.querySelectorAll('g.legend')].filter(g => g.getBoundingClientRect().width > 0)
      .map(g => ({el: g, box: box(g.querySelector('rect.bg') || g)}));
    const axisTitles = [...plot.querySelectorAll('text')].filter(t => /^[xy]\d*title$/.test(cls(t).split(' ')[0]) && visible(t));
    const ticks = [...plot.querySelectorAll('g')].filter(g => /^[xy]\d*tick$/.test(cls(g).split(' ')[0]))
      .flatMap(g => [...g.querySelectorAll('text')]).filter(visible);
    const titles = [...plot.querySelectorAll('.gtitle')].filter(visible);
    const annotations = [...plot.querySelectorAll('g.annotation')].filter(a => a.getBoundingClientRect().width > 0);
    const label = (el) => `${cls(el).split(' ')[0] || el.tagName} "${(el.textContent || '').trim().slice(0, 30)}"`;
    for (const lg of legends) {
      for (const t of [...axisTitles, ...ticks, ...titles, ...annotations]) {
        if (meets(lg.box, box(t))) problems.push(`legend overlaps ${label(t)}`);
      }
      if (lg.box.x1 > fig.x1 + 1 || lg.box.y1 > fig.y1 + 1 || lg.box.x0 < fig.x0 - 1) problems.push('legend clipped');
    }
    for (const t of [...titles, ...axisTitles, ...annotations]) {
      const b = box(t);
      if (b.x1 > fig.x1 + 1 || b.x0 < fig.x0 - 1 || b.y0 < fig.y0 - 1 || b.y1 > fig.y1 + 1) problems.push(`${label(t)} clipped`);
    }
    for (const t of titles) for (const a of [...axisTitles, ...ticks, ...annotations]) if (meets(box(t), box(a))) problems.push(`title overlaps ${label(a)}`);
    for (const a of axisTitles) for (const b of [...ticks, ...annotations]) if (meets(box(a), box(b), 2)) problems.push(`${label(a)} overlaps ${label(b)}`);
    // a panel's title (a subplot title is an annotation) on the tick labels of the panel above or beside it
    for (const a of annotations) for (const t of ticks) if (meets(box(a), box(t), 2)) problems.push(`annotation ${label(a)} overlaps tick ${label(t)}`);
    const areas = [...plot.querySelectorAll('rect.nsewdrag')].map(box);
    for (const a of axisTitles) if (areas.some(r => meets(box(a), r, 2))) problems.push(`${label(a)} over a plot area`);
    const texts = [...axisTitles, ...annotations];
    for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) if (meets(box(texts[i]), box(texts[j]), 2)) problems.push(`${label(texts[i])} overlaps ${label(texts[j])}`);
    // tick labels of one axis that run into each other ("1-1")
    const byAxis = {};
    for (const g of [...plot.querySelectorAll('g')].filter(g => /^[xy]\d*tick$/.test(cls(g).split(' ')[0]))) {
      const t = g.querySelector('text'); if (!t || !visible(t) || /rotate/.test(t.getAttribute('transform') || '')) continue;
      (byAxis[cls(g).split(' ')[0]] ||= []).push(box(t));
    }
    for (const [axis, bs] of Object.entries(byAxis)) for (let i = 1; i < bs.length; i++) if (meets(bs[i - 1], bs[i], 2)) { problems.push(`${axis} labels overlap`); break; }
    // Gradio's label box over the figure's title
    const block = plot.closest('.block');
    const blockLabel = block && block.querySelector('[data-testid=block-label]');
    if (blockLabel && blockLabel.getBoundingClientRect().width > 0) for (const t of titles) if (meets(box(blockLabel), box(t))) problems.push('Gradio label over the title');
    out.push({name, width: fig.x1 - fig.x0, problems: [...new Set(problems)]});
  }
  return out;
}
