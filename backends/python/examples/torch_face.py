"""A real PyTorch model: 16-bit PCM audio in, a 128x64 RGB24 face out, batched on dim 0.

    python3 backends/python/serve.py --model torch-face --device cpu   # or --device cuda

FaceNet is a small audio-to-image network with fixed seeded weights (no training: the point is a
real forward pass of realistic shape, not a good avatar):
  - audio features: each input is cut into FEATURE_BINS windows; per window the mean absolute
    amplitude and the zero-crossing rate -> (B, 2, FEATURE_BINS);
  - an encoder (Conv1d x2, pooled) -> a 32-dim latent; a convolutional decoder (Linear, then 4
    ConvTranspose2d doubling 4x8 -> 64x128, a 3x3 Conv2d) -> a (B, 3, 64, 128) texture;
  - a face composited in the same forward pass from coordinate grids: head, eyes, and a mouth
    whose opening follows the loudness, with the decoder's texture over the skin.
The image depends only on (model name, input): cacheable. Same input, same batch size: the same
bytes; across batch sizes the CPU kernels may round differently, by at most 1 per channel.
"""

import threading

from framegate_backend import ConfigError, Model
from framegate_backend.pcm import check_pcm16

SEED = 20261206
FEATURE_BINS = 32
LATENT = 32
MIN_SAMPLES = 4 * FEATURE_BINS  # shorter input is padded with silence: a zero-crossing rate needs 2+ per window


def _build_net(torch, n_names, width, height):
    nn = torch.nn

    class FaceNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(
                nn.Conv1d(2, 16, 5, padding=2), nn.Tanh(),
                nn.Conv1d(16, LATENT, 5, stride=2, padding=2), nn.Tanh(),
                nn.AdaptiveAvgPool1d(1),
            )
            self.fc = nn.Linear(LATENT, 32 * (height // 16) * (width // 16))
            self.decoder = nn.Sequential(
                nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1), nn.Tanh(),
                nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.Tanh(),
                nn.ConvTranspose2d(16, 16, 4, stride=2, padding=1), nn.Tanh(),
                nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.Tanh(),
                nn.Conv2d(8, 3, 3, padding=1), nn.Tanh(),
            )
            self.skin = nn.Embedding(n_names, 3)
            ys = (torch.arange(height, dtype=torch.float32) + 0.5 - height / 2) / height
            xs = (torch.arange(width, dtype=torch.float32) + 0.5 - width / 2) / height
            gy, gx = torch.meshgrid(ys, xs, indexing="ij")
            self.register_buffer("gx", gx)
            self.register_buffer("gy", gy)

        def ellipse(self, cx, cy, rx, ry):
            """Soft mask (anti-aliased edge) of an ellipse; ry may be (B, 1, 1)."""
            d = ((self.gx - cx) / rx) ** 2 + ((self.gy - cy) / ry) ** 2
            return torch.sigmoid((1.0 - d) * 12.0)

        def forward(self, feats, name_idx):
            b = feats.shape[0]
            z = self.encoder(feats).flatten(1)  # (B, LATENT)
            tex = self.decoder(self.fc(z).view(b, 32, height // 16, width // 16))  # (B, 3, H, W)
            loud = feats[:, 0].amax(1).clamp(0, 1).view(b, 1, 1)
            head = self.ellipse(0.0, 0.0, 0.34, 0.45).unsqueeze(0)
            eyes = (self.ellipse(-0.13, -0.12, 0.06, 0.05) + self.ellipse(0.13, -0.12, 0.06, 0.05)).unsqueeze(0)
            mouth = self.ellipse(0.0, 0.22, 0.14, 0.015 + 0.11 * loud) * head  # (B, H, W)
            skin = (0.55 + 0.35 * torch.sigmoid(self.skin(name_idx))).view(b, 3, 1, 1)
            bg = torch.tensor([0.16, 0.17, 0.20], device=feats.device).view(1, 3, 1, 1)
            face = skin + 0.12 * tex
            img = bg + 0.05 * tex
            img = img * (1 - head.unsqueeze(1)) + face * head.unsqueeze(1)
            img = img * (1 - 0.85 * eyes.unsqueeze(1))
            red = torch.tensor([0.47, 0.08, 0.12], device=feats.device).view(1, 3, 1, 1)
            img = img * (1 - mouth.unsqueeze(1)) + red * mouth.unsqueeze(1)
            return (img.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)  # (B, H, W, 3)

    return FaceNet()


class TorchFace(Model):
    names = ("sanders",)
    width, height = 128, 64
    cacheable = True

    def __init__(self, device="cpu"):
        try:
            import torch
        except ImportError as e:
            raise ConfigError(f"torch-face needs PyTorch (apt-get install python3-torch): {e}") from e
        if device == "cuda" and not torch.cuda.is_available():
            raise ConfigError(
                "--device cuda: no CUDA GPU is available to PyTorch (torch.cuda.is_available() is "
                "False; Debian's python3-torch is built without CUDA). Use --device cpu."
            )
        super().__init__(device)
        self.torch = torch
        self._streams = threading.local()

    def load(self):
        torch = self.torch
        # Fixed weights: seeded initialisation, without touching the global RNG of the process.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            net = _build_net(torch, len(self.names), self.width, self.height)
        self.net = net.to(self.device).eval()
        self.index = {n: i for i, n in enumerate(self.names)}
        self.infer([_Silence(self.names[0])])  # warm-up: first-call allocations happen now

    def validate(self, request):
        check_pcm16(request.input)

    def features(self, data):
        """(2, FEATURE_BINS): mean |amplitude| and zero-crossing rate per window, on the CPU."""
        torch = self.torch
        if len(data) < 2 * MIN_SAMPLES:
            data = data + bytes(2 * MIN_SAMPLES - len(data))  # short or empty input: padded with silence
        pcm = torch.frombuffer(bytearray(data), dtype=torch.int16).to(torch.float32) / 32768.0
        n = pcm.numel() // FEATURE_BINS * FEATURE_BINS
        win = pcm[:n].view(FEATURE_BINS, -1)
        level = win.abs().mean(1) * 2.0
        zcr = (win[:, 1:] * win[:, :-1] < 0).to(torch.float32).mean(1)
        return torch.stack((level, zcr))

    def infer(self, batch):
        torch = self.torch
        feats = torch.stack([self.features(r.input) for r in batch])
        idx = torch.tensor([self.index[r.model] for r in batch])
        with torch.inference_mode(), self._stream():
            out = self.net(feats.to(self.device), idx.to(self.device)).cpu()
        return [out[i].numpy().tobytes() for i in range(len(batch))]

    def _stream(self):
        """On CUDA, each worker thread (--workers) runs on its own stream."""
        if self.device != "cuda":
            return _NoStream()
        s = getattr(self._streams, "s", None)
        if s is None:
            s = self._streams.s = self.torch.cuda.Stream()
        return self.torch.cuda.stream(s)


class _Silence:
    def __init__(self, model):
        self.model, self.frame, self.input, self.session = model, 0, b"", ""


class _NoStream:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
