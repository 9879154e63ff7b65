"""cnnbp web app: ``python app.py`` serves http://127.0.0.1:7860 (GRADIO_SERVER_NAME/PORT honoured).

``import app`` builds ``demo`` without launching it (Hugging Face Spaces, tests).
"""

from cnnbp.device import set_threads_once
from cnnbp.ui import build_demo
from cnnbp.warmup import start_warmup_thread

set_threads_once()
demo = build_demo()

if __name__ == "__main__":
    start_warmup_thread()  # one-time imports off the first click; never blocks the page
    # Gradio reads GRADIO_SERVER_NAME and GRADIO_SERVER_PORT itself; its default is 127.0.0.1:7860.
    demo.launch(show_error=False, max_file_size="5mb")
