"""The command line takes the same files as the browser and the API: --data ZIP, --save-models,
and the model command (a checkpoint described, checked against data, its accuracy measured)."""

from __future__ import annotations

import zipfile

from cnnbp.nn.checkpoints import load_checkpoint
from tests.data.test_hostile_uploads import class_folders, make_zip
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
