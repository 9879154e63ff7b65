"""What each of the page's events sends back, read from the app's Blocks config (what the page gets).

Gradio's page re-renders the loading state of every output any server event ever had, at every
message of every later run: an event with every tab's widgets as outputs (~350) stalled the page
while a lecture stepped. So no server event outputs the widgets of more than one tab.
"""

import pytest

from cnnbp.lessons import LESSONS

STEPS = ("lecture-start", "lecture-prev", "lecture-next", "lecture-open-room", "link-opener", "lecture-upload")


@pytest.fixture(scope="module")
def config():
    import app

    return app.demo.config


def by_elem_id(config) -> dict:
    return {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}


def tab_widgets(config) -> dict[str, set[int]]:
    """Each lesson tab's widgets: the inputs of its Run event (the API endpoint named after it)."""
    return {d["api_name"]: set(d["inputs"]) for d in config["dependencies"] if d["api_name"] in LESSONS}


def server_events(config, elem_id: str) -> list[dict]:
    """The events with a Python function that the component ``elem_id`` triggers."""
    names = by_elem_id(config)
    return [d for d in config["dependencies"] if d["backend_fn"]
            and any(names.get(target) == elem_id for target, _ in d["targets"])]


def test_no_server_event_outputs_the_widgets_of_two_tabs(config):
    widgets = tab_widgets(config)
    assert set(widgets) == set(LESSONS)
    for d in config["dependencies"]:
        if d["backend_fn"]:
            touched = [lesson for lesson, ids in widgets.items() if ids & set(d["outputs"])]
            assert len(touched) <= 1, (d["id"], d["api_name"], touched, len(d["outputs"]))


def test_a_playlist_step_outputs_the_bar_then_its_tab_opens_its_own_widgets(config):
    widgets = tab_widgets(config)
    every_widget = set().union(*widgets.values())
    followers = {d["trigger_after"]: d for d in config["dependencies"] if d["trigger_after"] is not None}
    for elem_id in STEPS:
        (step,) = server_events(config, elem_id)
        assert len(step["outputs"]) <= 12 and not every_widget & set(step["outputs"]), elem_id
        then = followers[step["id"]]  # the page presses the opened tab's opener: no server call of its own
        assert not then["backend_fn"] and "-opener" in then["js"], elem_id
    for lesson, ids in widgets.items():
        (opener,) = server_events(config, f"{lesson}-opener")
        status = by_elem_id(config)
        outputs = set(opener["outputs"])
        assert ids <= outputs and len(outputs - ids) == 1, lesson  # its widgets and its status line
        assert status[next(iter(outputs - ids))] == f"{lesson}-status"
        assert opener["queue"] is False and opener["api_visibility"] == "private"
