"""The verdict lines (a word and a colour class, not an emoji) and the tab's button texts."""

from cnnbp.lessons.base import Verdict
from cnnbp.ui.lesson_tab import quick_message
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


def test_quick_message_names_what_changed():
    msg = quick_message(None, ["width", "depth"], [1024, 6], [256, 6])
    assert "width 1024 → 256" in msg and "depth" not in msg
    assert "nothing to change" in quick_message(None, ["w"], [1], [1])


def test_figure_style_large_type_legend_below_and_any_trace_kind():
    import plotly.graph_objects as go

    from cnnbp.plots.common import apply_layout, wrap_title

    fig = go.Figure([go.Image(z=[[[0, 0, 0]]]), go.Scatter(x=[0, 1], y=[0, 1], name="relu")])
    apply_layout(fig, "a title", height=300)
    assert fig.layout.font.size >= 16 and fig.layout.legend.font.size >= 16
    assert fig.layout.legend.yref == "container" and fig.layout.legend.y == 0  # below the axes
    assert fig.layout.margin.b >= 70 + 28 and fig.layout.height == 300 + 28  # one legend row
    assert wrap_title("aaa bbb ccc", 7) == "aaa bbb<br>ccc"
