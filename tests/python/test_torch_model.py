"""The torch-face example model (backends/python/examples/torch_face.py): deterministic images
from a real forward pass, batched on dim 0; --device cuda on this machine."""

import subprocess

import numpy as np
import pytest
import torch

import fgtest
from conftest import SERVE
from torch_face import TorchFace


class Req:
    def __init__(self, data=b"", model="sanders", frame=0):
        self.model, self.frame, self.input, self.session = model, frame, data, ""


@pytest.fixture(scope="module")
def model():
    m = TorchFace("cpu")
    m.names = ("sanders", "obama")
    m.load()
    return m


def pixels(img):
    return np.frombuffer(img, np.uint8).reshape(64, 128, 3).astype(np.int16)


def test_same_input_same_image(model):
    tone = fgtest.pcm_tone(800, 20000)
    a = model.infer([Req(tone)])[0]
    assert len(a) == 128 * 64 * 3
    assert model.infer([Req(tone)])[0] == a
    # a second model, loaded from scratch, has the same seeded weights: same bytes
    other = TorchFace("cpu")
    other.names = model.names
    other.load()
    assert other.infer([Req(tone)])[0] == a
    # and the process's own RNG is left alone by the seeding
    torch.manual_seed(1)
    x = torch.rand(3)
    torch.manual_seed(1)
    TorchFace("cpu").load()
    assert torch.equal(torch.rand(3), x)


def test_batched_on_the_batch_dimension(model):
    inputs = [fgtest.pcm_tone(800, 4000 * (i + 1), period=10 + 6 * i) for i in range(8)]
    batch = model.infer([Req(d) for d in inputs])
    assert len(batch) == 8 and len(set(batch)) == 8
    # the same 8 again: identical bytes; each one alone: within 1 per channel (CPU kernels may
    # round differently for another batch size)
    assert model.infer([Req(d) for d in inputs]) == batch
    for d, img in zip(inputs, batch):
        alone = model.infer([Req(d)])[0]
        assert int(np.abs(pixels(alone) - pixels(img)).max()) <= 1


def test_image_follows_input_and_model(model):
    loud = pixels(model.infer([Req(fgtest.pcm_tone(800, 30000))])[0])
    silent = pixels(model.infer([Req(b"")])[0])
    obama = pixels(model.infer([Req(fgtest.pcm_tone(800, 30000), model="obama")])[0])
    # the mouth (dark red: R well above G and B) opens with loudness
    mouth = lambda p: int(((p[..., 0] > 90) & (p[..., 1] < 60) & (p[..., 2] < 70)).sum())  # noqa: E731
    assert mouth(loud) > 3 * max(1, mouth(silent))
    assert int(np.abs(loud - obama).max()) > 20, "another avatar, another skin"
    # empty and zero input are the same silence
    assert model.infer([Req(b"")])[0] == model.infer([Req(bytes(1600))])[0]


def test_device_cuda():
    """--device cuda: serves on the GPU where one exists, else refuses to start with a clear
    message (this machine's Debian python3-torch has no CUDA)."""
    if not torch.cuda.is_available():
        r = subprocess.run(["/usr/bin/python3", str(SERVE), "--port", "0", "--device", "cuda"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, r.stderr
        assert "--device cuda: no CUDA GPU is available" in r.stderr and "--device cpu" in r.stderr
        assert "listening" not in r.stderr
        return
    cpu = TorchFace("cpu")
    cpu.load()
    gpu = TorchFace("cuda")
    gpu.load()
    tone = fgtest.pcm_tone(800, 20000)
    a, b = cpu.infer([Req(tone)])[0], gpu.infer([Req(tone)])[0]
    assert int(np.abs(pixels(a) - pixels(b)).max()) <= 2
