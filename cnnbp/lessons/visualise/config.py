"""The visualise lesson's settings, their bounds and checks, and the cost estimate of a run."""

from __future__ import annotations

from typing import Callable, Literal

from pydantic import Field, ValidationInfo, field_validator

from cnnbp.data import LESSON_SET_CHOICES, dataset_label, photos
from cnnbp.data.uploads import UploadError, load_image
from cnnbp.lessons.base import LessonConfig, choice, gflop_seconds
from cnnbp.lessons.runnable import runnable_choice
from cnnbp.lessons.visualise import embeddings as emb
from cnnbp.lessons.visualise import imagenet, imagenet_top, loaded
from cnnbp.lessons.visualise.model import TrainSettings, conv_blocks, conv_channels, data_shape, load_data
from cnnbp.lessons.visualise.occlusion import MASK_IMAGES
from cnnbp.nn import imagenet as imagenet_net
from cnnbp.nn import small_cnn_macs

View = Literal["weights", "activations", "occlusion", "embeddings", "top_images", "synthesis"]
VIEWS: tuple[str, ...] = ("weights", "activations", "occlusion", "embeddings", "top_images", "synthesis")
SLOWDOWN = 4  # convs this small run at about a quarter of the nominal rate (measured: defaults ~3 s to train)
IMAGENET_READ_S = 1.0  # reading one 45 MB checkpoint
# EfficientNet-Lite0 on ImageNet: one 224 x 224 forward 25-29 ms on one thread (measured, batches of 1-8, a loaded
# 2-core machine), with a margin; the network built once per process (~1 s), a fresh copy per sanity check step
EFFICIENTNET = "efficientnet_lite0_imagenet"
FORWARD_224_S = 0.04
NETWORK_BUILD_S = 1.0
IMAGENET_FEATURE_S = 1.2e-3  # one image's features at 48 px, one idle core (measured ~1 s per 1,000 images)
PHOTO_SIZE = 224
IMAGENET_VIEWS = ("weights", "activations", "occlusion", "top_images")  # the views the ImageNet network runs
TOP_BACKWARD_S = 0.03  # one top image's receptive-field box: a forward and a backward at 48 px
Photo = Literal["chelsea", "coffee", "astronaut", "rocket", "motorcycle", "camera", "china", "flower"]
# one projection with its quality figures, per point, one thread: t-SNE ~1.7 ms; UMAP once warm ~0.6 ms
# (CPU seconds at 360 digits points, 2026-12-01, after the shorter schedules in embeddings.py)
PROJECTION_S_PER_POINT = {"pca": 0.0002, "tsne": 0.002, "umap": 0.0008}


# Each model and why it cannot run here ("" when it can): the dropdown offers only the runnable ones.
MODEL_NEEDS: dict[str, Callable[[], str]] = {
    "trained": lambda: "",
    "resnet18_imagenet": lambda: imagenet.unavailable_reason(),
    EFFICIENTNET: lambda: imagenet_net.unavailable_reason(),
}
Model = runnable_choice(MODEL_NEEDS, "model")


class VisualiseConfig(LessonConfig):
    parts: list[View] = Field(list(VIEWS), min_length=1, description="which views to compute")
    model: Model = Field(
        "trained", description="trained: a SmallCNN trained in this run; resnet18_imagenet: torchvision's "
                               "ImageNet ResNet-18 first-layer filters, only where its weights are cached here; "
                               "efficientnet_lite0_imagenet: the packaged ImageNet EfficientNet-Lite0 on a photo "
                               "(top-5, filters, feature maps, occlusion, Grad-CAM)")
    dataset: choice(LESSON_SET_CHOICES, "dataset") = Field(
        "digits", description="training data (shapes: 16x16 RGB with object masks; mnist, fashion_mnist: the "
                              "shipped 28x28 sets, 8,000 / 10,000 training images: several times slower to train; "
                              "or your own upload, 32x32)")
    model_file: str | None = Field(None, max_length=4096, description="optional .pt model file (another tab's "
                                   "Download, or your own SmallCNN checkpoint): looked inside instead of training "
                                   "one; it must fit the dataset (channels, size, classes)",
                                   json_schema_extra={"upload": "model"})
    kernel: int = Field(3, ge=3, le=5, description="conv kernel side, 3 or 5 (5: the lecture's smooth-filter "
                        "claim on 28x28 MNIST)")
    depth: int = Field(4, ge=2, le=6, description="conv layers (2x2 pooling after every second)")
    width: int = Field(8, ge=4, le=32, description="channels of the first conv layer (doubles at each pooling)")
    norm: Literal["none", "batch"] = Field("batch", description="normalisation after each conv")
    # 4 (was 6), by cost: training the 5 models is ~70% of the default run, which took 11.3 s idle at 6
    epochs: int = Field(4, ge=1, le=30, description="training epochs (4: about 97% on digits)")
    models: int = Field(5, ge=1, le=10, description="models trained alike at seeds seed, seed+1, ... that the "
                        "filter and occlusion verdicts are decided over (the views show the first); 1 cannot tell")
    lr: float = Field(0.01, gt=0.0, le=0.1, description="Adam learning rate")
    batch_size: int = Field(64, ge=8, le=512, description="minibatch size")
    image_index: int = Field(0, ge=0, le=999, description="test image for the feature maps and the first "
                             "occlusion map (digits has 360, shapes 1000)")
    image: str | None = Field(None, max_length=4096, description="optional PNG or JPEG of your own: "
                              "feature maps and occlusion use it (converted to the dataset's size and channels)",
                              json_schema_extra={"upload": "image"})
    photo: Photo = Field("chelsea", description="bundled photo the ImageNet network looks at (an upload replaces "
                         "it)")
    top_set: Literal[imagenet_top.TOP_SETS] = Field(
        "fashion_mnist", description=f"ImageNet top images: the shipped set searched ({imagenet_top.TOP_IMAGES:,} test "
                                     f"images resized to {imagenet_top.TOP_SIZE} px)")
    photo_stage: Literal[tuple(imagenet_top.STAGE_CHANNELS)] = Field(
        "blocks.1", description="ImageNet top images: the stage of the channel (bn1: the stem, blocks.1/3/5, bn2: the "
                                "head)")
    photo_channel: int = Field(0, ge=0, le=1279, description="ImageNet top images: the channel of that stage")
    photo_window: int = Field(32, ge=8, le=112, description="ImageNet occlusion: the refined map's window, pixels "
                              "of the 224 x 224 input (the coarse map first uses twice the window and stride)")
    photo_stride: int = Field(16, ge=4, le=112, description="ImageNet occlusion: the refined map's stride, pixels")
    occlusion_images: int = Field(4, ge=1, le=8, description="test images with an occlusion map")
    window: int = Field(3, ge=1, le=16, description="occluding square, pixels")
    stride: int = Field(1, ge=1, le=16, description="step between window positions, pixels")
    fill: Literal["grey", "mean", "blur"] = Field(
        "grey", description="what the window shows: grey (the lecture), the image's mean colour, or it blurred")
    embed_points: int = Field(360, ge=50, le=1000, description="test images projected to 2-D")
    methods: list[Literal["pca", "tsne", "umap"]] = Field(
        list(emb.METHODS), min_length=1, description="projections, each of CNN features and of raw pixels")
    imagenet_features: bool = Field(False, description="embeddings: also project the ImageNet network's features "
                                    "(EfficientNet-Lite0, pooled 1280-d, images resized to 48 px) of the same test "
                                    "images: real ImageNet features against the small CNN's and the pixels")
    layer: int = Field(2, ge=1, le=6, description="conv layer of the unit for the top images and synthesis")
    channel: int = Field(0, ge=0, le=255, description="channel of that layer")
    top_k: int = Field(8, ge=1, le=16, description="how many top images")
    synth_steps: int = Field(100, ge=10, le=500, description="gradient-ascent steps of the synthesis")
    jitter: int = Field(1, ge=0, le=4, description="random shift before each step, pixels (the prior)")
    blur_every: int = Field(4, ge=0, le=50, description="blur the image every this many steps (0: never)")
    l2: float = Field(0.01, ge=0.0, le=1.0, description="L2 pull of the pixels towards grey")

    @field_validator("model")
    @classmethod
    def _model_available(cls, model: str, info: ValidationInfo) -> str:
        if model == "resnet18_imagenet":  # runnable here: the Model choice has checked
            other = [p for p in info.data.get("parts", []) if p != "weights"]
            if other:
                raise ValueError(f"with resnet18_imagenet only the weights view runs here (the others need "
                                 f"ImageNet images); remove {', '.join(other)} from parts")
        if model == EFFICIENTNET:
            if not set(IMAGENET_VIEWS) & set(info.data.get("parts", [])):
                raise ValueError(f"with {EFFICIENTNET} choose at least one of {', '.join(IMAGENET_VIEWS)} in parts")
        return model

    @field_validator("photo_channel")
    @classmethod
    def _photo_channel_fits(cls, channel: int, info: ValidationInfo) -> int:
        stage = info.data.get("photo_stage")
        if stage is not None and channel >= imagenet_top.STAGE_CHANNELS[stage]:
            raise ValueError(f"photo_channel ({channel}) must be below the {imagenet_top.STAGE_CHANNELS[stage]} "
                             f"channels of {imagenet_top.stage_label(stage)}")
        return channel

    @field_validator("model_file")
    @classmethod
    def _model_file_fits(cls, model_file: str | None, info: ValidationInfo) -> str | None:
        dataset = info.data.get("dataset")
        if model_file is not None and dataset is not None:
            if info.data.get("model") != "trained":
                raise ValueError(f"model_file replaces the trained model: choose model 'trained', not "
                                 f"{info.data.get('model')}")
            loaded.check_fits(loaded.load_model_file(model_file), load_data(dataset, seed=0))
        return model_file

    @field_validator("imagenet_features")
    @classmethod
    def _imagenet_features_available(cls, wanted: bool) -> bool:
        reason = imagenet_net.unavailable_reason() if wanted else ""
        if reason:
            raise ValueError(reason)
        return wanted

    @field_validator("kernel")
    @classmethod
    def _odd_kernel(cls, kernel: int) -> int:
        if kernel % 2 == 0:
            raise ValueError(f"kernel ({kernel}) must be odd (3 or 5): a conv keeps the image size only then")
        return kernel

    @field_validator("photo")
    @classmethod
    def _photo_installed(cls, photo: str) -> str:
        reason = photos.unavailable_reason(photo)
        if reason:
            raise ValueError(reason)
        return photo

    # Cross-field checks as field validators (``info.data`` holds the fields declared above), so
    # the message names the field and its value: "window: window (12) must not exceed ...".
    @field_validator("window")
    @classmethod
    def _window_fits(cls, window: int, info: ValidationInfo) -> int:
        dataset = info.data.get("dataset")
        if dataset is not None and window > data_shape(dataset).size:
            raise ValueError(f"window ({window}) must not exceed the {data_shape(dataset).size}-pixel images "
                             f"of {dataset_label(dataset)}")
        return window

    @field_validator("stride", "photo_stride")
    @classmethod
    def _stride_fits(cls, stride: int, info: ValidationInfo) -> int:
        window_field = "window" if info.field_name == "stride" else "photo_window"
        window = info.data.get(window_field)
        if window is not None and stride > window:
            raise ValueError(f"{info.field_name} ({stride}) must not exceed the {window_field} ({window}): pixels "
                             "between windows would never be occluded")
        return stride

    @field_validator("image_index", "embed_points")
    @classmethod
    def _within_test_set(cls, value: int, info: ValidationInfo) -> int:
        dataset = info.data.get("dataset")
        if dataset is None or (info.field_name == "embed_points" and "embeddings" not in info.data.get("parts", [])):
            return value  # the projection's points matter only where it runs (an upload may have few test images)
        n_test = data_shape(dataset).n_test
        is_index = info.field_name == "image_index"
        if value + is_index > n_test:  # an index names one image more than it counts
            relation = "be below" if is_index else "not exceed"
            raise ValueError(f"{info.field_name} ({value}) must {relation} the {n_test} test images of "
                             f"{dataset_label(dataset)}")
        return value

    @field_validator("layer")
    @classmethod
    def _layer_fits(cls, layer: int, info: ValidationInfo) -> int:
        depth = info.data.get("depth")
        if info.data.get("model_file"):
            depth = loaded.conv_count(loaded.load_model_file(info.data["model_file"]))
            if layer > depth:
                raise ValueError(f"layer ({layer}) must be at most the model file's {depth} conv layers")
        if depth is not None and layer > depth:
            raise ValueError(f"layer ({layer}) must be at most the depth ({depth})")
        return layer

    @field_validator("channel")
    @classmethod
    def _channel_fits(cls, channel: int, info: ValidationInfo) -> int:
        d = info.data
        if d.get("model_file") and "layer" in d:
            blocks = conv_blocks(loaded.load_model_file(d["model_file"]).model)
            channels = blocks[d["layer"] - 1].conv.out_channels
            if channel >= channels:
                raise ValueError(f"channel ({channel}) must be below the {channels} channels of the model file's "
                                 f"conv{d['layer']}")
        elif all(k in d for k in ("dataset", "width", "layer")):
            channels = conv_channels(d["dataset"], d["width"], d["layer"])
            if channel >= channels:
                raise ValueError(f"channel ({channel}) must be below the {channels} channels of conv{d['layer']}")
        return channel

    @field_validator("image")
    @classmethod
    def _image_decodes(cls, image: str | None, info: ValidationInfo) -> str | None:
        dataset = info.data.get("dataset")
        if image is not None and dataset is not None:
            shape = data_shape(dataset)
            try:  # decoded here (milliseconds) so a bad file is refused before anything runs
                load_image(image, channels=shape.channels, size=(shape.size, shape.size))
            except UploadError as err:
                raise ValueError(str(err)) from None
        return image

    def train_settings(self) -> TrainSettings:
        return TrainSettings(self.dataset, self.depth, self.width, self.norm, self.epochs, self.lr,
                             self.batch_size, self.seed, self.kernel)

    # ---- the cost: each part's estimate (the run's progress shares too), and their sum ----

    def forward_flops(self) -> float:
        """Flops of one image through the model (2 per multiply-add)."""
        shape = data_shape(self.dataset)
        net = dict(depth=self.depth, width=self.width, kernel=self.kernel)
        if self.model_file:  # the file's network, not the sliders'
            net = {k: loaded.load_model_file(self.model_file).model.settings[k] for k in net}
        return 2 * small_cnn_macs(in_channels=shape.channels, image_size=shape.size, num_classes=shape.classes,
                                  **net)

    def training_seconds(self) -> float:
        shape, forward = data_shape(self.dataset), self.forward_flops()
        if self.model_file:  # nothing trains: one pass over the test split measures the loaded model
            return gflop_seconds(forward * shape.n_test) * SLOWDOWN
        train = 3 * forward * shape.n_train * self.epochs  # forward + backward ~ 3 forwards
        evals = forward * shape.n_test * (2 * self.epochs + 1)
        return gflop_seconds(train + evals) * SLOWDOWN

    def view_seconds(self, view: str) -> float:
        """Estimated seconds of one view; 0 for those that cost a few forwards (filters, feature maps,
        dead filters, top images)."""
        forward = self.forward_flops()
        if view == "occlusion":
            n_pos = ((data_shape(self.dataset).size - self.window) // self.stride + 1) ** 2
            images = MASK_IMAGES * self.models + self.occlusion_images
            return gflop_seconds(forward * n_pos * images) * SLOWDOWN
        if view == "embeddings":
            kinds = 3 if self.imagenet_features else 2
            features = IMAGENET_FEATURE_S * self.embed_points + NETWORK_BUILD_S if self.imagenet_features else 0.0
            return kinds * sum(PROJECTION_S_PER_POINT[m] * self.embed_points for m in self.methods) + features
        if view == "synthesis":
            return gflop_seconds(2 * 3 * forward * self.synth_steps) * SLOWDOWN
        return 0.0

    def replicates_seconds(self) -> float:
        """Training the other seeds' models, where a verdict that needs them is chosen."""
        return self.training_seconds() * (self.models - 1) if self.needs_replicates() else 0.0

    def needs_replicates(self) -> bool:
        views = {"weights", "occlusion"} & set(self.parts)
        return self.model == "trained" and not self.model_file and self.models > 1 and bool(views)

    def photo_windows(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(window, stride) of the coarse map (twice the refined ones, within the image) and of the refined one."""
        coarse = min(2 * self.photo_window, PHOTO_SIZE)
        return (coarse, min(2 * self.photo_stride, coarse)), (self.photo_window, self.photo_stride)

    def photo_positions(self) -> tuple[int, int]:
        """Window positions of the coarse and the refined ImageNet occlusion maps."""
        return tuple(((PHOTO_SIZE - w) // s + 1) ** 2 for w, s in self.photo_windows())

    def imagenet_seconds(self) -> float:
        """Build the network, then per view: top-5 and filters one forward; feature maps one forward;
        occlusion every position plus Grad-CAM (forward + backward) on the network and on one copy
        per randomisation step (a fresh copy ~0.15 s)."""

        views = {"weights": FORWARD_224_S, "activations": FORWARD_224_S, "occlusion": self.photo_occlusion_seconds(),
                 "top_images": self.photo_top_seconds()}
        return NETWORK_BUILD_S + sum(views[v] for v in IMAGENET_VIEWS if v in self.parts)

    def photo_top_seconds(self) -> float:
        """The searched set's forward (0 when it is cached), then a forward and backward per top image."""
        fill = 0.0 if imagenet_top.is_cached(self.top_set, seed=self.seed) else (
            IMAGENET_FEATURE_S * imagenet_top.TOP_IMAGES)
        return fill + TOP_BACKWARD_S * self.top_k

    def photo_occlusion_seconds(self) -> float:
        """Every window position of both maps, plus Grad-CAM (~3 forwards) on the network and on each
        randomisation step's fresh copy (~0.15 s to build)."""
        from cnnbp.lessons.visualise.explain import RANDOMISE_CASCADE

        steps = len(RANDOMISE_CASCADE)
        return FORWARD_224_S * (sum(self.photo_positions()) + 3 * (1 + steps)) + 0.15 * steps

    def cost_seconds(self) -> float:
        if self.model == "resnet18_imagenet":
            return IMAGENET_READ_S
        if self.model == EFFICIENTNET:
            return self.imagenet_seconds()
        return self.training_seconds() + self.replicates_seconds() + sum(self.view_seconds(v) for v in self.parts)
