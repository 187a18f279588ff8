"""What a user writes: a Model subclass. The kit (server.py) does everything around it.

    class MyModel(Model):
        names = ("sanders",)          # RenderRequest.model values served
        width, height = 128, 64       # every image has this size
        cacheable = True              # the image depends only on (model, input)

        def load(self):               # once, before serving (health NOT_SERVING until it returns)
            self.net = ...            # self.device is "cpu" or "cuda"

        def validate(self, request):  # optional, per request on arrival (cheap checks only)
            if len(request.input) % 2: raise InvalidInput("odd PCM length")

        def infer(self, batch):       # a list of RenderRequest (model, frame, input, session)
            return [image_bytes for each request]   # width*height*3 bytes each (RGB24)

infer() runs on the kit's worker threads (one per --workers, e.g. one per GPU stream), never on
the gRPC event loop; with one worker it is never called concurrently. Raising InvalidInput or
OutOfRange fails the call with INVALID_ARGUMENT (3) or OUT_OF_RANGE (11); any other exception
with INTERNAL (13): in infer() that fails every request of the batch, so per-request checks
belong in validate().
"""

IMAGE_FORMAT_RGB24 = 1
IMAGE_FORMAT_RGBA32 = 2
IMAGE_FORMAT_JPEG = 3
IMAGE_FORMAT_PNG = 4

# Bytes per pixel of the raw formats; JPEG and PNG images have no fixed size.
_RAW_BPP = {IMAGE_FORMAT_RGB24: 3, IMAGE_FORMAT_RGBA32: 4}


class InvalidInput(ValueError):
    """The request is malformed (bad input): INVALID_ARGUMENT."""


class OutOfRange(ValueError):
    """The input is well-formed but outside what the model accepts: OUT_OF_RANGE."""


class ConfigError(RuntimeError):
    """The model cannot run as configured (e.g. --device cuda without a GPU): the server does
    not start, and prints the message."""


class Model:
    names = ("sanders",)
    width = 128
    height = 64
    format = IMAGE_FORMAT_RGB24
    cacheable = False

    def __init__(self, device="cpu"):
        """Called before the server binds; raise ConfigError for an impossible setup. Keep it
        quick: heavy work belongs in load(), which runs while health says NOT_SERVING."""
        self.device = device

    def load(self):
        pass

    def validate(self, request):
        pass

    def infer(self, batch):
        raise NotImplementedError

    def image_size(self):
        """Bytes of one image, or None when the format has no fixed size."""
        bpp = _RAW_BPP.get(self.format)
        return None if bpp is None else self.width * self.height * bpp
