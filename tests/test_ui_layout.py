"""The verdict lines (a word and a colour class, not an emoji) and the tab's button texts."""

import re

from cnnbp.lessons.base import Verdict
from cnnbp.ui.lesson_tab import settings_message
from cnnbp.ui.runner import verdict_word, verdicts_markdown


def test_each_state_has_its_own_word_and_class():
    cases = [Verdict("a", "x", True), Verdict("b", "y", False), Verdict("c", "one draw cannot tell", None),
             Verdict("d", "an observation", None)]
    assert [verdict_word(v) for v in cases] == [("HOLDS", "v-holds"), ("DOES NOT HOLD", "v-fails"),
                                                ("CAN'T TELL", "v-canttell"), ("NOTE", "v-note")]


def test_verdict_lines_have_no_emoji_and_escape_text():
    out = verdicts_markdown([Verdict("relu <b>", "ratio 1.9x < 6x", False)])
    assert "DOES NOT HOLD" in out and 'class="verdict v-fails"' in out and "<details" in out
    assert "relu &lt;b&gt;" in out and "1.9x &lt; 6x" in out
    assert not any(ord(c) > 0x2000 for c in out)  # no ✅/❌ (boxes without an emoji font)
    assert verdicts_markdown([]) == ""


def test_a_verdict_line_is_word_headline_and_lecture_with_the_text_folded_under_it():
    import cnnbp.lessons  # noqa: F401  (registers the claims)

    v = Verdict("ReLU converges faster", "Steps to 80%: relu 57 <...>", True,
                claim="activations.relu_faster_than_sigmoid", headline="ReLU 1.9x faster than sigmoid")
    out = verdicts_markdown([v])
    summary, folded = out.split("</summary>")
    assert '<span class="v-word">HOLDS</span>' in summary
    assert '<span class="v-headline">ReLU 1.9x faster than sigmoid</span>' in summary
    assert '<span class="v-lecture">lecture: ReLU about 6x faster than sigmoid</span>' in summary
    assert "Steps to 80%" not in summary and "relu 57 &lt;...&gt;" in folded and "ReLU converges faster" in folded
    assert "<details " in out and " open" not in out  # folded until clicked


def test_a_cant_tell_line_says_why_beside_its_numbers():
    from cnnbp.verdict_line import plain_line

    text = ("Rare-class recall 69% against plain training's 0% (+69 points). 1 seed: too few to tell, a comparison "
            "needs 3 (set seeds). Lines fixed before any run: ...")
    v = Verdict("rare recall raised", text, None, headline="rare recall 69%, plain training 0%")
    summary = verdicts_markdown([v]).split("</summary>")[0]
    assert "CAN'T TELL" in summary and '<span class="v-why">1 seed: too few to tell</span>' in summary
    assert plain_line(v) == "CAN'T TELL  rare recall 69%, plain training 0%  [1 seed: too few to tell]"
    split = Verdict("r", "Gains +3/-2 points. The seeds disagree: cannot tell. Lines ...", None, headline="h")
    assert '<span class="v-why">The seeds disagree: cannot tell</span>' in verdicts_markdown([split])
    decided = Verdict("r", "It holds on every seed; cannot tell is for split seeds.", True, headline="h")
    assert "v-why" not in verdicts_markdown([decided]) and "[" not in plain_line(decided)


def test_without_a_headline_or_a_claim_the_line_falls_back_to_label_and_text():
    out = verdicts_markdown([Verdict("zig-zag", "an observation", None)])
    summary, folded = out.split("</summary>")
    assert "NOTE" in summary and "zig-zag" in summary and "an observation" in summary and "v-cut" in summary
    assert "v-lecture" not in out and folded == "</details></div>"


def test_verdict_type_is_large_enough_for_a_hall():
    from cnnbp.ui.style import CSS

    rule = r"^\.(verdict|v-word) \{[^}]*?font-size: (\d+)px"
    sizes = {m.group(1): int(m.group(2)) for m in re.finditer(rule, CSS, re.M)}
    headline = re.search(r"\.v-headline \{[^}]*\}", CSS).group(0)  # the verdict's size, or a multiple of it
    scale = float(m.group(1)) if (m := re.search(r"font-size: ([\d.]+)em", headline)) else 1.0
    assert "px" not in headline and sizes["verdict"] * scale >= 18 and sizes["v-word"] >= 16


def test_quick_and_reset_say_in_one_line_what_changed():
    msg = settings_message("Quick settings", ["width", "depth"], [1024, 6], [256, 6])
    assert msg == "Quick settings: width 1024 → 256. Press **Run**."
    unchanged = settings_message("Reset to defaults", ["w"], [1], [1])
    assert unchanged == "Reset to defaults: nothing to change. Press **Run**."


def test_figure_style_large_type_legend_below_and_any_trace_kind():
    import plotly.graph_objects as go

    from cnnbp.plots.common import apply_layout, wrap_title

    fig = go.Figure([go.Image(z=[[[0, 0, 0]]]), go.Scatter(x=[0, 1], y=[0, 1], name="relu")])
    apply_layout(fig, "a title", height=300)
    assert fig.layout.font.size >= 16 and fig.layout.legend.font.size >= 16
    assert fig.layout.legend.yref == "container" and fig.layout.legend.y == 0  # below the axes
    assert fig.layout.margin.b >= 70 + 28 and fig.layout.height == 300 + 28  # one legend row
    assert wrap_title("aaa bbb ccc", 7) == "aaa bbb<br>ccc"


def test_a_diverged_run_is_marked_and_does_not_flatten_the_others():
    from cnnbp.plots.common import training_curves

    steps = list(range(1, 11))
    fine = [2.3, 2.0, 1.8, 1.6, 1.4, 1.3, 1.2, 1.1, 1.0, 0.9]
    diverged = [2.3, 2.2, 2.4, 5.0, 40.0, 5e22, float("nan"), float("nan"), float("nan"), float("nan")]
    fig = training_curves([dict(name=n, color_key=n, dash_key=0, steps=steps, loss=loss, eval_steps=[0],
                                test_accuracy=[0.1]) for n, loss in (("fine", fine), ("lr 0.5", diverged))], title="t")
    top = fig.layout.yaxis.range[1]
    assert top < 10  # the fine curve's 2.3 -> 0.9 fills the axis; 5e22 would make it a flat line
    marks = [t for t in fig.data if t.name == "lr 0.5: off the scale"]
    assert len(marks) == 1 and list(marks[0].x) == [5] and list(marks[0].y) == [top]  # first step past the top
    assert list(next(t for t in fig.data if t.name == "lr 0.5").y)[5] == 5e22  # the data stay as measured
    calm = training_curves([dict(name="fine", color_key=0, dash_key=0, steps=steps, loss=fine, eval_steps=[0],
                                 test_accuracy=[0.1])], title="t")
    assert calm.layout.yaxis.range is None and len(calm.data) == 2  # nothing to cap
    logged = training_curves([dict(name="lr 0.5", color_key=0, dash_key=0, steps=steps, loss=diverged,
                                   eval_steps=[0], test_accuracy=[0.1])], title="t", log_loss=True)
    assert logged.layout.yaxis.type == "log" and logged.layout.yaxis.range is None  # decades: no cap


def test_small_accuracy_differences_keep_an_honest_axis():
    import plotly.graph_objects as go

    from cnnbp.plots.common import MIN_ACCURACY_SPAN, apply_layout

    fig = go.Figure(go.Scatter(x=[1, 2], y=[0.970, 0.984]))
    fig.update_yaxes(title_text="final test accuracy")
    low, high = apply_layout(fig, "t").layout.yaxis.range
    assert high - low >= MIN_ACCURACY_SPAN and low <= 0.97 and high >= 0.984


def test_layout_makes_room_at_the_narrowest_width():
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from cnnbp.plots.common import GAP_PX, NARROWEST_PLOT_PX, apply_layout, wrap_title

    assert wrap_title("over-sampling", 9) == "over-<br>sampling"
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.05)
    fig.add_trace(go.Scatter(x=list(range(22)), y=[1] * 22), row=1, col=1)
    fig.add_trace(go.Bar(x=["majority baseline", "over-sampling", "balanced batches"], y=[1, 2, 3]), row=1, col=2)
    fig.update_xaxes(dtick=1, row=1, col=1)
    fig.update_yaxes(title_text="score", row=1, col=2)
    apply_layout(fig, "t")
    gap = fig.layout.xaxis2.domain[0] - fig.layout.xaxis.domain[1]
    assert gap * NARROWEST_PLOT_PX >= GAP_PX["titled"] - 1  # room for y2's ticks and title
    assert fig.layout.xaxis.dtick >= 2  # 22 labels of 2 digits do not fit ~280 px one by one
    assert fig.layout.xaxis2.ticktext and all("<br>" in t for t in fig.layout.xaxis2.ticktext[::2])


def test_figure_captions_split_what_and_where_to_look():
    from cnnbp.lessons import LESSONS
    from cnnbp.ui.lesson_tab import figure_caption

    assert figure_caption("CNN curves | Kaiming falls first") == ("CNN curves", "Kaiming falls first")
    assert figure_caption("CNN curves") == ("CNN curves", "")  # a lesson without look lines still works
    for lesson in LESSONS.values():
        for name, caption in lesson.figures:
            what, look = figure_caption(caption)
            assert what and "|" not in look, (lesson.name, name)
    assert all(figure_caption(c)[1] for _, c in LESSONS["init"].figures)


def test_log_axes_label_only_what_fits():
    import plotly.graph_objects as go

    from cnnbp.plots.common import apply_layout

    def dtick(y_low, y_high):
        fig = go.Figure(go.Scatter(x=[1, 2], y=[y_low, y_high]))
        fig.update_yaxes(type="log")
        return apply_layout(fig, "t", height=420).layout.yaxis.dtick

    assert dtick(0.5, 1.0) is None  # a third of a decade: plotly's own labels fit
    assert dtick(0.06, 1.0) == "D2"  # 1.2 decades: 1, 2, 5 (8 and 9 would touch)
    assert dtick(0.1, 1e22) >= 2  # a diverged loss: every n-th decade
