"""The preprocessing claims of lecture 003, measured on the digits at the given seed."""

from __future__ import annotations

from cnnbp.claims import register_claim
from cnnbp.data import lesson_dataset
from cnnbp.lessons.base import validate_config
from cnnbp.lessons.preprocessing.config import PreprocessingConfig
from cnnbp.lessons.preprocessing.sensitivity import measure_sensitivity
from cnnbp.lessons.preprocessing.training import TRAIN_DATASET, TrainingResult, train_variants
from cnnbp.lessons.preprocessing.verdicts import describe_steps, sensitivity_text, speedup_text
from cnnbp.train import RunControl

# The lecture's picture: data far from the origin. Pixels in [0, 1] shifted by 2 put the digits'
# mean pixel (0.3, std 0.43) about 5 stds from the origin. Fixed before any run.
FAR_OFFSET = 2.0
BYTES = 255.0  # 8-bit pixels, the images as they come (the lecture's CIFAR-10 example)


def _train(*, model: str, scale: float, offset: float, transforms: list[str], seed: int,
           runs: int = 3) -> tuple[PreprocessingConfig, TrainingResult]:
    cfg = validate_config(PreprocessingConfig, {"parts": ["training"], "model": model, "input_scale": scale,
                                                "input_offset": offset, "transforms": transforms, "runs": runs,
                                                "seed": seed})
    data = lesson_dataset(TRAIN_DATASET, seed=cfg.seed)
    *_, (_, result) = train_variants(
        data, transforms=cfg.transforms, model=cfg.model, hidden=cfg.hidden, raw_scale=cfg.input_scale,
        raw_offset=cfg.input_offset, runs=cfg.runs, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
        seed=cfg.seed, control=RunControl())
    return cfg, result


@register_claim("preprocessing.standardised_trains_faster", lesson="preprocessing", source="003",
                lecture="standardised inputs train faster",
                statement="with the same optimiser and learning rate, standardised inputs train faster than raw ones")
def standardised_trains_faster(seed: int) -> tuple[bool | None, str]:
    out, verdicts = [], []
    for model in ("linear", "mlp"):
        _, result = _train(model=model, scale=BYTES, offset=0.0, transforms=["raw", "channel_std"], seed=seed)
        speedup = result.speedup()
        verdicts.append(speedup.holds)
        out.append(f"{model} on 8-bit digits, SGD lr 0.05, {speedup.runs} runs, {result.total_steps} steps, target "
                   f"loss {result.target_loss:.2f}: {describe_steps(result, 'channel_std')}; "
                   f"{describe_steps(result, 'raw')}. {speedup_text(speedup, result.total_steps)}")
    return _all(verdicts), " | ".join(out)


def _all(outcomes: list[bool | None]) -> bool | None:
    """Holds if every measurement holds, fails if any fails, else cannot tell."""
    if False in outcomes:
        return False
    return None if None in outcomes else True


@register_claim("preprocessing.loss_sensitive_before_normalisation", lesson="preprocessing", source="003",
                lecture="loss very sensitive to the weights before normalising",
                statement="before normalisation the loss is very sensitive to small changes in the weights")
def loss_sensitive_before_normalisation(seed: int) -> tuple[bool | None, str]:
    measured = {}
    for label, scale, offset in (("pixels + 2 (far from the origin)", 1.0, FAR_OFFSET), ("8-bit pixels", BYTES, 0.0)):
        cfg, result = _train(model="linear", scale=scale, offset=offset, transforms=["raw", "channel_std"], seed=seed)
        measured[label] = measure_sensitivity(result, lesson_dataset(TRAIN_DATASET, seed=cfg.seed),
                                              raw_scale=cfg.input_scale, raw_offset=cfg.input_offset,
                                              perturbation=cfg.perturbation, directions=cfg.directions, seed=cfg.seed)
    far = measured["pixels + 2 (far from the origin)"]
    text = " | ".join(f"{label}: |dL|/L {s.change('raw'):.3g} raw vs {s.change('channel_std'):.3g} standardised. "
                      f"{sensitivity_text(s)}" for label, s in measured.items())
    return far.raw_more_sensitive, (f"linear classifier, weights moved by {far.perturbation:g} x ||W|| in random "
                                    f"directions; {text} (the claim is read far from the origin)")
