"""What a figure draws, apart from what was measured: a figure's long series as float32 numpy arrays.

Plotly sends a numpy array as a base64 typed array (about 5.3 characters a float32) instead of decimal
text (about 19 characters a float64): the same curve, a quarter of the bytes on every update. float32
keeps 7 significant digits, far beyond what a screen can show; the measured numbers (the run's
``numbers`` JSON, the tables, the verdicts) stay as measured. None (a gap in a line) becomes NaN,
which plotly also draws as a gap.

>>> drawn([0.1, None, 2]).dtype, drawn([0.1, None, 2]).tolist()[1] != drawn([0.1, None, 2]).tolist()[1]
(dtype('float32'), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np


def drawn(values: Any) -> np.ndarray:
    """``values`` (a list, nested lists or an array of numbers or None) as a float32 array."""
    return np.array(values, dtype=np.float64).astype(np.float32)
