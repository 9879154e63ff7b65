"""Gradio's answers that are the same for every visitor, computed once and then replayed.

The page (GET /), its config (GET /config, also what every gradio_client ``Client`` fetches first)
and the API description (GET /gradio_api/info) depend only on the app, which never changes once
launched, and on the URL the visitor used. Gradio rebuilds them for each request: /config
deep-copies the whole config (906 blocks here, ~1 MB of JSON) and the page renders it into its
HTML, about 0.15 s of CPU each, which 30 students opening the page at once pay 30 times on two
cores. ``ConfigCache`` keeps the first answer's bytes per URL and replays them.

It is an ASGI middleware handed to FastAPI through ``launch(app_kwargs=...)`` (see
``cnnbp.ui.launch_options``): Gradio's routes stay as they are and compute the first answer.
Anything that could make an answer personal passes through untouched: other methods and paths, a
deep link, an app with a login, an answer that sets a cookie or is not a 200.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qs

CACHED_PATHS = ("/", "/config", "/gradio_api/info")
# what Gradio's root URL (written into the config) is computed from: route_utils.get_request_origin
ROOT_HEADERS = (b"host", b"x-forwarded-host", b"x-forwarded-proto", b"x-gradio-server")
HIT_HEADER = (b"x-cnnbp-cache", b"hit")  # on replayed answers: the tests check the cache is used
MAX_ANSWERS = 32  # a few host names times a few pages; odd query strings beyond it are not kept
_LAST_REQUEST = [time.monotonic()]  # when the latest HTTP request came (import time until one does)


def last_request() -> float:
    """time.monotonic() of the server's latest HTTP request: the start-up warm-up waits for quiet."""
    return _LAST_REQUEST[0]


class ConfigCache:
    def __init__(self, app):
        self.app = app
        self.answers: dict[tuple, tuple[dict, bytes]] = {}  # key -> (response start message, body)
        self.computing: dict[tuple, asyncio.Lock] = {}  # a class arriving at once waits for one answer

    async def __call__(self, scope, receive, send):
        _LAST_REQUEST[0] = time.monotonic()  # every request passes here, cached or not
        key = self.key(scope)
        if key is None or (key not in self.answers and len(self.answers) >= MAX_ANSWERS):
            return await self.app(scope, receive, send)
        fresh: list[dict] = []
        if key not in self.answers:
            async with self.computing.setdefault(key, asyncio.Lock()):
                if key not in self.answers:
                    fresh = await self.ask_gradio(scope, receive)
                    if not self.remember(key, fresh):
                        self.computing.pop(key, None)
        # sent outside the lock: a slow reader holds up nobody
        if fresh:  # Gradio's own answer, as it came
            for message in fresh:
                await send(message)
            return
        start, body = self.answers[key]
        await send({**start, "headers": [*start["headers"], HIT_HEADER]})
        await send({"type": "http.response.body", "body": body})

    async def ask_gradio(self, scope, receive) -> list[dict]:
        parts: list[dict] = []

        async def keep(message):
            parts.append(message)

        await self.app(scope, receive, keep)
        return parts

    @staticmethod
    def key(scope) -> tuple | None:
        """What the answer depends on, or None where it must not be cached."""
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in CACHED_PATHS:
            return None
        app = scope.get("app")
        if app is None or getattr(app, "auth", None) is not None or getattr(app, "auth_dependency", None):
            return None  # a login makes the config personal (its username)
        if "deep_link" in parse_qs(scope["query_string"].decode("latin-1")):
            return None  # a deep link carries one visitor's component values
        headers = tuple((name, value) for name, value in scope["headers"] if name in ROOT_HEADERS)
        return scope["path"], scope["query_string"], scope.get("scheme"), scope.get("root_path"), headers

    def remember(self, key: tuple, parts: list[dict]) -> bool:
        """Keep a complete 200 answer that sets no cookie; False if it was not kept."""
        if not parts or parts[0]["type"] != "http.response.start" or parts[0]["status"] != 200:
            return False
        start, bodies = parts[0], parts[1:]
        if any(name.lower() == b"set-cookie" for name, _ in start.get("headers", [])):
            return False
        if not bodies or bodies[-1].get("more_body", False):
            return False  # the answer did not complete
        self.answers[key] = start, b"".join(part.get("body", b"") for part in bodies)
        return True
