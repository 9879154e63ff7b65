"""The calculator: the spec syntax and its refusals (one line each, never a crash), counts and
receptive fields worked out by hand on small stacks, and the same numbers from torch: sum of numel,
FlopCounterMode, a real forward's output shape, and the input pixels a unit's gradient reaches."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnbp.lessons import run_lesson
from cnnbp.lessons.architecture.counting import build_stack, count, hwc
from cnnbp.lessons.architecture.layers import Shape, SpecError, halvings, parse_spec, stack_rows
from cnnbp.lessons.base import ConfigError, merge_frames


def rows_of(spec: str, h: int, w: int, c: int):
    return stack_rows(Shape(h, w, c), parse_spec(spec))


# ---- counts by hand --------------------------------------------------------------------------

def test_the_lectures_example_by_hand():
    (r,) = rows_of("conv 5 k3 s1 p1", 90, 90, 10)
    assert r.out == Shape(90, 90, 5)
    assert r.params == 5 * (3 * 3 * 10 + 1) == 455
    assert r.as_fc == 81_000 * 40_500 + 40_500 > 3_280_500_000
    assert r.macs == 90 * 90 * 5 * 3 * 3 * 10


def test_strides_pools_fc_and_no_bias_by_hand():
    rows = rows_of("conv 4 k5 s2 p0 nobias, pool 2, fc 10", 11, 11, 3)
    conv, pool, fc = rows
    assert conv.out == Shape(4, 4, 4) and conv.params == 5 * 5 * 3 * 4 and conv.macs == 4 * 4 * 4 * 75
    assert pool.out == Shape(2, 2, 4) and pool.params == 0 and pool.macs == 0
    assert fc.out == Shape(1, 1, 10) and fc.params == 16 * 10 + 10 and fc.macs == 160
    assert "pool 2 s2 max" == pool.layer.describe()


def test_non_square_inputs_and_dilation():
    (r,) = rows_of("conv 2 k3 d2 p2", 10, 7, 1)
    assert r.out == Shape(10, 7, 2) and r.rf_size == (5, 5)


def test_an_output_size_that_is_not_whole_is_floored_with_a_note():
    (r,) = rows_of("conv 2 k3 s2", 90, 90, 1)
    assert r.out.height == 44  # (90 - 3) / 2 + 1 = 44.5
    assert len(r.notes) == 2 and "44.5 is not a whole number" in r.notes[0] and "floors it to 44" in r.notes[0]
    assert rows_of("conv 2 k3 s2", 91, 91, 1)[0].notes == []


# ---- receptive fields by hand ----------------------------------------------------------------

@pytest.mark.parametrize("spec, sizes, jumps, starts", [
    ("conv 1 k3, conv 1 k3", [3, 5], [1, 1], [1.0, 2.0]),
    ("conv 1 k3 p1, conv 1 k3 p1", [3, 5], [1, 1], [0.0, 0.0]),
    ("conv 1 k3 s2, conv 1 k3 s2", [3, 7], [2, 4], [1.0, 3.0]),
    ("pool 2, conv 1 k3", [2, 6], [2, 2], [0.5, 2.5]),
    ("conv 1 k3 d2, conv 1 k3", [5, 7], [1, 1], [2.0, 3.0]),
    ("conv 1 k7 s2 p3, pool 3 s2", [7, 11], [2, 4], [0.0, 2.0]),  # ResNet's stem, its pool unpadded: 0 + (1 - 0) x 2
])
def test_receptive_fields_by_hand(spec, sizes, jumps, starts):
    rows = rows_of(spec, 32, 32, 1)
    assert [r.rf_size[0] for r in rows] == sizes
    assert [r.rf_jump[0] for r in rows] == jumps
    assert [r.rf_start[0] for r in rows] == starts


def test_vgg16_by_the_recurrence():
    from cnnbp.lessons.architecture.models import VGG16_SPEC

    rows = rows_of(VGG16_SPEC, 224, 224, 3)
    assert sum(r.params for r in rows) == 138_357_544
    convs_and_pools = [r for r in rows if r.layer.kind != "fc"]
    assert convs_and_pools[-2].rf_size == (196, 196) and convs_and_pools[-1].rf_size == (212, 212)  # conv5_3, pool5
    assert rows[-4].out == Shape(7, 7, 512) and rows[-3].params == 7 * 7 * 512 * 4096 + 4096


def test_halvings():
    assert [halvings(n) for n in (1, 2, 90, 96, 224, 256)] == [0, 1, 1, 5, 5, 8]


# ---- the same numbers from torch ---------------------------------------------------------------

STACKS_TO_CHECK = [
    ("conv 5 k3 s1 p1", (90, 90, 10)),
    ("conv 4 k3 s2, conv 6 k3 p1 d2, pool 2, fc 7", (23, 19, 3)),
    ("conv 8 k5 s1 p2 nobias, pool 3 s2 avg, conv 3 k1, fc 5 nobias, fc 2", (17, 17, 2)),
    ("pool 2 s1, conv 2 k2 s3 p1, pool 2", (12, 9, 1)),
    ("conv 3 k3, conv 3 k3 s2, conv 3 k3 d3 p2, conv 1 k1", (31, 29, 2)),
]


@pytest.mark.parametrize("spec, hwc_in", STACKS_TO_CHECK)
def test_torch_counts_the_same(spec, hwc_in):
    h, w, c = hwc_in
    layers = parse_spec(spec)
    rows = stack_rows(Shape(h, w, c), layers)
    counted = count(build_stack(Shape(h, w, c), layers), (c, h, w))
    assert counted.params == sum(r.params for r in rows)
    assert counted.flops == 2 * sum(r.macs for r in rows) == 2 * counted.macs
    real = build_stack(Shape(h, w, c), layers, device="cpu")
    out = real(torch.zeros(1, c, h, w))[0]
    assert hwc(tuple(out.shape)) == rows[-1].out.text


@pytest.mark.parametrize("spec, hwc_in", [s for s in STACKS_TO_CHECK if "fc" not in s[0]])
def test_every_units_gradient_reaches_exactly_its_receptive_field(spec, hwc_in):
    """All-positive weights, average pooling, no activation: a unit's gradient reaches every input
    pixel of its field that lies in the image, and none outside (the reached pixels' bounding box; a
    dilated stack reaches inside its field, with holes)."""
    h, w, c = hwc_in
    layers = [la if la.kind != "pool" else type(la)(**{**vars(la), "mode": "avg"}) for la in parse_spec(spec)]
    rows = stack_rows(Shape(h, w, c), layers)
    net = build_stack(Shape(h, w, c), layers, device="cpu")
    dilated = any(la.dilation > 1 for la in layers)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0)
    for depth, row in enumerate(rows, start=1):
        sub = nn.Sequential(*list(net)[:depth])
        for unit in [(0, 0), (row.out.height - 1, row.out.width - 1), (row.out.height // 2, row.out.width // 3)]:
            x = torch.ones(1, c, h, w, requires_grad=True)
            sub(x)[0, :, unit[0], unit[1]].sum().backward()
            reached = torch.nonzero(x.grad[0].sum(dim=0))
            (top, bottom), (left, right) = row.region(*unit)
            rows_, cols_ = reached[:, 0], reached[:, 1]
            box = (int(rows_.min()), int(rows_.max()), int(cols_.min()), int(cols_.max()))
            field = (max(0, int(top)), min(h - 1, int(bottom)), max(0, int(left)), min(w - 1, int(right)))
            if dilated:  # its taps have holes: the first one inside the image may lie past the field's clipped edge
                assert field[0] <= box[0] and box[1] <= field[1] and field[2] <= box[2] and box[3] <= field[3]
            else:
                assert box == field


# ---- hostile specs: one line, the field named, nothing run ---------------------------------------

HOSTILE = [
    "", " ", ",", ",,", "conv", "conv 5,,pool 2", "conv 0", "conv -1", "conv 5.5", "conv five", "conv 1e3",
    "conv nan", "conv inf", "conv 5 k0", "conv 5 k-3", "conv 5 k3.5", "conv 5 s0", "conv 5 p-1", "conv 5 d0",
    "conv 5 k3 k5", "conv 5 q3", "conv 5 kk", "conv 5 k", "conv 5 k3x3", "dense 10", "relu", "pool", "pool 0",
    "pool 2 s0", "pool 2 max avg", "pool 2 k3", "fc", "fc 0", "fc 10 k3", "fc 10, conv 5", "fc 10, pool 2",
    "conv 99999999999999999999", "conv 5 k9999", "conv 5 k91", "conv 5 k89 d2", "pool 91", "conv 5 p9999",
    "conv 5 s999", "conv 5 d999", "conv 2000000", "conv 5; rm -rf /", "conv 5 k3 \u00e9", "conv\u00a05",
    "conv 5 k3 s1 p1\x00", "<script>alert(1)</script>", "conv 5 " + "k3 " * 50, "conv 5, " * 70,
    "x" * 3000, "conv ５", "conv 5 nobias nobias", "pool 2 avg max", "conv 5 k3, pool 2, " * 10,
]


@pytest.mark.parametrize("spec", HOSTILE)
def test_a_hostile_spec_is_refused_in_one_line(spec):
    with pytest.raises(ConfigError) as err:
        run_lesson("architecture", {"layers": spec})
    message = str(err.value)
    assert message.startswith("layers: ") and "\n" not in message and "/work" not in message
    assert len(message) < 4000


def test_a_spec_must_be_text():
    for value in (5, None, ["conv 5"], {"conv": 5}):
        with pytest.raises(ConfigError, match="^layers: "):
            run_lesson("architecture", {"layers": value})


@pytest.mark.parametrize("spec, words", [
    ("conv 5 k100", "larger than the input's height 90"),
    ("conv 5 k45 d3", "dilated by 3 to 133"),
    ("fc 10, conv 5", "after a fully connected layer"),
    ("conv 5 z1", "unknown option 'z1'"),
    ("dense 10", "unknown layer 'dense'"),
])
def test_refusals_say_what_is_wrong(spec, words):
    with pytest.raises(SpecError, match=words):
        stack_rows(Shape(90, 90, 10), parse_spec(spec))


def test_separators_case_and_one_trailing_comma_are_accepted():
    a = parse_spec("CONV 5 K3 S1 P1, Pool 2,")
    b = parse_spec("conv 5 k3 s1 p1\npool 2")
    c = parse_spec("conv 5 k3 s1 p1; pool 2")
    assert [x.describe() for x in a] == [x.describe() for x in b] == [x.describe() for x in c]


# ---- the largest stacks the bounds allow: answered, never crashed --------------------------------

@pytest.mark.parametrize("values, torch_checks", [
    ({"height": 4096, "width": 4096, "channels": 4096, "layers": "conv 1000000 k3 p1, fc 1000000"}, False),
    ({"height": 4096, "width": 4096, "channels": 4096, "layers": "fc 1000000, fc 1000000"}, True),
    ({"height": 1, "width": 1, "channels": 1, "layers": "fc 1, fc 1"}, True),
    ({"height": 90, "width": 90, "channels": 10, "layers": ", ".join(["conv 5 k3 p1"] * 64)}, True),
])
def test_the_largest_stacks_are_answered_in_plain_numbers(values, torch_checks):
    import gradio as gr
    import orjson  # what Gradio serialises a frame with: 64-bit integers at most

    final = merge_frames(run_lesson("architecture", {**values, "parts": ["calculator"]}))
    check = next(v for v in final.verdicts if v.label == "torch agrees with the calculator")
    assert check.passed is (True if torch_checks else None)
    orjson.dumps(final.numbers)
    gr.Dataframe().postprocess(final.tables["layers"])
    final.figures["shapes"].to_json()
