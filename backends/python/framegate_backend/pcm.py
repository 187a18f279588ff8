"""Checks for the usual model input: a chunk of 16-bit little-endian PCM audio."""

from .model import InvalidInput, OutOfRange

# 2 s of 16 kHz mono: far more than one video frame's worth, small enough to bound the work.
MAX_PCM_BYTES = 64 * 1024


def check_pcm16(data, max_bytes=MAX_PCM_BYTES):
    """InvalidInput for an odd byte count (not 16-bit samples), OutOfRange past max_bytes."""
    if len(data) % 2:
        raise InvalidInput(f"input is {len(data)} bytes: 16-bit PCM needs an even count")
    if len(data) > max_bytes:
        raise OutOfRange(f"input is {len(data)} bytes, this model takes at most {max_bytes}")
