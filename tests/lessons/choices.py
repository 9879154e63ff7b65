"""What a tab's dropdown offers: for the tests of choices offered only where they can run
(tests/lessons/*/test_*_choice.py; their ``hub`` fixture is in conftest.py)."""

from __future__ import annotations

from cnnbp.ui.widgets import widget_for


def offered(config_cls, name: str) -> list[str]:
    """The values of field ``name``'s dropdown, as the tab builds it."""
    return [value for _, value in widget_for(name, config_cls.model_fields[name]).choices]
