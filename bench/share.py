"""Instant replays and the take-home report, against their naive baselines in the same process.

- a playlist step played from its shipped record (load, restore, figures redrawn by plotly) vs the
  same step run live;
- report.html (plotly.js once) vs one standalone HTML per figure (plotly.js inlined in each), bytes.

    python bench/share.py [--repeats 3]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_args, lesson_seconds, timed  # noqa: E402
from cnnbp import replays  # noqa: E402
from cnnbp.export import write_report  # noqa: E402
from cnnbp.presets import shipped_playlists  # noqa: E402

PLAYLIST, STEPS = "003-training-neural-networks-1", (7, 9, 13)  # images, classic init, BN robustness


def main() -> None:
    args, threads = bench_args(__doc__)
    steps = shipped_playlists()[PLAYLIST].steps
    print(f"torch threads {threads}, {args.repeats} repeats, medians")
    for number in STEPS:
        step = steps[number - 1]
        settings = step.cfg.model_dump()
        live = statistics.median(lesson_seconds(step.lesson, settings) for _ in range(args.repeats))

        def replay():
            replays._LOADED.clear()  # from the file each time, not the in-memory copy
            assert replays.find(step.lesson, step.cfg) is not None

        played = statistics.median(timed(replay) for _ in range(args.repeats))
        print(f"step {number} ({step.lesson}, {step.title}): live {live:.2f} s, replay {played * 1000:.0f} ms "
              f"({live / played:.0f}x)")
        frame = replays.find(step.lesson, step.cfg)
        with tempfile.TemporaryDirectory() as tmp:
            report = sum(p.stat().st_size for p in write_report(step.lesson, step.cfg, frame, Path(tmp)))
            for name, fig in frame.figures.items():
                fig.write_html(Path(tmp) / f"standalone-{name}.html", include_plotlyjs=True)
            standalone = sum(p.stat().st_size for p in Path(tmp).glob("standalone-*.html"))
        print(f"  take-home folder {report / 1e6:.1f} MB vs {len(frame.figures)} standalone figure pages "
              f"{standalone / 1e6:.1f} MB ({standalone / report:.1f}x)")


if __name__ == "__main__":
    main()
