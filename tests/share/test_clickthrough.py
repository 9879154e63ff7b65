"""A confusion cell's images: as many as the figure's count, each of the row's true class and
predicted as the column by the lesson's rule."""

import numpy as np
import pytest

from cnnbp.clickthrough import cell_images, cell_indices
from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import merge_frames, validate_config
from cnnbp.lessons.imbalance.training import PREDICTIONS, build
from cnnbp.train import RunControl

LESSON = LESSONS["imbalance"]


@pytest.fixture(scope="module")
def run():
    cfg = validate_config(LESSON.config, {**LESSON.quick, "seed": 11})
    return cfg, merge_frames(LESSON.run(cfg, RunControl()))


def test_every_cell_holds_the_count_the_figure_shows(run):
    cfg, final = run
    shown = final.numbers["over_seeds"]["test_set"]
    classes = [str(c) for c in final.numbers["classes"]]
    confusion = final.figures["confusion"]
    for trace in confusion.data:  # one heatmap per model, its counts in customdata
        for t, row in enumerate(trace.customdata):
            for p, count in enumerate(row):
                _, idx = cell_indices(cfg, trace.name, classes[t], classes[p])
                assert len(idx) == count, (trace.name, t, p)
    y = build(cfg, cfg.seed).tests[shown][1].numpy()
    _, idx = cell_indices(cfg, confusion.data[1].name, classes[1], classes[0])
    assert np.all(y[idx] == 1)


def test_cell_images_are_the_test_images(run):
    cfg, final = run
    name = final.figures["confusion"].data[1].name
    classes = [str(c) for c in final.numbers["classes"]]
    caption, images = cell_images(cfg, name, classes[0], classes[0], limit=5)
    assert len(images) == 5 and images[0].dtype == np.uint8 and images[0].max() == 255
    assert caption.startswith(f"{name}: true {classes[0]}, predicted {classes[0]}")


def test_refusals(run):
    cfg, final = run
    with pytest.raises(ValueError, match="no confusion cell"):
        cell_indices(cfg, "nonsense", "0", "0")
    other = cfg.model_copy(update={"seed": 12})
    PREDICTIONS.get(other.run_key(12))  # nothing kept for that seed
    with pytest.raises(ValueError, match="run the lesson on these settings first"):
        cell_indices(other, final.figures["confusion"].data[0].name, "0", "0")


def test_an_embedding_point_is_the_test_image_its_index_names():
    from cnnbp.clickthrough import embedding_image
    from cnnbp.lessons.visualise.model import load_data

    lesson = LESSONS["visualise"]
    cfg = validate_config(lesson.config, {**lesson.quick, "parts": ["embeddings"], "methods": ["pca"], "seed": 3})
    final = merge_frames(lesson.run(cfg, RunControl()))
    data = load_data(cfg.dataset, seed=cfg.seed)
    for p in final.numbers["embeddings"]["projections"]:  # every point's label is its test image's
        assert list(data.y_test[p["index"]].numpy()) == list(p["labels"])
    index = final.numbers["embeddings"]["projections"][0]["index"][7]
    caption, image = embedding_image(cfg, index)
    x = data.x_test[index].mean(dim=0).numpy()
    assert caption == f"test image #{index}, class {data.classes[int(data.y_test[index])]}"
    assert np.corrcoef(image.astype(float).ravel(), x.ravel())[0, 1] > 0.999  # the same picture, stretched
    with pytest.raises(ValueError, match="no test image #99999"):
        embedding_image(cfg, 99999)
