"""cnnbp web app: ``python app.py`` serves http://127.0.0.1:7860 (GRADIO_SERVER_NAME/PORT honoured).

``import app`` builds ``demo`` without launching it (Hugging Face Spaces, tests).
"""

from cnnbp.device import set_threads_once
from cnnbp.ui import build_demo, launch_options
from cnnbp.ui.warmup import start_warmup_thread

set_threads_once()
demo = build_demo()

if __name__ == "__main__":
    start_warmup_thread()  # one-time imports, then the defaults into the cache; never blocks the page
    demo.launch(**launch_options())
