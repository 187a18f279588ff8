"""Models for the kit's tests: numpy-face with knobs, set through the environment because the
tests start them with serve.py --model tests/python/kit_models.py:ScriptedFace.

    FGK_LOAD_GATE=PATH   load() waits until PATH exists (a loading backend the test controls)
    FGK_INFER_MS=N       every model pass takes N ms more (a slow GPU)
    FGK_LOAD_FAIL=TEXT   load() raises RuntimeError(TEXT) (weights missing, say)

Every pass logs "pass frames=F1,F2,..." (the frame numbers it rendered) on stderr, so a test
can tell which requests ran and how they were batched.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "backends" / "python" / "examples"))

from numpy_face import NumpyFace  # noqa: E402


class ScriptedFace(NumpyFace):
    def load(self):
        if os.environ.get("FGK_LOAD_FAIL"):
            raise RuntimeError(os.environ["FGK_LOAD_FAIL"])
        gate = os.environ.get("FGK_LOAD_GATE")
        if gate:
            while not os.path.exists(gate):
                time.sleep(0.02)
        super().load()

    def infer(self, batch):
        ms = float(os.environ.get("FGK_INFER_MS", "0"))
        if ms:
            time.sleep(ms / 1000.0)
        out = super().infer(batch)
        print("pass frames=" + ",".join(str(r.frame) for r in batch), file=sys.stderr, flush=True)
        return out
