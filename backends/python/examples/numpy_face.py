"""The smallest model: a face drawn with numpy alone, its mouth opening with the input's loudness.

    python3 backends/python/serve.py --model numpy-face --port 50051

No torch, no GPU: the whole batch is drawn at once with array broadcasting (batch x height x
width masks). The image depends only on (model name, input), so the model is cacheable.
"""

import zlib

import numpy as np

from framegate_backend import ConfigError, Model
from framegate_backend.pcm import check_pcm16


class NumpyFace(Model):
    names = ("sanders",)
    width, height = 128, 64
    cacheable = True

    def __init__(self, device="cpu"):
        if device != "cpu":
            raise ConfigError(f"numpy-face runs on the CPU only, not --device {device}")
        super().__init__(device)

    def load(self):
        h, w = self.height, self.width
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        # scene units: face height ~ 1, origin in the middle
        self.x = (x + 0.5 - w / 2) / h
        self.y = (y + 0.5 - h / 2) / h
        ell = lambda cx, cy, rx, ry: ((self.x - cx) / rx) ** 2 + ((self.y - cy) / ry) ** 2 <= 1.0  # noqa: E731
        self.head = ell(0, 0, 0.34, 0.45)
        self.eyes = ell(-0.13, -0.12, 0.06, 0.05) | ell(0.13, -0.12, 0.06, 0.05)

    def validate(self, request):
        check_pcm16(request.input)

    @staticmethod
    def level(data):
        """0..1: peak of the PCM chunk (0 for silence or no input)."""
        if not data:
            return 0.0
        return float(np.abs(np.frombuffer(data, dtype="<i2").astype(np.int32)).max()) / 32768.0

    def skin(self, name):
        c = zlib.crc32(name.encode())
        return np.array([200 + (c & 31), 150 + (c >> 5 & 63), 110 + (c >> 11 & 63)], dtype=np.uint8)

    def infer(self, batch):
        level = np.array([self.level(r.input) for r in batch], dtype=np.float32)[:, None, None]
        ry = 0.015 + 0.11 * level  # mouth half-height follows the loudness
        mouth = ((self.x / 0.14) ** 2 + ((self.y - 0.22) / ry) ** 2) <= 1.0  # (B, H, W)
        img = np.empty((len(batch), self.height, self.width, 3), dtype=np.uint8)
        img[:] = (40, 44, 52)
        for i, r in enumerate(batch):
            img[i][self.head] = self.skin(r.model)
        img[:, self.eyes] = (30, 30, 30)
        img[mouth & self.head] = (120, 20, 30)
        return [img[i].tobytes() for i in range(len(batch))]
