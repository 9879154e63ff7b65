"""The "Quick settings" button: every widget to the lesson's quick settings over its defaults."""

import pytest

from cnnbp.lessons import LESSONS
from cnnbp.lessons.base import validate_config
from cnnbp.ui.lesson_tab import quick_values
from cnnbp.ui.widgets import field_order


@pytest.mark.parametrize("name", list(LESSONS))
def test_quick_button_values_are_the_quick_config(name):
    lesson = LESSONS[name]
    names = field_order(lesson.config)
    values = dict(zip(names, quick_values(lesson, names)))
    assert set(lesson.quick) <= set(names), "a quick setting has no widget"
    # What the page sends after the button is exactly the Config the tests run as "quick".
    assert validate_config(lesson.config, values) == validate_config(lesson.config, lesson.quick)
    untouched = [n for n in names if n not in lesson.quick]
    assert all(values[n] == lesson.config.model_fields[n].default for n in untouched)


@pytest.mark.parametrize("name", list(LESSONS))
def test_quick_settings_are_cheaper_than_the_defaults(name):
    lesson = LESSONS[name]
    quick, default = validate_config(lesson.config, lesson.quick), validate_config(lesson.config)
    assert quick.cost_seconds() <= default.cost_seconds()
