"""The architecture claims of lecture 004, each read off the same result object as its verdict.
They are arithmetic: exact at every seed (the seed changes nothing)."""

from __future__ import annotations

from cnnbp.claims import register_claim
from cnnbp.lessons.architecture import verdicts
from cnnbp.lessons.architecture.models import summary
from cnnbp.lessons.architecture.parts import lecture_example
from cnnbp.lessons.architecture.receptive import gradient_support
from cnnbp.lessons.architecture.stacks import STACKS, StackNet, block_weights

CHANNELS = 16  # any C: the weights are k^2 C^2; 16 is the lesson's default


@register_claim("architecture.conv_455_vs_fc", lesson="architecture", source="004",
                lecture="455 parameters vs over 3,280,500,000",
                statement="a conv layer of 5 filters 3x3x10 on a 90x90x10 input has 455 parameters; a fully "
                          "connected layer to the same 40,500 outputs has more than 3,280,500,000")
def conv_455_vs_fc(seed: int) -> tuple[bool | None, str]:
    del seed
    example = lecture_example()
    return example.holds, verdicts.conv_vs_fc(example).text


@register_claim("architecture.stacked_3x3_fewer_weights", lesson="architecture", source="004",
                lecture="two 3x3: a 5x5 field with 18C^2, not 25C^2",
                statement="two stacked 3x3 convs see a 5x5 receptive field with 18C^2 weights instead of 25C^2 "
                          "(three: 7x7 with 27C^2 instead of 49C^2)")
def stacked_3x3_fewer_weights(seed: int) -> tuple[bool | None, str]:
    pairs = []
    for small, large in (("3x3 x2", "5x5"), ("3x3 x3", "7x7")):
        fields = [gradient_support(tuple(k for k, _ in STACKS[n].block)) for n in (small, large)]
        weights = [block_weights(StackNet(1, 10, channels=CHANNELS, block=STACKS[n].block, seed=seed))
                   for n in (small, large)]
        pairs.append((small, large, *fields, *weights))
    verdict = verdicts.same_field_fewer_weights(pairs, CHANNELS)
    return verdict.passed, verdict.text


@register_claim("architecture.vgg16_params_in_fc", lesson="architecture", source="004",
                lecture="about 138M parameters, most in the fc layers",
                statement="VGG-16 has about 138M parameters, most of them in its fully connected layers")
def vgg16_params_in_fc(seed: int) -> tuple[bool | None, str]:
    del seed
    verdict = verdicts.vgg_fc(summary("vgg16"))
    return verdict.passed, verdict.text
