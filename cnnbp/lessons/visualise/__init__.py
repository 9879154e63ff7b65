"""Visualising CNNs (lecture 004): registers the lesson "visualise" and its claims."""

from cnnbp.lessons.base import Lesson, register
from cnnbp.lessons.visualise.config import VisualiseConfig
from cnnbp.lessons.visualise.parts import PARTS, start

LESSON = register(Lesson(
    name="visualise",
    title="Visualising CNNs",
    summary="A small CNN trained here on digits or shapes, looked at six ways: its first-layer filters as training "
            "goes on (how smooth), the feature maps of an image (yours, if you upload one) and the dead filters of "
            "each layer, occlusion maps (does the sensitivity fall on the object?), 2-D embeddings of its "
            "penultimate features vs raw pixels (PCA, t-SNE, UMAP, each with a k-NN accuracy), the test images "
            "that most excite a channel with their receptive fields, and an input synthesised to excite it. "
            "The filter and occlusion verdicts are decided over models trained alike at several seeds. "
            "The trained models are reused when only the view changes. With model efficientnet_lite0_imagenet, the "
            "packaged ImageNet EfficientNet-Lite0 looks at a bundled photo (chelsea the cat, ...) or yours: its top-5, "
            "first-layer filters, feature maps per stage, occlusion of the predicted class (coarse, then refined) "
            "beside Grad-CAM, whether Grad-CAM changes when the top layers are randomised, and the 1,000 shipped "
            "Fashion-MNIST (or MNIST) images that most excite a chosen channel, with their receptive fields.",
    config=VisualiseConfig,
    parts=PARTS,
    start=start,
    figures=(
        ("training", "Training loss and test accuracy"),
        ("filters", "First-layer filters at init and after each epoch"),
        ("feature_maps", "Feature maps of one image, per layer"),
        ("occlusion", "Occlusion maps: probability with the window at each position"),
        ("embeddings", "2-D embeddings: CNN features vs raw pixels"),
        ("top_images", "Test images that most excite a channel, with receptive fields"),
        ("synthesis", "Inputs synthesised to excite the channel"),
    ),
    tables=(("dead", "Dead filters per layer"), ("occlusion", "Occlusion, per image"),
            ("embeddings", "Projections: quality and time")),
    # each map's points are drawn whole in the embeddings figure: the page's numbers keep their scores
    drawn_numbers=tuple(f"embeddings.projections.*.{key}" for key in ("x", "y", "labels", "index")),
    # One model: the filter and occlusion verdicts say they cannot tell (they need models at several seeds).
    quick={"epochs": 2, "models": 1, "embed_points": 120, "methods": ["pca", "tsne"], "occlusion_images": 2,
           "top_k": 4, "synth_steps": 20},
))

from cnnbp.lessons.visualise import claims  # noqa: E402,F401  (registers the visualise claims)
