"""Data preprocessing (lecture 003): registers the lesson "preprocessing" and its claims."""

from cnnbp.lessons.base import Lesson, register
from cnnbp.lessons.preprocessing.config import PreprocessingConfig
from cnnbp.lessons.preprocessing.parts import PARTS

LESSON = register(Lesson(
    name="preprocessing",
    title="Data preprocessing",
    summary="Zero-centring, standardising, PCA and whitening on a 2-D cloud and on image pixels; the lecture's "
            "options for images (mean image, per-channel mean, per-channel mean and std) fitted on train and "
            "applied to test; raw vs normalised digits trained live, and the loss's sensitivity to the weights.",
    config=PreprocessingConfig,
    parts=PARTS,
    figures=(
        ("cloud", "A 2-D cloud: original, zero-centred, standardised, decorrelated, whitened"),
        ("pixel_pairs", "Two neighbouring pixels of the images, the same five steps (train and test)"),
        ("pixel_covariance", "Covariance of pixel vectors after each step"),
        ("image_stats", "Mean training image; per-channel mean and std after each step, train vs test"),
        ("image_examples", "Test images after each step"),
        ("training", "Training loss and test accuracy: raw vs preprocessed inputs"),
        ("sensitivity", "Loss under random weight changes: one classifier written for each input"),
    ),
    tables=(("cloud", "Point cloud statistics"), ("channels", "Per-channel statistics, train and test"),
            ("training", "Steps to the targets, per run"), ("sensitivity", "Relative loss change per size")),
    quick={"cloud_points": 200, "epochs": 1, "runs": 2, "directions": 4},
    drawn_numbers=("cloud.*.points", "images.pixel_pairs", "images.covariance", "images.mean_image",
                   "images.examples"),
))

from cnnbp.lessons.preprocessing import claims  # noqa: E402,F401  (registers the preprocessing claims)
