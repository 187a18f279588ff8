#!/usr/bin/python3
"""Start a framegate backend around a Python model (see framegate_backend/cli.py, --help).

    python3 backends/python/serve.py --host 127.0.0.1 --port 50051 --model torch-face
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from framegate_backend.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
