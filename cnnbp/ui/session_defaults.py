"""A new visitor's session state, copied from one computed per app instead of rebuilt.

The first event of each session (a page's first Run, each gradio_client ``Client``'s first call)
makes Gradio build a ``SessionState``, and its constructor computes the config of every block of
the app (906 here: ``get_config``, ``inspect.signature``, a pydantic JSON schema per file widget),
about 0.3 s of CPU, half of what a new client costs the server. Those configs are the app's
defaults, the same for every session; Gradio reads them only for deep links and writes a
component's new value into its entry.

``share_session_defaults(demo)`` makes the demo's sessions start from one set of defaults computed
by Gradio's own constructor for the first session: each later session gets its own copy of every
entry and of its ``props`` (where Gradio writes values), so sessions stay apart. Gradio finds the
class by its module name, ``gradio.state_holder.SessionState``; that is the one name replaced
here, by a subclass that behaves as Gradio's for every other demo.
A Gradio whose ``SessionState`` has other fields gets its own constructor back (nothing unknown is
shared), and tests/test_config_cache.py fails on it: the copies must equal what Gradio computes.
"""

from __future__ import annotations

from copy import copy

import gradio.state_holder as state_holder
from gradio.components import State

GradioSessionState = state_holder.SessionState
# the fields of Gradio 6.31's SessionState; each is set below, for every session
FIELDS = frozenset({"blocks_config", "config_values", "state_data", "_state_ttl", "is_closed",
                    "STATE_TTL_WHEN_CLOSED"})
DEFAULTS = "_cnnbp_session_defaults"  # the demo's attribute: None until the first session, then its state


class SessionState(GradioSessionState):
    def __init__(self, blocks):
        self._stale: set[int] | None = None  # None: Gradio's own behaviour throughout
        if not hasattr(blocks, DEFAULTS):  # a demo that did not ask for it: Gradio's own
            super().__init__(blocks)
            return
        first = getattr(blocks, DEFAULTS)
        if first is None or first.blocks_config.blocks.keys() != blocks.default_config.blocks.keys():
            first = GradioSessionState(blocks)  # the first session, or the app's blocks changed
            setattr(blocks, DEFAULTS, first)
        if set(vars(first)) != FIELDS:  # another Gradio: its new fields must not be shared
            super().__init__(blocks)
            return
        self.__dict__.update(first.__dict__)  # is_closed, STATE_TTL_WHEN_CLOSED: plain values
        self.blocks_config = copy(blocks.default_config)  # as Gradio does: a session's own dict of blocks
        self.config_values = {key: own_entry(entry) for key, entry in first.config_values.items()}
        self.state_data = {}
        self._state_ttl = {}
        self._stale = set()

    # Gradio answers every output of every message, gr.skip() included, with a new component and its
    # config computed twice (``__setitem__`` and ``_update_config``: about 1 ms per output, per message,
    # per client: 13 of a class's 27 CPU seconds when 30 clients follow one run). Nothing reads those
    # configs while a run streams (deep links and a written value do), so a session computes a block's
    # config when it is read, from the block as it is then: the same config Gradio's would hold.
    def __setitem__(self, key: int, value) -> None:
        block = self.blocks_config.blocks.get(key)
        if self._stale is None or block is None or isinstance(block, State):
            super().__setitem__(key, value)
            return
        self.blocks_config.blocks[key] = value
        self._stale.add(key)

    def _update_config(self, key: int) -> None:
        if self._stale is None:
            super()._update_config(key)
        elif self[key] is not None:
            self._stale.add(key)

    def _update_value_in_config(self, key: int, value) -> None:
        self._refresh(key)
        super()._update_value_in_config(key, value)

    @property
    def components(self):
        for key in list(self._stale or ()):
            self._refresh(key)
        return GradioSessionState.components.fget(self)

    def _refresh(self, key: int) -> None:
        if self._stale and key in self._stale:
            self._stale.discard(key)
            self.config_values[key] = self.blocks_config.config_for_block(key, [], self.blocks_config.blocks[key])


def own_entry(entry: dict) -> dict:
    """A copy of one block's config that Gradio can write a value into (``props["value"]``) without
    touching the shared one. Deeper objects are shared: Gradio replaces them, never edits them."""
    if "props" not in entry:
        return dict(entry)
    return {**entry, "props": dict(entry["props"])}


def compute_session_defaults(demo) -> None:
    """The first session's defaults computed now (Gradio's constructor, ~0.24 s of CPU) instead of at the
    first visitor's event, where it held Gradio's event loop while a class was joining: app.py calls it
    before the server listens. Only for a demo that shares its defaults and has none yet."""
    if hasattr(demo, DEFAULTS) and getattr(demo, DEFAULTS) is None:
        SessionState(demo)


def share_session_defaults(demo) -> None:
    """Give the demo's new sessions copies of one session's defaults (see the module's text)."""
    setattr(demo, DEFAULTS, None)
    state_holder.SessionState = SessionState
