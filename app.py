"""cnnbp web app: ``python app.py`` serves http://127.0.0.1:7860 (GRADIO_SERVER_NAME/PORT honoured).

``import app`` builds ``demo`` without launching it (Hugging Face Spaces, tests).
"""

from cnnbp.device import set_threads_once
from cnnbp.ui import build_demo, launch_options
from cnnbp.ui.session_defaults import compute_session_defaults
from cnnbp.ui.warmup import start_embed_worker, start_warmup_thread, warm_up

set_threads_once()
demo = build_demo()

if __name__ == "__main__":
    start_embed_worker()  # umap's kernels load in a child meanwhile
    warm_up()  # the first run's imports before the server listens: not beside a class's first run
    compute_session_defaults(demo)  # the blocks' configs a new session copies: not on a class's first join
    start_warmup_thread()  # UMAP waited for, then the defaults into the cache once no one is about
    demo.launch(**launch_options())
