"""The training engine (events, stop between steps) and the run control."""

from cnnbp.train.control import RunControl
from cnnbp.train.engine import (
    Beat,
    Trainer,
    TrainEvent,
    evaluate,
    freeze,
    interleave,
    lockstep,
    make_optimizer,
    train_mode,
)

__all__ = ["Beat", "RunControl", "TrainEvent", "Trainer", "evaluate", "freeze", "interleave", "lockstep",
           "make_optimizer", "train_mode"]
