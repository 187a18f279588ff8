"""Command line of serve.py: picks the model class, builds it, runs the server."""

import argparse
import importlib
import importlib.util
import logging
import sys
from pathlib import Path

from .model import ConfigError, Model
from .server import Options, serve

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# --model shorthands for the bundled examples: name -> (file in examples/, class)
BUILTIN = {
    "torch-face": ("torch_face.py", "TorchFace"),
    "numpy-face": ("numpy_face.py", "NumpyFace"),
}

USAGE = """\
python3 backends/python/serve.py --host H --port P [--model NAME] [--device cpu|cuda] ...

--model is a bundled example (torch-face, numpy-face) or your own class as FILE.py:CLASS or
MODULE:CLASS, a subclass of framegate_backend.Model. Once bound the server logs
"framegate-backend listening on HOST:PORT", and "framegate-backend SERVING ..." once load()
returned. SIGTERM/SIGINT: stop taking frames, finish the queued ones, exit 0."""


def model_class(spec):
    """The class named by --model; raises ConfigError with a readable reason."""
    if spec in BUILTIN:
        file, cls = BUILTIN[spec]
        spec = f"{EXAMPLES / file}:{cls}"
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise ConfigError(f"--model {spec!r}: expected {', '.join(BUILTIN)}, FILE.py:CLASS or MODULE:CLASS")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise ConfigError(f"--model: no file {where}")
            mod_spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(mod_spec)
            sys.modules[path.stem] = module
            mod_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except ImportError as e:
        raise ConfigError(f"--model {spec}: cannot import it: {e}") from e
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ConfigError(f"--model {spec}: {name} is not a framegate_backend.Model subclass")
    return cls


def positive(text):
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return v


def parse(argv):
    ap = argparse.ArgumentParser(prog="serve.py", description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=50051, help="port; 0 picks a free one (default 50051)")
    ap.add_argument("--model", default="torch-face", help="model class (default torch-face)")
    ap.add_argument("--names", help="comma-separated model names served (default: the class's names)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the model runs (default cpu)")
    ap.add_argument("--workers", type=positive, default=1, help="model worker threads, one per GPU stream (default 1)")
    ap.add_argument("--max-batch", type=positive, default=8, help="frames per model pass, at most (default 8)")
    ap.add_argument("--queue-max", type=positive, default=64,
                    help="frames waiting for the model; more are refused with RESOURCE_EXHAUSTED, "
                    "a RenderBatch of more with OUT_OF_RANGE (default 64)")
    ap.add_argument("--drain-s", type=float, default=30.0, help="on SIGTERM, longest wait for queued frames (default 30)")
    ap.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    args = ap.parse_args(argv)
    if not 0 <= args.port <= 65535:
        ap.error("--port must be 0..65535")
    return args


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level, format="framegate-backend %(levelname)s %(message)s")
    try:
        cls = model_class(args.model)
        model = cls(device=args.device)
        if args.names:
            model.names = tuple(n for n in args.names.split(",") if n)
            if not model.names:
                raise ConfigError("--names is empty")
    except ConfigError as e:
        print(f"framegate-backend: {e}", file=sys.stderr, flush=True)
        return 2
    opts = Options(args.host, args.port, args.workers, args.max_batch, args.queue_max, args.drain_s)
    return serve(model, opts)
