"""framegate backend kit: put a Python model behind framegate.

Write a Model subclass (model.py says what to implement), then run

    python3 backends/python/serve.py --model path/to/mine.py:MyModel --port 50051

The kit serves framegate.v1.FrameService and grpc.health.v1.Health (server.py) and feeds the
model in batches from a bounded queue (batcher.py); orca.py encodes the load report.
"""

from .model import (
    IMAGE_FORMAT_JPEG,
    IMAGE_FORMAT_PNG,
    IMAGE_FORMAT_RGB24,
    IMAGE_FORMAT_RGBA32,
    ConfigError,
    InvalidInput,
    Model,
    OutOfRange,
)

__all__ = [
    "IMAGE_FORMAT_JPEG", "IMAGE_FORMAT_PNG", "IMAGE_FORMAT_RGB24", "IMAGE_FORMAT_RGBA32",
    "ConfigError", "InvalidInput", "Model", "OutOfRange",
]
