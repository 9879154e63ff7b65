"""Share a tab, step through a lecture, guess before the reveal, take the run home.

Two hooks: :func:`add_to_tab` inside each lesson tab (a "Share" accordion: link, preset file,
take-home zip) and :func:`add_to_app` once after the tabs (the lecture playlists, rooms, the bar
that steps through a playlist, and the page load that reads a link's query). The logic lives in
``cnnbp.presets`` (links, presets, playlists, questions), ``cnnbp.replays``, ``cnnbp.rooms`` and
``cnnbp.export``; this module only wires it to components.

Links: ``?lesson=init&width=512&seed=3`` opens a tab on those settings; ``?playlist=NAME&step=3``
opens a lecture at a step; ``&room=CODE`` joins a room (``&presenter=1``: its presenter view).
"""

from __future__ import annotations

import json
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import gradio as gr

from cnnbp import replays
from cnnbp.cache import BoundedCache
from cnnbp.export import export_zip
from cnnbp.lessons.base import ConfigError, Lesson, LessonConfig, validate_config
from cnnbp.presets import (
    Playlist,
    Preset,
    make_preset,
    measured_answer,
    read_playlist,
    read_preset,
    read_query,
    settings_of,
    shipped_playlists,
    to_query,
    unreadable_playlists,
    upload_names,
)
from cnnbp.rooms import ROOMS, normalise
from cnnbp.ui.cache import RESULTS
from cnnbp.ui.settings_input import SettingsInput

CSS = """
.lecture-bar { position: fixed; bottom: 0; left: 0; right: 0; z-index: 40; margin: 0 !important;
  background: var(--background-fill-primary); border-top: 4px solid #0072b2; padding: 4px 12px;
  box-shadow: 0 -2px 8px rgba(0,0,0,.15); }
.lecture-bar .step-text { font-size: 18px; }
.lecture-bar .step-text p { margin: 0; }
#lecture-tally ul { margin: 0; padding-left: 1em; } #lecture-tally li { margin: 0; white-space: nowrap; }
.share-box button { min-width: 0; }
.cnnbp-hidden { display: none !important; }
.cnnbp-guessing .verdicts { visibility: hidden; }
/* room to scroll the page's end above the bar while it shows */
body:has(#lecture-bar) .gradio-container { padding-bottom: 240px !important; }
"""
HIDE_VERDICTS = "hide"  # the guard's value while a guess waits for its run: the verdicts stay hidden
GUARD_JS = "(g) => { document.body.classList.toggle('cnnbp-guessing', g === 'hide'); }"

# PageDown/PageUp (what a presentation clicker sends) and Alt+Right/Left step the playlist; never
# while typing into a field.
KEYS_JS = """
() => {
  document.addEventListener('keydown', (e) => {
    const t = e.target, typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
    if (typing) return;
    let id = null;
    if (e.key === 'PageDown' || (e.altKey && e.key === 'ArrowRight')) id = 'lecture-next';
    if (e.key === 'PageUp' || (e.altKey && e.key === 'ArrowLeft')) id = 'lecture-prev';
    const b = id && document.getElementById(id);
    if (b && b.offsetParent !== null) { e.preventDefault(); b.click(); }
  });
}
"""
# Click-through: plotly's click on a confusion matrix or an embedding (their divs are re-made with
# each new figure, so look again every second) writes the point into the tab's hidden box, whose
# change asks the server for the images.
CLICK_JS = """
() => {
  setInterval(() => {
    document.querySelectorAll('[id$="-plot-confusion"] .js-plotly-plot, [id$="-plot-embeddings"] .js-plotly-plot')
      .forEach((plot) => {
        if (plot.dataset.cnnbpClick || typeof plot.on !== 'function') return;
        plot.dataset.cnnbpClick = '1';
        plot.on('plotly_click', (ev) => {
          const pt = ev.points[0], lesson = plot.closest('[id*="-plot-"]').id.split('-plot-')[0];
          const box = document.querySelector('#' + lesson + '-click textarea');
          if (!box || !pt) return;
          box.value = JSON.stringify({model: pt.data.name, true: String(pt.y), predicted: String(pt.x),
                                      index: pt.customdata, at: Date.now()});
          box.dispatchEvent(new Event('input', {bubbles: true}));
        });
      });
  }, 1000);
}
"""
# A page opened from a link (a lesson's settings or a playlist step) presses the hidden link button
# once it is on the page; a plain visit sends nothing.
OPEN_LINK_JS = """
() => {
  const q = new URLSearchParams(window.location.search);
  if (!q.has('lesson') && !q.has('playlist')) return;
  const press = (tries) => {
    const b = document.getElementById('link-opener');
    if (b) b.click(); else if (tries > 0) setTimeout(() => press(tries - 1), 100);
  };
  press(100);
}
"""
URL_QUERY_JS = "() => window.location.search"
# A step or a link names the tab it opens in a hidden box; this presses that tab's own opener
# (which sets its widgets and status line) and empties the box.
PRESS_OPENER_JS = """
(lesson) => { if (lesson) document.getElementById(lesson + '-opener')?.click(); return ''; }
"""
# After "Run live" dropped the replay: press the Run button of the tab on screen.
CLICK_RUN_JS = """
() => { const b = [...document.querySelectorAll('button[id$="-run"]')].find((x) => x.offsetParent !== null);
        if (b) b.click(); }
"""


@dataclass
class TabShare:
    """One tab's widgets and the components this module writes to."""

    lesson: Lesson
    names: list[str]
    widgets: list[gr.components.Component]
    status: gr.components.Component
    numbers: gr.components.Component | None = None  # the tab's numbers (its change ends a run)
    settings: SettingsInput | None = None  # the widgets as the page's events take them (cnnbp.ui.settings_input)

    def with_numbers(self, numbers: gr.components.Component) -> TabShare:
        return replace(self, numbers=numbers)

    def cfg(self, values: list) -> LessonConfig:
        """The tab's settings as a Config, or a one-line gr.Error."""
        try:
            return validate_config(self.lesson.config, dict(zip(self.names, values)))
        except ConfigError as err:
            raise gr.Error(str(err), print_exception=False) from None

    def page_cfg(self, inputs: tuple) -> LessonConfig:
        """The tab's settings from a page event's inputs (``settings.inputs``), or a one-line gr.Error."""
        try:
            values = self.settings.values(*inputs)
        except ConfigError as err:
            raise gr.Error(str(err), print_exception=False) from None
        return self.cfg(values)

    def values(self, cfg: LessonConfig) -> list:
        """Widget values that show ``cfg`` (upload boxes left as they are)."""
        settings, uploads = settings_of(self.lesson.name, cfg), upload_names(self.lesson.config)
        return [gr.skip() if n in uploads else
                str(settings[n]) if isinstance(w, gr.Textbox) else settings[n]
                for n, w in zip(self.names, self.widgets)]


def page_url(request: gr.Request | None) -> str:
    """The page's address without its query (from the browser's Referer/Origin), for a link."""
    headers = dict(getattr(request, "headers", {}) or {}) if request is not None else {}
    for source in (headers.get("referer"), headers.get("origin")):
        if source:
            parts = urlsplit(source)
            return f"{parts.scheme}://{parts.netloc}{parts.path if source == headers.get('referer') else '/'}"
    return "/"


def temp_file(name: str, text: str) -> str:
    path = Path(tempfile.mkdtemp(prefix="cnnbp-share-")) / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def finished_run(lesson: str, cfg: LessonConfig):
    """The finished run of exactly these settings: run here (the result cache) or shipped recorded."""
    return RESULTS.get(lesson, cfg) or replays.find(lesson, cfg)


def add_to_tab(lesson: Lesson, widgets: dict[str, gr.components.Component], status) -> TabShare:
    """The tab's Share accordion: a link to these settings, the preset as a file (save, open), the
    take-home zip of the finished run on these settings."""
    tab = TabShare(lesson, list(widgets), list(widgets.values()), status,
                   settings=SettingsInput(lesson.name, widgets, upload_names(lesson.config)))
    name = lesson.name
    with gr.Accordion("Share, preset, take-home", open=False, elem_classes=["share-box"], elem_id=f"{name}-share"):
        link_button = gr.Button("Link to these settings", size="sm", elem_id=f"{name}-link-button")
        link = gr.Textbox(label="Link", buttons=["copy"], interactive=False, elem_id=f"{name}-link")
        with gr.Row():
            save = gr.Button("Save preset", size="sm", elem_id=f"{name}-save-preset")
            load = gr.UploadButton("Open preset", file_types=[".json"], size="sm", elem_id=f"{name}-open-preset")
        take_home = gr.Button("Take-home (zip): report, tables, numbers, script", size="sm",
                              elem_id=f"{name}-export")
        download = gr.File(label="Download", interactive=False, elem_id=f"{name}-download")

    def make_link(request: gr.Request, *inputs):  # gradio passes the request where it is declared
        return f"{page_url(request)}?{to_query(name, tab.page_cfg(inputs))}"

    def save_preset(*inputs):
        cfg = tab.page_cfg(inputs)
        return temp_file(f"cnnbp-{name}-seed{cfg.seed}.json", json.dumps(make_preset(name, cfg), indent=2))

    def open_preset(file):
        try:
            preset = read_preset(Path(file).read_bytes())
        except ValueError as err:
            raise gr.Error(f"preset not opened: {err}", print_exception=False) from None
        if preset.lesson != name:
            raise gr.Error(f"this preset is for the {preset.lesson!r} tab, not {name!r}", print_exception=False)
        return [*tab.values(preset.cfg), f"Opened preset {Path(file).name}. Press **Run**."]

    def export(*inputs):
        cfg = tab.page_cfg(inputs)
        frame = finished_run(name, cfg)
        if frame is None:
            raise gr.Error("run these settings to the end first: the take-home is of a finished run",
                           print_exception=False)
        return str(export_zip(name, cfg, frame))

    private = {"api_visibility": "private", "queue": False}
    if name in ("imbalance", "visualise"):
        add_click_through(tab)
    tab.settings.on([link_button.click], make_link, outputs=[link], **private)
    tab.settings.on([save.click], save_preset, outputs=[download], **private)
    load.upload(open_preset, inputs=[load], outputs=[*tab.widgets, status], **private)
    tab.settings.on([take_home.click], export, outputs=[download], api_visibility="private")
    return tab


def add_click_through(tab: TabShare) -> None:
    """A clicked confusion cell (imbalance) or embedding point (visualise) -> its test images."""
    from cnnbp.clickthrough import cell_images, embedding_image

    name = tab.lesson.name
    box = gr.Textbox(elem_id=f"{name}-click", elem_classes=["cnnbp-hidden"], show_label=False, container=False)
    what = "a cell of a confusion matrix" if name == "imbalance" else "a point of an embedding"
    gallery = gr.Gallery(label=f"Click {what}: its test images", columns=4, height=240,
                         elem_id=f"{name}-cell-images", interactive=False)

    def show(raw, *values):
        try:
            point, cfg = json.loads(raw), tab.cfg(list(values))
            if name == "imbalance":
                caption, images = cell_images(cfg, str(point["model"]), str(point["true"]), str(point["predicted"]))
            else:
                caption, image = embedding_image(cfg, int(point["index"]))
                images = [image]
        except (ValueError, KeyError, TypeError) as err:
            raise gr.Error(str(err), print_exception=False) from None
        return gr.Gallery(value=images, label=caption)

    # change, not input: the page sets the box's value itself (a click stamps it, so each one is new)
    box.change(show, inputs=[box, *tab.widgets], outputs=[gallery], api_visibility="private")


@dataclass(frozen=True)
class Opening:
    """What a playlist step or a link sets in one tab: its settings (None: as they are) and its
    status line."""

    lesson: str
    cfg: LessonConfig | None
    status: str


@dataclass
class Session:
    """One page's place in a lecture, and what the tab it opened last is to show."""

    playlist: Playlist | None = None
    step: int = 0  # 0-based
    room: str | None = None
    presenter: bool = False
    guesses: dict[int, str] = field(default_factory=dict)  # step -> this page's guess
    answers: dict[int, str | None] = field(default_factory=dict)  # step -> the measured answer, once revealed
    opening: Opening | None = None

    @property
    def preset(self) -> Preset | None:
        return self.playlist.steps[self.step] if self.playlist else None

    def question_key(self) -> str:
        return f"{self.playlist.name}:{self.step}" if self.playlist else ""

    def query(self, *, presenter: bool = False) -> str:
        pairs = [("playlist", self.playlist.name), ("step", self.step + 1)]
        if self.room:
            pairs.append(("room", self.room))
        if presenter:
            pairs.append(("presenter", 1))
        return urlencode(pairs)


def tally_markdown(counts: dict[str, int], answer: str | None = None) -> str:
    """The class's guesses as text bars (readable on a projector, no plot to render)."""
    total = sum(counts.values())
    if not total:
        return "No guesses yet."
    rows = [f"- {choice}: {n} ({n / total:.0%}) {'█' * round(10 * n / total)}"
            + (" ← measured" if choice == answer else "") for choice, n in counts.items()]
    return f"**The class's guesses** ({total}):\n\n" + "\n".join(rows)


# Each page's Session, kept here rather than in a gr.State (a State makes every page hold a
# heartbeat connection open); bounded: a page unseen for 4,096 newer ones starts afresh.
SESSIONS: BoundedCache[Session] = BoundedCache(4096)


STEPPING = threading.Lock()  # one step at a time: a step reads the page's session and writes it back


def session_of(request: gr.Request) -> Session:
    return SESSIONS.get(request.session_hash) or Session()


def add_to_app(demo: gr.Blocks, tabs: gr.Tabs, shares: list[TabShare]) -> None:
    """The lecture panel (below the tabs), the step bar (fixed at the bottom while a playlist
    plays), and the page load that reads a link."""
    by_lesson = {tab.lesson.name: tab for tab in shares}
    playlists = shipped_playlists()
    with gr.Accordion("Lecture: playlists, rooms, predict then reveal", open=False, elem_id="lecture-panel"):
        gr.Markdown("A playlist walks a lecture over the tabs, one preset per step (Next/Previous, or "
                    "PageDown/PageUp). Open a room and give its link to the class: every device sends a "
                    "guess before the run, you see the distribution beside the measured answer."
                    + "".join(f"\n\n*Not offered here:* {line}" for line in unreadable_playlists().values()))
        with gr.Row():
            choose = gr.Dropdown([(p.title, n) for n, p in playlists.items()], label="Playlist",
                                 value=next(iter(playlists), None), elem_id="lecture-choose", scale=3)
            start = gr.Button("Start", variant="primary", elem_id="lecture-start", scale=1)
            upload = gr.UploadButton("Open a playlist file", file_types=[".json"], elem_id="lecture-upload",
                                     scale=1)
        with gr.Row():
            open_room = gr.Button("Open a room for this class", elem_id="lecture-open-room")
            room_link = gr.Textbox(label="Students' link", buttons=["copy"], interactive=False,
                                   elem_id="lecture-room-link")
    with gr.Column(visible=False, elem_classes=["lecture-bar"], elem_id="lecture-bar") as bar:
        with gr.Row(equal_height=True):
            prev = gr.Button("◀ Previous", size="sm", elem_id="lecture-prev", scale=0, min_width=110)
            step_text = gr.Markdown(elem_classes=["step-text"], elem_id="lecture-step")
            nxt = gr.Button("Next ▶", size="sm", elem_id="lecture-next", scale=0, min_width=90)
            run_live = gr.Button("Run live", size="sm", elem_id="lecture-run-live", scale=0, min_width=90)
        with gr.Row(visible=False) as question_row:
            choices = gr.Radio([], label="Your guess", elem_id="lecture-choices", scale=4)
            lock = gr.Button("Lock in my guess", size="sm", variant="primary", elem_id="lecture-lock", scale=1,
                             min_width=120)
            reveal = gr.Markdown(elem_id="lecture-reveal")
            tally = gr.Markdown(elem_id="lecture-tally", min_height=0)
        guard = gr.Textbox("", visible=False, elem_id="lecture-guard")
    timer = gr.Timer(2.0, active=False)
    # A link (?lesson=... or ?playlist=...) is opened by this hidden button, which the page clicks only
    # when its URL asks for one.
    link_query = gr.Textbox(visible=False)
    open_link = gr.Button("open link", elem_id="link-opener", elem_classes=["cnnbp-hidden"])
    # A step or a link changes the bar and selects a tab, then names that tab here; the page then
    # presses the tab's own hidden opener, whose event outputs that tab's widgets only. Gradio's page
    # re-renders the loading state of every output an event ever had at every message of every later
    # run: one event with every tab's widgets (~350) as outputs stalled the page while a lecture ran.
    opened = gr.Textbox(visible=False)
    openers = {tab.lesson.name: gr.Button("open", elem_id=f"{tab.lesson.name}-opener",
                                          elem_classes=["cnnbp-hidden"]) for tab in shares}
    step_outputs = [tabs, bar, step_text, question_row, choices, reveal, tally, guard, timer, room_link, opened]

    def open_in_tab(s: Session, opening: Opening, request: gr.Request) -> dict:
        """Keep ``s`` as the page's session with ``opening`` for its tab's opener; select the tab."""
        SESSIONS.put(request.session_hash, replace(s, opening=opening))
        return {tabs: gr.Tabs(selected=opening.lesson), opened: opening.lesson}

    def make_opener(tab: TabShare):
        def open_tab(request: gr.Request) -> list:
            """The tab's widgets and status line as the page's last step or link asks."""
            o = session_of(request).opening
            if o is None or o.lesson != tab.lesson.name:  # a later step opened another tab meanwhile
                return [gr.skip()] * (len(tab.widgets) + 1)
            values = tab.values(o.cfg) if o.cfg is not None else [gr.skip()] * len(tab.widgets)
            return [*values, o.status]
        return open_tab

    def show_step(s: Session, request: gr.Request) -> dict:
        """Keep ``s`` as the page's session; every output of the bar that opening step ``s.step``
        changes (the step's tab opens through its opener)."""
        preset = s.preset
        frame = replays.find(preset.lesson, preset.cfg)
        if frame is not None and RESULTS.get(preset.lesson, preset.cfg) is None:
            # Run serves it at once from the result cache, and says it is a replay
            replay_message = f"{replays.REPLAY_NOTE} ({frame.message}); **Run live** trains it"
            RESULTS.put(preset.lesson, preset.cfg, replace(frame, message=replay_message))
        played = " A recorded run is ready: **Run** replays it at once, **Run live** trains it." if frame else ""
        q = preset.question
        # A step revealed before (Previous, then Next again) stays revealed: its run, served again
        # from the cache, may not change the numbers, so no change event would reveal it anew.
        revealed = s.step in s.answers
        status = f"Step {s.step + 1}: {preset.title}. Press **Run**.{played}"
        out = open_in_tab(s, Opening(preset.lesson, preset.cfg, status), request) | {
            bar: gr.Column(visible=True),
            step_text: f"**{s.step + 1}/{len(s.playlist.steps)} {preset.title}**: {preset.prompt}",
            question_row: gr.Row(visible=q is not None),
            reveal: reveal_text(s) if revealed else "", tally: room_tally(s),
            guard: HIDE_VERDICTS if q and not revealed else "",
            timer: gr.Timer(active=bool(q and s.room and s.presenter))}
        if q:
            out[choices] = gr.Radio(list(q.choices), value=s.guesses.get(s.step), label=q.text)
        if s.room and s.presenter:
            out[room_link] = f"{page_url(request)}?{s.query()}"
        return out

    def start_playlist(request: gr.Request, name):
        s = session_of(request)
        if name not in playlists:
            raise gr.Error("choose a playlist", print_exception=False)
        return show_step(Session(playlists[name], 0, s.room, s.presenter), request=request)

    def upload_playlist(request: gr.Request, file):
        try:
            playlist = read_playlist(Path(file).read_bytes(), Path(file).stem)
        except ValueError as err:
            raise gr.Error(str(err), print_exception=False) from None
        return show_step(Session(playlist, 0), request=request)

    def step_by(delta: int):
        def move(request: gr.Request):
            with STEPPING:  # a clicker's two quick PageDowns move two steps, not one twice
                s = session_of(request)
                if s.playlist is None:
                    return {bar: gr.skip()}  # (an empty dict would read as one value)
                s = replace(s, step=min(max(s.step + delta, 0), len(s.playlist.steps) - 1))
                return show_step(s, request=request)
        return move

    def lock_guess(request: gr.Request, choice):
        s = session_of(request)
        q = s.preset.question if s.playlist else None
        if q is None or choice not in q.choices:
            raise gr.Error("choose one of the answers first", print_exception=False)
        s = replace(s, guesses={**s.guesses, s.step: choice})
        SESSIONS.put(request.session_hash, s)
        where = ""
        if s.room:
            try:
                ROOMS.vote(s.room, s.question_key(), request.session_hash or "anonymous", choice, q.choices)
            except ValueError as err:
                raise gr.Error(str(err), print_exception=False) from None
            where = f" and sent to room {s.room}"
        return f"Your guess: **{choice}** (locked{where}). Now press **Run**."

    def reveal_text(s: Session) -> str:
        """The measured answer of this step's question beside this page's guess."""
        answer, guess = s.answers.get(s.step), s.guesses.get(s.step)
        verdict = ("" if guess is None else " · your guess: " + guess
                   + (" — right" if guess == answer else " — not this time"))
        measured = answer if answer is not None else "not measured by this run (was its part left out?)"
        return f"**Measured: {measured}**{verdict}"

    def room_tally(s: Session) -> str:
        """The room's guesses on this step's question ("" outside a room)."""
        if not (s.room and s.playlist and s.preset.question and ROOMS.exists(s.room)):
            return ""
        return tally_markdown(ROOMS.tally(s.room, s.question_key(), s.preset.question.choices),
                              s.answers.get(s.step))

    def tick(request: gr.Request) -> str:
        return room_tally(session_of(request))

    def make_reveal(tab: TabShare):
        def on_numbers(request: gr.Request, *inputs):
            s = session_of(request)
            preset = s.preset if s.playlist else None
            unchanged = gr.skip(), gr.skip(), gr.skip()
            if preset is None or preset.question is None or preset.lesson != tab.lesson.name:
                return unchanged
            try:
                values = tab.settings.values(*inputs)
                cfg = validate_config(tab.lesson.config, dict(zip(tab.names, values)))
            except ConfigError:
                return unchanged
            frame = finished_run(tab.lesson.name, cfg)
            if frame is None:  # still running: the verdicts stay hidden
                return unchanged
            s = replace(s, answers={**s.answers, s.step: measured_answer(preset.question, frame.numbers,
                                                                          frame.verdicts)})
            SESSIONS.put(request.session_hash, s)
            return reveal_text(s), "", room_tally(s)
        return on_numbers

    def open_class_room(request: gr.Request):
        s = session_of(request)
        if s.playlist is None:
            raise gr.Error("start a playlist first: a room votes on its questions", print_exception=False)
        return show_step(replace(s, room=ROOMS.create(), presenter=True), request=request)

    def on_link(query: str, request: gr.Request):
        params = dict(parse_qsl((query or "").lstrip("?")))
        try:
            if "playlist" in params:
                return open_link_playlist(params, request)
            found = read_query(params)
        except ValueError as err:
            lesson = params.get("lesson")
            if lesson in by_lesson:  # the tab opens on its defaults, the refusal in its status line
                refused = f"**Link refused**: {err}. The tab is on its defaults."
                return open_in_tab(session_of(request), Opening(lesson, None, refused), request)
            gr.Warning(f"Link refused: {err}")
            return {bar: gr.skip()}
        if found is None:  # a plain visit
            return {bar: gr.skip()}
        lesson, cfg = found
        return open_in_tab(session_of(request), Opening(lesson, cfg, "Opened from a link. Press **Run**."), request)

    def open_link_playlist(params: dict, request: gr.Request) -> dict:
        name = params["playlist"]
        if name not in playlists:
            raise ConfigError(f"unknown playlist {name!r}; choose from {', '.join(playlists)}")
        playlist = playlists[name]
        try:
            step = int(params.get("step", 1))
        except ValueError:
            raise ConfigError(f"step: expected a number, got {params.get('step')!r}") from None
        if not 1 <= step <= len(playlist.steps):
            raise ConfigError(f"step: {name} has steps 1 to {len(playlist.steps)}, got {step}")
        room = params.get("room")
        if room is not None and not ROOMS.exists(room):
            raise ConfigError(f"no room {room!r} (rooms close when the server restarts); ask for the link again")
        return show_step(Session(playlist, step - 1, room and normalise(room), params.get("presenter") == "1"),
                         request=request)

    private = {"api_visibility": "private", "queue": False}  # light handlers: never wait behind a run
    steps = [start.click(start_playlist, inputs=[choose], outputs=step_outputs, **private),
             upload.upload(upload_playlist, inputs=[upload], outputs=step_outputs, **private),
             prev.click(step_by(-1), inputs=None, outputs=step_outputs, **private),
             nxt.click(step_by(+1), inputs=None, outputs=step_outputs, **private),
             open_room.click(open_class_room, inputs=None, outputs=step_outputs, **private),
             open_link.click(on_link, inputs=[link_query], outputs=step_outputs, js=URL_QUERY_JS, **private)]
    for step in steps:
        step.then(None, inputs=[opened], outputs=[opened], js=PRESS_OPENER_JS)  # the page alone
    for tab in shares:
        openers[tab.lesson.name].click(make_opener(tab), inputs=None, outputs=[*tab.widgets, tab.status],
                                       **private)
    lock.click(lock_guess, inputs=[choices], outputs=[reveal], **private)
    timer.tick(tick, inputs=None, outputs=[tally], **private)

    def drop_replay(request: gr.Request):
        s = session_of(request)
        if s.playlist:
            RESULTS.discard(s.preset.lesson, s.preset.cfg)

    run_live.click(drop_replay, inputs=None, **private).then(None, js=CLICK_RUN_JS)
    for tab in shares:
        # the settings the run was started with, as one value: every input of a page event updates at
        # every later message of a run (cnnbp.ui.settings_input)
        tab.numbers.change(make_reveal(tab), inputs=tab.settings.inputs, outputs=[reveal, guard, tally],
                           **private)
    demo.load(None, js=OPEN_LINK_JS)
    demo.load(None, js=KEYS_JS)
    demo.load(None, js=CLICK_JS)
    guard.change(None, inputs=[guard], js=GUARD_JS)
