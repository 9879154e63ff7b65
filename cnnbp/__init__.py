"""cnnbp: a live lab for the best practices of convolutional networks.

Every claim of the lecture (``../shared/seeds``) is an experiment: a lesson takes a
validated Config, trains small networks and yields Frames (progress, figures, tables,
verdicts). The same code path serves the Gradio app, the CLI and the tests.
"""

__version__ = "0.1.0"
