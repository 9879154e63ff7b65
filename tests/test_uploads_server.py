"""The class's own data and models through the API: a zip in (/upload_data), a lesson trained on it,
its models out (/norms_models); hostile zips refused in one line while another client is served;
an upload never visible to another session."""

from __future__ import annotations

import html
import io
import zipfile
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file

from cnnbp.data import session as session_sets
from cnnbp.lessons import LESSONS
from cnnbp.nn.checkpoints import load_checkpoint
from tests.data.test_hostile_uploads import class_folders, make_zip
from tests.test_server import defaults, positional

NORMS = {"parts": ["compare"], "norms": ["batch", "none"], "epochs": 1, "seeds": 1, "width": 8, "depth": 2}


def norms_args(**values) -> list:
    lesson = LESSONS["norms"]
    return positional(lesson, {**defaults(lesson), **NORMS, **values})


@pytest.fixture
def pets_zip(tmp_path) -> Path:
    path = tmp_path / "pets.zip"
    path.write_bytes(make_zip(class_folders({"cat": 12, "dog": 12, "fox": 12}, size=(20, 20))))
    return path


def test_upload_train_and_download_through_the_api(client, server_url, pets_zip, tmp_path):
    name = client.predict(handle_file(str(pets_zip)), api_name="/upload_data")
    assert session_sets.is_session_name(name)
    assert name not in httpx.get(server_url + "config").text  # the page of any other session never lists it
    outputs = client.predict(*norms_args(dataset=name), api_name="/norms")
    status, numbers = outputs[0], outputs[-1]
    assert status.startswith("**100%**"), status
    assert set(numbers["compare"]["runs"]) == {"batch, seed 0", "none, seed 0"}
    archive = client.predict(*norms_args(dataset=name), api_name="/norms_models")
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == ["batch_seed_0.pt", "none_seed_0.pt"]
        loaded = load_checkpoint(z.read("batch_seed_0.pt"))
    assert loaded.classes == ("cat", "dog", "fox") and (loaded.channels, loaded.size) == (3, 32)
    assert loaded.trained_on == "pets, batch, seed 0"
    session_sets.forget(name)
    with pytest.raises(Exception, match="no uploaded set of this session has that name"):
        client.predict(*norms_args(dataset=name), api_name="/norms")


def test_a_hostile_zip_is_refused_in_one_line_and_another_client_is_served(client, server_url, tmp_path):
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(make_zip({**class_folders({"cat": 5, "dog": 5}), "cat/bomb.png": bytes(1_900_000)}))
    traversal = tmp_path / "evil.zip"
    traversal.write_bytes(make_zip({**class_folders({"cat": 5, "dog": 5}), "../../evil.png": b"x"}))
    for path, message in ((bomb, "a zip bomb"), (traversal, "climbs out of its folder")):
        with pytest.raises(Exception, match=message) as err:
            client.predict(handle_file(str(path)), api_name="/upload_data")
        assert str(tmp_path) not in str(err.value)
    other = Client(server_url, verbose=False)
    assert other.predict(api_name="/norms_stop") == "nothing is running"
    status = other.predict(*norms_args(dataset="digits"), api_name="/norms")[0]
    assert status.startswith("**100%**")


def test_a_made_up_upload_name_is_refused(client):
    with pytest.raises(Exception, match="unknown dataset 'upload-0123456789abcdef0123'"):
        client.predict(*norms_args(dataset="upload-0123456789abcdef0123"), api_name="/norms")
    with pytest.raises(Exception, match="no trained models are kept for these settings"):
        client.predict(*norms_args(seed=12345), api_name="/norms_models")


def test_the_zip_is_read_in_memory(client, pets_zip):
    buf = io.BytesIO(pets_zip.read_bytes())
    assert zipfile.is_zipfile(buf)  # the API copes with the same file the CLI reads (see test_cli_uploads.py)


def test_imbalance_models_out_and_one_in_as_the_transfer_source(client, pets_zip, tmp_path):
    """/imbalance_models gives the models an imbalance run kept (its default rare class 8: the upload's
    last); one goes back in as /transfer's model_file, with the upload as the target."""
    name = client.predict(handle_file(str(pets_zip)), api_name="/upload_data")
    imbalance = LESSONS["imbalance"]
    values = {**defaults(imbalance), "dataset": name, "task": "multiclass", "ratio": 2.0,
              "methods": ["none", "oversample"], "steps": 10, "seeds": 1}
    status = client.predict(*positional(imbalance, values), api_name="/imbalance")[0]
    assert status.startswith("**100%**"), status
    archive = client.predict(*positional(imbalance, {**values, "threshold": 0.3}), api_name="/imbalance_models")
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == ["none_seed_0.pt", "oversample_seed_0.pt"]
        model = tmp_path / "oversample_seed_0.pt"
        model.write_bytes(z.read("oversample_seed_0.pt"))
    assert load_checkpoint(model).classes == ("cat", "dog", "fox")

    transfer = LESSONS["transfer"]
    settings = {**defaults(transfer), "target": name, "model_file": handle_file(str(model)), "parts": ["compare"],
                "strategies": ["linear_probe", "finetune", "scratch"], "images_per_class": 5, "steps": 10,
                "stage": 3, "freeze_stages": 1}
    outputs = client.predict(*positional(transfer, settings), api_name="/transfer")
    assert outputs[0].startswith("**100%**"), outputs[0]
    texts = html.unescape(outputs[1])  # the verdicts' HTML
    assert "Frozen your model 'oversample_seed_0.pt' features (stage 3)" in texts
    assert "your upload 'pets'" in texts and name not in texts and str(tmp_path) not in texts
    with pytest.raises(Exception) as err:  # forgetting needs the source's own test images: one line, no path
        client.predict(*positional(transfer, {**settings, "parts": ["compare", "forgetting"]}), api_name="/transfer")
    assert "forgetting needs the source's own test set" in str(err.value) and "/tmp" not in str(err.value)
    session_sets.forget(name)
