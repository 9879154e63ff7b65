"""The command line takes the same files as the browser and the API: --data ZIP, --save-models,
and the model command (a checkpoint described, checked against data, its accuracy measured)."""

from __future__ import annotations

import zipfile

from cnnbp.nn.checkpoints import load_checkpoint
from tests.data.test_hostile_uploads import class_folders, make_zip
from tests.pets import pets_archive
from tests.test_cli import cli

NORMS = ["--set", "parts=compare", "--set", "norms=batch,none", "--set", "epochs=1", "--set", "seeds=1",
         "--set", "width=8", "--set", "depth=2"]


def test_run_on_own_data_save_the_models_and_check_them(tmp_path):
    data = tmp_path / "pets.zip"
    data.write_bytes(make_zip(class_folders({"cat": 12, "dog": 12, "fox": 12}, size=(20, 20))))
    out = cli("run", "norms", *NORMS, "--data", str(data), "--save-models", str(tmp_path / "models"))
    assert out.returncode == 0, out.stderr
    assert "your data: 36 images in 3 classes (cat 12, dog 12, fox 12); 36 resized to 32x32" in out.stderr
    assert "wrote 2 trained models" in out.stdout
    model = tmp_path / "models" / "batch_seed_0.pt"
    loaded = load_checkpoint(model)
    assert loaded.classes == ("cat", "dog", "fox") and loaded.trained_on == "pets, batch, seed 0"
    checked = cli("model", str(model), "--data", str(data))
    assert checked.returncode == 0, checked.stderr
    assert ("model: small_cnn (depth 2, width 8, norm batch), input 3x32x32, 3 classes (cat, dog, fox)"
            in checked.stdout)
    assert "test accuracy on pets (seed 0's split, 8 images):" in checked.stdout  # ceil(0.2 x 36) = 8
    wrong = cli("model", str(model), "--dataset", "digits")
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == ("error: the model does not fit digits: the model takes 3-channel images, the data "
                                    "has 1; the model was trained on 32x32 images, the data's are 8x8; the model "
                                    "tells 3 classes apart, the data has 10")


def test_hostile_files_are_one_line_errors(tmp_path):
    evil = tmp_path / "evil.zip"
    evil.write_bytes(make_zip({**class_folders({"cat": 5, "dog": 5}), "../evil.png": b"x"}))
    out = cli("run", "norms", "--data", str(evil))
    assert out.returncode == 2 and out.stderr.startswith("error: the zip holds a path that climbs out")
    assert len(out.stderr.strip().splitlines()) == 1
    out = cli("run", "dropout", "--data", str(evil))
    assert out.returncode == 2 and out.stderr.strip() == "error: lesson 'dropout' takes no --data file"
    fake = tmp_path / "net.pt"
    fake.write_bytes(b"not a model")
    out = cli("model", str(fake))
    assert out.returncode == 2 and out.stderr.startswith("error: not a")
    assert not (tmp_path.parent / "evil.png").exists()
    with zipfile.ZipFile(evil) as z:
        assert "../evil.png" in z.namelist()  # the file was hostile, and nothing was written from it


def test_train_in_imbalance_then_transfer_from_and_look_inside_the_saved_model(tmp_path):
    """imbalance --data --save-models (its default rare class 8 on 3 classes: the last), then the saved
    model as transfer's --model on the same upload as the target, and in visualise."""
    data = tmp_path / "pets.zip"
    data.write_bytes(pets_archive({"cat": 30, "dog": 30, "fox": 30}))
    models = tmp_path / "models"
    out = cli("run", "imbalance", "--data", str(data), "--set", "task=multiclass", "--set", "ratio=5", "--set",
              "methods=none,oversample", "--set", "steps=10", "--set", "seeds=1", "--save-models", str(models))
    assert out.returncode == 0, out.stderr
    assert "wrote 2 trained models" in out.stdout and "fox (2), is the rare one" in out.stderr
    model = models / "oversample_seed_0.pt"
    assert load_checkpoint(model).classes == ("cat", "dog", "fox")

    out = cli("run", "transfer", "--model", str(model), "--data", str(data), "--set", "parts=compare", "--set",
              "strategies=linear_probe,finetune,scratch", "--set", "steps=10", "--set", "images_per_class=5",
              "--set", "seeds=1", "--set", "stage=3", "--set", "freeze_stages=1")
    assert out.returncode == 0, out.stderr
    assert "Frozen your model 'oversample_seed_0.pt' features (stage 3)" in out.stdout
    assert "5 images per class of your upload 'pets'" in out.stdout and "upload-" not in out.stdout + out.stderr

    out = cli("run", "visualise", "--model", str(model), "--data", str(data), "--set", "parts=weights")
    assert out.returncode == 0, out.stderr

    refused = cli("run", "transfer", "--model", str(model), "--data", str(data))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 2  # the data note, the error
    assert refused.stderr.strip().splitlines()[-1].startswith("error: settings: ")
