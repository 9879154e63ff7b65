"""A stack of layers typed as one line of text, and its arithmetic: output shape, parameters,
multiply-adds and receptive field of every layer (pure Python, no torch: it answers at once).

The syntax, one layer per comma (a new line also separates layers)::

    conv N [kK] [sS] [pP] [dD] [nobias]   N filters of K x K (default k3 s1 p0 d1), with biases
    pool K [sS] [max|avg]                  K x K pooling, stride S (default: K), max by default
    fc N [nobias]                          a fully connected layer to N units (flattens its input)

>>> rows = stack_rows(Shape(90, 90, 10), parse_spec("conv 5 k3 s1 p1"))
>>> r = rows[0]; (r.out.text, r.params, r.as_fc, r.macs, r.rf_size, r.rf_jump, r.rf_start)
('90x90x5', 455, 3280540500, 3645000, (3, 3), (1, 1), (0.0, 0.0))
>>> parse_spec("conv 5 k9 p1, fc 10")[0].kernel, parse_spec("pool 2")[0].stride
(9, 2)
>>> parse_spec("conv 5 q3")
Traceback (most recent call last):
...
cnnbp.lessons.architecture.layers.SpecError: layer 1 'conv 5 q3': unknown option 'q3'; a conv takes kK, sS, pP, ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

MAX_LAYERS = 64
MAX_SPEC_CHARS = 2000
# Bounds a course author will not meet by accident; beyond them a typo is more likely than a design.
MAX_UNITS = 1_000_000  # filters of a conv, units of an fc layer
MAX_KERNEL = 512
MAX_STRIDE = 64
MAX_PADDING = 256
MAX_DILATION = 32
SMALL_KERNEL = 3  # the lecture: "in CONV, smaller filters are preferred (say 3 x 3 x Z)"

Kind = Literal["conv", "pool", "fc"]
SYNTAX = "conv N [kK sS pP dD nobias], pool K [sS max|avg], fc N [nobias]; e.g. 'conv 5 k3 s1 p1, pool 2, fc 10'"
OPTIONS = {"conv": "kK, sS, pP, dD, nobias", "pool": "sS, max, avg", "fc": "nobias"}


class SpecError(ValueError):
    """A layer spec that cannot be built: one line naming the layer and what is wrong."""


@dataclass(frozen=True)
class Layer:
    kind: Kind
    size: int  # conv: filters; fc: units; pool: window
    kernel: int = 1  # conv and pool: window side; fc: unused
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    bias: bool = True
    mode: Literal["max", "avg"] = "max"  # pooling only
    text: str = ""  # as typed

    @property
    def extent(self) -> int:
        """The input span of one output unit along an axis: a dilated kernel spreads its taps."""
        return self.dilation * (self.kernel - 1) + 1

    def describe(self) -> str:
        if self.kind == "conv":
            tail = "" if self.bias else " nobias"
            dil = f" d{self.dilation}" if self.dilation != 1 else ""
            return f"conv {self.size} k{self.kernel} s{self.stride} p{self.padding}{dil}{tail}"
        if self.kind == "pool":
            return f"pool {self.kernel} s{self.stride} {self.mode}"
        return f"fc {self.size}" + ("" if self.bias else " nobias")


@dataclass(frozen=True)
class Shape:
    height: int
    width: int
    channels: int

    @property
    def text(self) -> str:
        return f"{self.height}x{self.width}x{self.channels}"

    @property
    def elements(self) -> int:
        return self.height * self.width * self.channels


def _number(token: str, *, what: str, where: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d+", token):
        raise SpecError(f"{where}: {what} must be a whole number, got {token!r}")
    value = int(token)
    if not low <= value <= high:
        raise SpecError(f"{where}: {what} must be between {low} and {high}, got {value}")
    return value


# option letter -> (field, name in messages, lowest, highest)
_CONV_OPTIONS = {"k": ("kernel", "kernel", 1, MAX_KERNEL), "s": ("stride", "stride", 1, MAX_STRIDE),
                 "p": ("padding", "padding", 0, MAX_PADDING), "d": ("dilation", "dilation", 1, MAX_DILATION)}


def _parse_layer(text: str, index: int) -> Layer:
    where = f"layer {index} {text!r}"
    tokens = text.lower().split()
    kind, args = tokens[0], tokens[1:]
    if kind not in OPTIONS:
        raise SpecError(f"{where}: unknown layer {tokens[0]!r}; use {SYNTAX}")
    what = {"conv": "the number of filters", "pool": "the window", "fc": "the number of units"}[kind]
    if not args:
        raise SpecError(f"{where}: {kind} needs {what} first; use {SYNTAX}")
    size = _number(args[0], what=what, where=where, low=1, high=MAX_KERNEL if kind == "pool" else MAX_UNITS)
    values: dict = {}
    for token in args[1:]:
        key = token if token in ("nobias", "max", "avg") else token[:1]
        allowed = {"conv": [*_CONV_OPTIONS, "nobias"], "pool": ["s", "max", "avg"], "fc": ["nobias"]}[kind]
        if key not in allowed:
            raise SpecError(f"{where}: unknown option {token!r}; a {kind} takes {OPTIONS[kind]}")
        if key in values or (key in ("max", "avg") and "mode" in values):
            raise SpecError(f"{where}: {token!r} repeats an option given before")
        if key == "nobias":
            values[key] = False
        elif key in ("max", "avg"):
            values["mode"] = key
        else:
            name, label, low, high = _CONV_OPTIONS[key]
            values[key] = _number(token[1:], what=label, where=where, low=low, high=high)
    if kind == "conv":
        return Layer("conv", size, kernel=values.get("k", 3), stride=values.get("s", 1), padding=values.get("p", 0),
                     dilation=values.get("d", 1), bias=values.get("nobias", True), text=text)
    if kind == "pool":
        return Layer("pool", size, kernel=size, stride=values.get("s", size), mode=values.get("mode", "max"), text=text)
    return Layer("fc", size, bias=values.get("nobias", True), text=text)


def parse_spec(spec: str) -> list[Layer]:
    """Layers from the one-line syntax above; SpecError (one line) on anything else."""
    if not isinstance(spec, str):
        raise SpecError(f"the layers must be text such as {SYNTAX}")
    if len(spec) > MAX_SPEC_CHARS:
        raise SpecError(f"the layers spec is {len(spec)} characters; at most {MAX_SPEC_CHARS}")
    if not re.fullmatch(r"[A-Za-z0-9 ,;\t\r\n]*", spec):
        raise SpecError(f"the layers spec may use plain ASCII letters, digits, spaces and commas only; use {SYNTAX}")
    pieces = [p.strip() for p in re.split(r"[,\n;]", spec)]
    if not any(pieces):
        raise SpecError(f"no layers given; use {SYNTAX}")
    if pieces[-1] == "":  # one trailing comma is forgiven
        pieces.pop()
    if len(pieces) > MAX_LAYERS:
        raise SpecError(f"{len(pieces)} layers; at most {MAX_LAYERS}")
    for i, piece in enumerate(pieces, start=1):
        if not piece:
            raise SpecError(f"layer {i} is empty (two commas in a row?); use {SYNTAX}")
    return [_parse_layer(p, i) for i, p in enumerate(pieces, start=1)]


@dataclass(frozen=True)
class Row:
    """One layer's arithmetic. Receptive field per axis (rows, columns), in input pixels: its
    ``rf_size``, the ``rf_jump`` between neighbouring units' fields, and ``rf_start``, the centre
    of the first unit's field (pixel centres at 0, 1, ...; negative: it starts in the padding)."""

    index: int
    layer: Layer
    inp: Shape
    out: Shape
    params: int
    macs: int
    as_fc: int  # parameters of a fully connected layer from the same input to the same output
    rf_size: tuple[int, int]
    rf_jump: tuple[int, int]
    rf_start: tuple[float, float]
    notes: list[str] = field(default_factory=list)

    def region(self, row: int, col: int) -> tuple[tuple[float, float], tuple[float, float]]:
        """The input rows and columns (first, last pixel, unclipped) that unit (row, col) can see."""
        out = []
        for axis, unit in ((0, row), (1, col)):
            centre = self.rf_start[axis] + unit * self.rf_jump[axis]
            half = (self.rf_size[axis] - 1) / 2
            out.append((centre - half, centre + half))
        return out[0], out[1]


def _axis_out(size: int, layer: Layer, axis: str, where: str) -> tuple[int, str | None]:
    """Output length along one axis, and a note when the stride does not fit exactly."""
    padded = size + 2 * layer.padding
    if layer.extent > padded:
        dil = f" dilated by {layer.dilation} to {layer.extent}" if layer.dilation > 1 else ""
        pad = f" + 2 x {layer.padding} padding = {padded}" if layer.padding else ""
        raise SpecError(f"{where}: the {layer.kernel}x{layer.kernel} window{dil} is larger than the input's "
                        f"{axis} {size}{pad}; lower the kernel or pad more")
    span = padded - layer.extent
    note = None
    if span % layer.stride:
        note = (f"{axis}: ({size} + 2x{layer.padding} - {layer.extent}) / {layer.stride} + 1 = "
                f"{span / layer.stride + 1:.4g} is not a whole number; PyTorch floors it to "
                f"{span // layer.stride + 1} and never reads the last {span % layer.stride} "
                f"{'row' if axis == 'height' else 'column'}(s)")
    return span // layer.stride + 1, note


def stack_rows(inp: Shape, layers: list[Layer]) -> list[Row]:
    """Every layer's output shape, parameters, multiply-adds and receptive field.

    The receptive field follows the usual recurrence (Dumoulin & Visin; Araujo et al. 2019):
    ``jump_out = jump_in * stride``, ``size_out = size_in + (extent - 1) * jump_in``,
    ``start_out = start_in + ((extent - 1) / 2 - padding) * jump_in``. A fully connected layer is a
    conv whose window is its whole input. SpecError when a layer does not fit its input.
    """
    rows: list[Row] = []
    shape, size, jump, start = inp, [1, 1], [1, 1], [0.0, 0.0]
    flat = False
    for i, layer in enumerate(layers, start=1):
        where = f"layer {i} '{layer.text or layer.describe()}'"
        notes: list[str] = []
        if layer.kind == "fc":
            windows = (shape.height, shape.width)
            out = Shape(1, 1, layer.size)
            weights = shape.elements * layer.size
            params, macs = weights + (layer.size if layer.bias else 0), weights
            flat = True
            for axis in range(2):
                size[axis] += (windows[axis] - 1) * jump[axis]
                start[axis] += (windows[axis] - 1) / 2 * jump[axis]
        else:
            if flat:
                raise SpecError(f"{where}: a {layer.kind} after a fully connected layer has no image to slide over "
                                "(fc layers go last, closer to the output)")
            h, note_h = _axis_out(shape.height, layer, "height", where)
            w, note_w = _axis_out(shape.width, layer, "width", where)
            notes += [n for n in (note_h, note_w) if n]
            channels = layer.size if layer.kind == "conv" else shape.channels
            out = Shape(h, w, channels)
            if layer.kind == "conv":
                weights = layer.kernel * layer.kernel * shape.channels * layer.size
                params = weights + (layer.size if layer.bias else 0)
                macs = weights * h * w
            else:
                params, macs = 0, 0  # a max or mean of a window: no weights, no multiply-adds
            for axis in range(2):
                start[axis] += ((layer.extent - 1) / 2 - layer.padding) * jump[axis]
                size[axis] += (layer.extent - 1) * jump[axis]
                jump[axis] *= layer.stride
        as_fc = shape.elements * out.elements + out.elements
        rows.append(Row(i, layer, shape, out, params, macs, as_fc, (size[0], size[1]), (jump[0], jump[1]),
                        (start[0], start[1]), notes))
        shape = out
    return rows


def halvings(n: int) -> int:
    """How many times ``n`` divides by 2 (the lecture: "divisible by 2 many times").

    >>> halvings(224), halvings(90), halvings(1)
    (5, 1, 0)
    """
    count = 0
    while n > 1 and n % 2 == 0:
        n //= 2
        count += 1
    return count
