"""The init lesson's verdicts: pure functions, results -> Verdict (the wording). What they
pass or fail is the result objects' own reading (``ClassicResult.behaviour``,
``SymmetryContrast.holds``), which the claims read too."""

from __future__ import annotations

from cnnbp.lessons.base import Verdict
from cnnbp.lessons.init.classic import ClassicResult
from cnnbp.lessons.init.cnn import TRAINED_SHARE, VariantHistory
from cnnbp.lessons.init.symmetry import SymmetryContrast
from cnnbp.nn.inits import get_init


def classic_verdicts(results: list[ClassicResult]) -> list[Verdict]:
    out = []
    for r in results:
        stds = r.stds()
        last = r.layers[-1]
        out.append(Verdict(
            label=f"classic MLP, {r.activation} + {r.init}",
            headline=(f"{r.activation} + {r.init}: std {stds[0]:.2g} -> {stds[-1]:.2g}, "
                      f"x{r.per_layer_factor:.2f} per layer"),
            text=(f"{r.activation} + {get_init(r.init).label}: activation std {stds[0]:.3g} in layer 1 -> "
                  f"{stds[-1]:.3g} in layer {len(stds)} (x{r.per_layer_factor:.2f} per layer); "
                  f"last layer: {last.frac_saturated:.0%} saturated, mean local gradient "
                  f"{last.mean_local_grad:.2f} of its peak; ||dL/dW|| layer 1: {r.weight_grad_norm[0]:.3g}, "
                  f"layer {len(stds)}: {r.weight_grad_norm[-1]:.3g}. The activations {r.behaviour}."),
        ))
    return out


def cnn_verdicts(histories: list[VariantHistory], num_classes: int) -> list[Verdict]:
    """One observation per activation: every init's test accuracy, best first. One seed ranks
    them, so the verdict passes or fails nothing; where no init of the activation has trained
    (TRAINED_SHARE of the way from chance to 100%), it says the run is too short to tell."""
    out = []
    chance = 1 / num_classes
    line = chance + TRAINED_SHARE * (1 - chance)
    for activation in dict.fromkeys(h.activation for h in histories):
        group = [h for h in histories if h.activation == activation]
        ranked = sorted(group, key=lambda h: -(h.final_accuracy if h.final_accuracy is not None else -1))
        parts = []
        for h in ranked:
            if h.diverged_at is not None:
                parts.append(f"{h.init} diverged at step {h.diverged_at}")
                continue
            dead = max(h.layer_dead[-1]) if h.layer_dead else 0.0
            parts.append(f"{h.init} {h.test_accuracy[-1]:.1%} (std of the last conv layer "
                         f"{h.layer_std[-1][-1]:.3g}, up to {dead:.0%} of a layer's units dead/saturated)")
        trained = [h.init for h in ranked if h.trained(num_classes)]
        steps = max(h.steps[-1] if h.steps else 0 for h in group)
        if trained:
            tail = (f" Trained (test accuracy >= {line:.0%}, halfway from chance to 100%): {', '.join(trained)}. "
                    "One seed: inits a few points apart can swap places with another seed.")
        else:
            tail = (f" No init reaches {line:.0%} (halfway from chance to 100%) in {steps} steps: too short to tell "
                    f"which init suits {activation}; more epochs can.")
        accuracy = [f"{h.init} " + ("diverged" if h.diverged_at is not None else f"{h.test_accuracy[-1]:.0%}")
                    for h in ranked]
        out.append(Verdict(label=f"CNN with {activation}", headline=f"{activation}: " + ", ".join(accuracy),
                           text=f"CNN with {activation}, test accuracy after training (chance {chance:.0%}): "
                                + "; ".join(parts) + "." + tail))
    return out


def symmetry_verdict(contrast: SymmetryContrast) -> Verdict:
    const, other = contrast.constant, contrast.other
    distinct = lambda r: ", ".join(f"{s.distinct_units}/{s.units}" for s in r.after)  # noqa: E731
    return Verdict(
        label="constant init never breaks symmetry", claim="init.constant_symmetry", passed=contrast.holds,
        headline=f"distinct neurons: constant {distinct(const)}; {other.init} {distinct(other)}",
        text=(f"After {const.steps} training steps with {contrast.activation}, constant init leaves "
              f"{distinct(const)} distinct neurons per hidden layer (largest spread "
              f"{max(s.spread for s in const.after):.2g} of the mean |w|; test accuracy "
              f"{const.test_accuracy:.1%}); {other.init} has {distinct(other)} "
              f"(test accuracy {other.test_accuracy:.1%}). "
              + ("Symmetry was never broken." if const.symmetric else "Symmetry broke: see the table.")),
    )
