"""The transfer lesson's settings, their bounds and what a run of them costs."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from torch import nn

from cnnbp.data import dataset_label, dataset_shape
from cnnbp.data.session import dataset_choices, is_session_name
from cnnbp.lessons.base import LessonConfig, choice, gflop_seconds
from cnnbp.lessons.runnable import runnable_choice
from cnnbp.lessons.transfer import backbones, imagenet_source
from cnnbp.lessons.transfer.lora import max_rank
from cnnbp.lessons.transfer.model_file import file_label, load_file_source
from cnnbp.lessons.transfer.models import DEPTH, WIDTH, build_cnn, num_stages
from cnnbp.lessons.transfer.sources import RANKED, SOURCES, Source, SourceError, read_card, source_problem
from cnnbp.lessons.transfer.strategies import EVALS, SGD_STRATEGIES, STRATEGIES, Run
from cnnbp.lessons.transfer.tasks import SHAPES_TARGET_POOL, SHAPES_TEST, TARGETS, get_target
from cnnbp.nn import SmallCNN, small_cnn_macs

PartName = Literal["compare", "forgetting", "sizes", "rule", "selection", "imagenet", "imagenet_rule", "domain_shift"]
# The parts on the small sources. The ImageNet and MNIST parts are chosen on top (each fits 10 s on its own;
# together with the defaults they would not).
PART_NAMES: tuple[str, ...] = ("compare", "forgetting", "sizes", "rule", "selection")
# The default run (issue 15: under 10 s on two cores): the rule-of-thumb table is one tick away, its four
# runs of the dissimilar source cost a quarter of the run, and it decides no claim (its cells reuse the sweep's
# rows of the chosen source when both run).
DEFAULT_PARTS: tuple[str, ...] = tuple(p for p in PART_NAMES if p != "rule")
Strategy = Literal["linear_probe", "freeze", "finetune", "discriminative", "lora", "scratch"]
ImagenetStrategy = Literal["linear_probe", "top", "lora", "finetune_all", "scratch"]
# The shipped targets, and this session's upload (resized to the source's input with a note)
TARGET_CHOICES = dataset_choices(*TARGETS)
# Each source and why it cannot run here ("" when it can): the dropdown offers only the runnable ones
SOURCE_NEEDS = {**{name: functools.partial(source_problem, name) for name in SOURCES},
                backbones.NAME: lambda: backbones.unavailable_reason()}
# Images per class each target has (tested against the data): the slider's upper end per target.
AVAILABLE = {"digits_5to9": 139, "shapes_inverted": SHAPES_TARGET_POOL}
# The rule-of-thumb table: per target, a source of the same domain and one of another domain.
SIMILAR = {"digits_5to9": "digits_0to4", "shapes_inverted": "shapes_flat"}
DISSIMILAR = {"digits_5to9": "shapes_flat", "shapes_inverted": "digits_0to4"}
# Measured: ~2 ms a training step of our tiny nets on one thread whatever the input (Python, autograd,
# the optimiser); the arithmetic comes on top (3.9 ms at 1x8x8, 8.2 ms at 3x16x16, batch 32).
STEP_OVERHEAD_S = 0.002
RESNET_STEP_FLOPS_PER_IMAGE = 0.22e9  # ResNet-18 at 32x32, forward + backward


class TransferConfig(LessonConfig):
    parts: list[PartName] = Field(list(DEFAULT_PARTS), min_length=1, description="which experiments to run "
                                  "(add 'rule' for the rule-of-thumb table: four more runs)")
    target: choice(TARGET_CHOICES, "dataset") = Field(
        "digits_5to9", description="the target task (digits 5-9: new labels, same domain as the digits sources; "
                                   "shapes: the shapes sources' domain; or your own upload, resized to the source's "
                                   "input)")
    source: runnable_choice(SOURCE_NEEDS, "source") = Field(
        "digits_0to4", description="the pretrained source (assets/sources; self-supervised: digits_rotation; "
                                   "resnet18_imagenet only where its weights are cached)")
    model_file: str | None = Field(None, max_length=4096, description="optional .pt model file (another tab's "
                                   "Download, or a torchvision/timm ResNet checkpoint): the source instead of "
                                   "'source'; the target is resized to its input and a new head replaces its own",
                                   json_schema_extra={"upload": "model"})
    strategies: list[Strategy] = Field(list(STRATEGIES), min_length=1, description="strategies to compare")
    images_per_class: int = Field(10, ge=1, le=1000, description="target training images per class "
                                  "(small data: 10; digits 5-9 have 139 per class)")
    stage: int = Field(DEPTH, ge=1, le=8, description="stage whose frozen embedding the linear probe reads "
                       "(the top: the penultimate layer)")
    freeze_stages: int = Field(2, ge=0, le=8, description="bottom stages frozen by 'freeze' (the source has 4)")
    lr: float = Field(0.05, gt=0.0, le=1.0, description="SGD learning rate (momentum 0.9) of every strategy; the "
                      "shapes sources (trained with Adam) collapse at 0.05: fine-tune them at about 0.005")
    lr_ratio: float = Field(0.1, gt=0.0, le=1.0, description="discriminative: lowest / highest layer learning rate")
    forget_lr: float = Field(0.5, gt=0.0, le=5.0, description="the too-large fine-tuning rate (forgetting)")
    lora_rank: int = Field(2, ge=1, le=64, description="LoRA rank (at most 9 for a 1-channel source's first conv)")
    steps: int = Field(50, ge=10, le=2000, description="SGD steps of every run (the same for every set size)")
    batch_size: int = Field(32, ge=4, le=256, description="minibatch size")
    target_accuracy: float = Field(0.8, gt=0.0, le=1.0, description="accuracy for 'steps to reach'")
    sizes: list[Annotated[int, Field(ge=1, le=1000)]] = Field([3, 10, 100], min_length=2, max_length=6,
                             description="images per class swept by the 'sizes' part, e.g. 3,10,30,100")
    seeds: int = Field(3, ge=1, le=6, description="seeds the comparative verdicts are decided over (seed, seed+1, "
                       "...; each draws its own target images): each extra seed trains again only the runs those "
                       "verdicts compare; with fewer than 3 they say they cannot tell")

    imagenet_target: choice(imagenet_source.TARGET_CHOICES, "dataset") = Field(
        "fashion_mnist", description="imagenet parts: the set the ImageNet network transfers to (a shipped one, or "
                                     "your own upload: 32x32, with at least 10 test images per class)")
    imagenet_per_class: int = Field(10, ge=1, le=300, description="imagenet: k training images per class")
    imagenet_size: int = Field(48, ge=32, le=112, description="imagenet: input size the 28x28 images are resized "
                               "to (features of 1,000 images: ~1 s at 48, ~3 s at 64 on one idle core)")
    imagenet_strategies: list[ImagenetStrategy] = Field(
        ["linear_probe", "top", "lora", "scratch"], min_length=1,
        description="imagenet: strategies (finetune_all trains all 3.4M weights from the images: about a minute "
                    "on a CPU, hence off by default)")
    imagenet_stages: int = Field(1, ge=1, le=3, description="imagenet: last block groups (of 7) that 'top' and "
                                 "'lora' train, with the head conv (1: 1.0M weights; 2: 2.7M, 4x slower a step)")
    imagenet_lr: float = Field(0.01, gt=0.0, le=1.0, description="imagenet: SGD rate of top, lora and finetune_all "
                               "(scratch uses lr)")
    imagenet_steps: int = Field(60, ge=10, le=1000, description="imagenet: SGD steps of every run")
    imagenet_target_accuracy: float = Field(0.6, gt=0.0, le=1.0, description="imagenet: accuracy for 'steps to "
                                            "reach'")
    shift_steps: int = Field(60, ge=10, le=1000, description="domain_shift: SGD steps of every run (fine-tuned and "
                             "scratch on the 8x8 digits and on Fashion-MNIST)")
    imagenet_test_per_class: int = Field(50, ge=10, le=50, description="imagenet parts: test images per class "
                                         "(a fixed subset of the shipped test split; 50: one image is 0.2 points)")
    imagenet_large: int = Field(100, ge=2, le=300, description="imagenet_rule: k of the 'large' target")

    @field_validator("model_file")
    @classmethod
    def _model_file_is_a_source(cls, model_file: str | None) -> str | None:
        if model_file is not None:
            try:
                load_file_source(model_file)
            except SourceError as err:
                raise ValueError(str(err)) from None
        return model_file

    @property
    def source_label(self) -> str:
        """How messages name the source: the shipped source's name, or the model file's own name."""
        return file_label(self.model_file) if self.model_file else self.source

    @property
    def target_label(self) -> str:
        """How messages name the target: its name, or the upload's title (never its secret name)."""
        return dataset_label(self.target)

    def _source_shape(self) -> tuple[int, int, str]:
        """(stages, the largest LoRA rank every wrapped conv takes, a line if the source does not load)."""
        if self.model_file:
            src = load_file_source(self.model_file)  # cached: read once by its validator
            convs = [m for m in src.model.modules() if isinstance(m, nn.Conv2d)]
            return num_stages(src.model), min(max_rank(m) for m in convs), ""
        if self.source == backbones.NAME:  # ResNet: stem + 4 layers; 64 channels in its stem and 1x1 convs
            return 5, 64, ""  # its weights are here: the source's choice has checked
        problem = source_problem(self.source)
        if problem:
            return 0, 0, problem
        channels = read_card(self.source)["input"]["channels"]
        return DEPTH, lora_rank_limit(channels), ""  # every shipped source: DEPTH conv blocks

    @field_validator("sizes", mode="before")
    @classmethod
    def _sizes_as_text(cls, value: Any) -> Any:
        """Accept the UI text box's "[3, 10, 30, 100]" as well as the CLI's "3,10,30,100"."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            return [v.strip().strip("[]").strip() if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _check(self) -> "TransferConfig":
        stages, rank_limit, problem = self._source_shape()
        if problem:
            raise ValueError(problem)
        if "rule" in self.parts and self.target not in SIMILAR:
            raise ValueError(f"the rule part needs a target whose similar and dissimilar shipped sources are known "
                             f"({', '.join(SIMILAR)}); leave 'rule' out of parts for {self.target_label} ('selection' "
                             "ranks the sources for it)")
        if "rule" in self.parts:  # the rule-of-thumb table loads two other sources, whatever was chosen
            for name in dict.fromkeys((SIMILAR[self.target], DISSIMILAR[self.target])):
                problem = source_problem(name)
                if problem:
                    raise ValueError(f"the rule part needs {name}: {problem}")
        if "selection" in self.parts and sum(not source_problem(n) for n in RANKED) < 2:
            raise ValueError("the selection part ranks the shipped sources and needs at least 2 that load; "
                             "rebuild the others with: python -m cnnbp pretrain NAME")
        if "forgetting" in self.parts and (self.model_file or self.source == backbones.NAME):
            raise ValueError(f"forgetting needs the source's own test set, which {self.source_label} does not "
                             f"bring here: leave 'forgetting' out of parts")
        if self.freeze_stages > stages:
            raise ValueError(f"freeze_stages ({self.freeze_stages}) is more than the source's {stages} stages; "
                             f"choose 0-{stages}")
        if self.stage > stages:
            raise ValueError(f"stage ({self.stage}) is more than the source's {stages} stages; choose 1-{stages}")
        if stages > DEPTH and "rule" in self.parts and max(self.stage, self.freeze_stages) > DEPTH:
            raise ValueError(f"the rule part runs stage {self.stage} and freeze_stages {self.freeze_stages} on the "
                             f"shipped sources too, which have {DEPTH} stages: choose at most {DEPTH} for both "
                             "or leave 'rule' out of parts")
        if "lora" in self.strategies and "compare" in self.parts:
            if self.lora_rank > rank_limit:
                raise ValueError(f"lora_rank ({self.lora_rank}) is larger than the smallest wrapped layer allows "
                                 f"({rank_limit}: min(outputs, inputs) of the {self.source_label} conv with the "
                                 "fewest)")
        self._check_imagenet()
        have = AVAILABLE.get(self.target) or get_target(self.target).per_class_available()
        swept = {"sizes", "rule"} & set(self.parts)  # the parts that train on the swept sizes
        for name, n in [("images_per_class", self.images_per_class), *[("sizes", s) for s in self.sizes if swept]]:
            if n > have:
                raise ValueError(f"{name}: {n} images per class, but {self.target_label} has {have} per class")
        if "forgetting" in self.parts and self.forget_lr <= self.lr:
            raise ValueError(f"forget_lr ({self.forget_lr:g}) must be larger than lr ({self.lr:g}) to compare "
                             "forgetting at a small and a large fine-tuning rate")
        if len(set(self.sizes)) != len(self.sizes):
            raise ValueError(f"sizes: duplicates in {self.sizes}")
        return self

    def _check_imagenet(self) -> None:
        if not {"imagenet", "imagenet_rule"} & set(self.parts):
            return
        problem = imagenet_source.unavailable_reason()
        if problem:
            raise ValueError(problem)
        if "imagenet_rule" in self.parts and self.imagenet_large <= self.imagenet_per_class:
            raise ValueError(f"imagenet_large ({self.imagenet_large}) must be more than imagenet_per_class "
                             f"({self.imagenet_per_class}): the rule part compares a small and a large target")
        # the imagenet part trains on imagenet_target (the rule part on both shipped sets, whatever was chosen)
        problem = "imagenet" in self.parts and imagenet_source.target_problem(
            self.imagenet_target, per_class=self.imagenet_per_class, test_per_class=self.imagenet_test_per_class)
        if problem:
            raise ValueError(f"imagenet_target: {problem}")

    def verdict_seeds(self) -> list[int]:
        """The run's seed, then the others the comparative verdicts are decided over."""
        return [self.seed + k for k in range(self.seeds)]

    def compare_runs(self) -> list[Run]:
        """The SGD runs of the compare part: at the run's seed the chosen strategies and the two
        fine-tunings forgetting needs; at the other verdict seeds only what the verdicts compare
        (fine-tuned and scratch, the two fine-tunings)."""
        runs = []
        for seed in self.verdict_seeds():
            chosen = self.strategies if seed == self.seed else [s for s in ("finetune", "scratch")
                                                                 if s in self.strategies]
            here = [Run(s, self.lr, seed=seed) for s in chosen if "compare" in self.parts and s in SGD_STRATEGIES]
            if "forgetting" in self.parts:
                if not any(r.strategy == "finetune" for r in here):
                    here.append(Run("finetune", self.lr, seed=seed))
                here.append(Run("finetune", self.forget_lr, f"finetune, lr {self.forget_lr:g}", seed))
            runs += [r if seed == self.seed else Run(r.strategy, r.lr, f"{r.label}, seed {seed}", seed) for r in here]
        return runs

    def train_kwargs(self, source: Source, num_classes: int) -> dict:
        """The settings every ``train_runs`` call of this run passes on."""
        return dict(source=source, num_classes=num_classes, steps=self.steps, batch_size=self.batch_size,
                    freeze_stages=self.freeze_stages, lora_rank=self.lora_rank, lr_ratio=self.lr_ratio)

    def cost_seconds(self) -> float:
        digits = self.target == "digits_5to9"
        if is_session_name(self.target):  # an upload: its own format and test split
            task = get_target(self.target)
            native, test_images = (task.channels, task.size), len(task.y_test)
        else:  # digits 5-9: half the digits' test split
            native = (1, 8) if digits else (3, 16)
            test_images = dataset_shape("digits").n_test // 2 if digits else SHAPES_TEST
        step_nat = _step_seconds(*native, self.batch_size)
        step_src = self._source_step_seconds()
        per_run = lambda r: self.steps * (step_nat if r == "scratch" else step_src)  # noqa: E731
        eval_s = (EVALS + 1) * test_images * step_src / self.batch_size / 3  # a forward is a third of a step
        cost = sum(per_run(r.strategy) + eval_s for r in self.compare_runs())
        if "compare" in self.parts:
            cost += 1.0  # four linear probes
        if "sizes" in self.parts:  # every size at the run's seed; the largest again at the other verdict seeds
            cost += len(self.sizes) * (sum(per_run(s) + eval_s for s in ("freeze", "finetune", "scratch")) + 0.5)
            cost += (self.seeds - 1) * (2 * (per_run("finetune") + eval_s) + 0.5)
        if "rule" in self.parts:  # the other source's small and large cells, at 3x16x16 at worst
            other = _step_seconds(3, 16, self.batch_size) * self.steps
            cost += 2 * (2 * other + per_run("scratch") + 3 * eval_s + 0.5)
        if "selection" in self.parts:  # loading a source and its probes; each further seed's probes
            cost += len(RANKED) * (0.6 + 0.2 * (self.seeds - 1))
        if "domain_shift" in self.parts:  # two targets, fine-tuned and scratch at every seed, 28x28 at worst
            shift_eval = (EVALS + 1) * 500 * _step_seconds(1, 28, self.batch_size) / self.batch_size / 3
            cost += 2 * self.seeds * (2 * (_step_seconds(1, 28, self.batch_size) * self.shift_steps + shift_eval) + 0.5)
        return cost + self._imagenet_cost()

    def _source_step_seconds(self) -> float:
        """One SGD step of a strategy on the source (a model file: its own architecture)."""
        model = load_file_source(self.model_file).model if self.model_file else None
        if self.source == backbones.NAME and model is None or model is not None and not isinstance(model, SmallCNN):
            return gflop_seconds(RESNET_STEP_FLOPS_PER_IMAGE * self.batch_size)  # ResNet-18 at 32x32
        if model is not None:
            s = model.settings
            macs = small_cnn_macs(in_channels=s["in_channels"], image_size=s["image_size"], depth=s["depth"],
                                  width=s["width"], kernel=s["kernel"], num_classes=s["num_classes"])
            return STEP_OVERHEAD_S + gflop_seconds(6 * macs * self.batch_size)
        card_input = read_card(self.source)["input"]
        return _step_seconds(card_input["channels"], card_input["size"], self.batch_size)

    def _imagenet_cost(self) -> float:
        settings = dict(size=self.imagenet_size, stages=self.imagenet_stages, steps=self.imagenet_steps,
                        test_per_class=self.imagenet_test_per_class,
                        classes=dataset_shape(self.imagenet_target).classes)
        cost = 0.0
        if "imagenet" in self.parts:
            from cnnbp.lessons.transfer.imagenet_parts import chosen_runs

            cost += imagenet_source.cost_seconds(strategies=chosen_runs(self), per_class=self.imagenet_per_class,
                                                 **settings)
        if "imagenet_rule" in self.parts:
            rule = {self.seed: ("linear_probe", "top", "scratch")}
            cost += 2 * sum(imagenet_source.cost_seconds(strategies=rule, per_class=k, **settings)
                            for k in (self.imagenet_per_class, self.imagenet_large))
        return cost


def _step_seconds(channels: int, size: int, batch: int) -> float:
    """One SGD step of our 4-block net (5 classes) on one thread: the overhead plus forward and
    backward (3x a forward's multiply-adds, 2 FLOPs each)."""
    macs = small_cnn_macs(in_channels=channels, image_size=size, depth=DEPTH, width=WIDTH, num_classes=5)
    return STEP_OVERHEAD_S + gflop_seconds(6 * macs * batch)


def lora_rank_limit(channels: int) -> int:
    """The largest LoRA rank every conv of a ``channels``-input source can take."""
    net = build_cnn(channels=channels, num_classes=2, size=8, seed=0)
    return min(max_rank(m) for m in net.modules() if isinstance(m, type(net.blocks[0].conv)))
