"""Transfer learning (lectures 000-004): registers the lesson "transfer" and its claims."""

from cnnbp.lessons.base import Lesson, register
from cnnbp.lessons.transfer.config import PART_NAMES, TransferConfig
from cnnbp.lessons.transfer.parts import PARTS, start_message

LESSON = register(Lesson(
    name="transfer",
    title="Transfer learning",
    summary="A small pretrained source CNN (supervised or self-supervised, shipped with a hash-checked card) used "
            "on a small target every way the lecture names, side by side: frozen features + a linear classifier "
            "from each stage, freeze the bottom n stages, fine-tune all, discriminative learning rates, LoRA, "
            "scratch; forgetting at a large fine-tuning rate; the target-set size swept; and 002's recipe for "
            "picking a source (mean-feature similarity) against the accuracy each source gives. Add the part rule "
            "for the lecture's rule-of-thumb table (dataset size x similarity -> strategy) measured, the parts "
            "imagenet and imagenet_rule for a real ImageNet network (EfficientNet-Lite0) on MNIST / Fashion-MNIST "
            "with k images per class, and domain_shift for a CNN trained on MNIST used on other digits. The "
            "comparative verdicts are decided over several seeds, or say they cannot tell.",
    config=TransferConfig,
    parts=PARTS,
    start=start_message,
    figures=(
        ("curves", "Training loss and test accuracy per strategy (dashed: the linear probe on frozen features; thin: "
                   "the other verdict seeds; diamonds: where a run stays at the target accuracy)"),
        ("stages", "Linear probe from each stage of the frozen source"),
        ("params", "Accuracy against trainable parameters: LoRA vs full fine-tuning"),
        ("forgetting", "The source task's accuracy before and after fine-tuning"),
        ("sizes", "Accuracy, and steps until it stays at a target accuracy, against images per class"),
        ("rule", "The rule-of-thumb table measured: {similar, dissimilar} source x {small, large} target (tick "
                 "'rule' in parts: not in the default run)"),
        ("selection", "Source selection: feature similarity vs transfer accuracy"),
        ("imagenet", "From ImageNet (EfficientNet-Lite0) to MNIST / Fashion-MNIST: training loss and test accuracy "
                     "per strategy (dashed: the linear probe on frozen ImageNet features)"),
        ("imagenet_rule", "The rule-of-thumb table from ImageNet: {similar, dissimilar} target x {small, large} k"),
        ("domain_shift", "Domain shift: a CNN trained on MNIST, untouched and fine-tuned, on the 8x8 digits and on "
                         "Fashion-MNIST"),
    ),
    tables=(("strategies", "Per strategy: accuracy, trainable parameters, steps until it stays at the target "
                           "accuracy"),
            ("sizes", "Per target-set size"),
            ("rule", "The lecture's 2x2 table with the measured accuracies (tick 'rule' in parts)"),
            ("selection", "Per source"),
            ("imagenet", "From ImageNet, per strategy: accuracy, trainable weights and their share, steps to the "
                         "target accuracy"),
            ("imagenet_rule", "The 2x2 table from ImageNet"),
            ("domain_shift", "Domain shift: per target and strategy")),
    # sizes: the sweep the quick numbers were recorded with (the default dropped 30 for speed), written as
    # the text box shows it (the browser test checks list values as dropdown tokens, which a text box has not)
    # one seed: the comparative verdicts say they cannot tell (they need 3), which is what 20 steps on
    # 5 images per class allow
    # every part, the ImageNet ones on 2 and 4 images per class for 10 steps, scored on 100 test images per set
    quick={"strategies": ["linear_probe", "freeze", "finetune", "lora", "scratch"], "steps": 20,
           "images_per_class": 5, "seeds": 1, "parts": list(PART_NAMES), "sizes": "[3, 10, 30, 100]"},
    # ImageNet's parts and the domain shift take 10-20 s even at their smallest: tested in
    # tests/lessons/transfer/test_imagenet.py and test_domain_shift.py, not in the quick run.
    optional=("imagenet", "imagenet_rule", "domain_shift"),
))
from cnnbp.lessons.transfer import claims  # noqa: E402,F401  (registers the transfer claims)
