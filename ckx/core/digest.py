"""A short content digest for keys and signatures on the start-up path.

``hashlib`` loads OpenSSL (~2 ms, most of a cached run's budget for it); CPython's own BLAKE2
module is the same ``blake2b`` without that, so the cached path uses it when it is there.
"""

from __future__ import annotations

try:
    from _blake2 import blake2b
except ImportError:  # another Python implementation
    from hashlib import blake2b


def short_hex(data: bytes, size: int = 16) -> str:
    """The BLAKE2b hex digest of ``data``, ``size`` bytes long (``2 * size`` hex digits)."""
    return blake2b(data, digest_size=size).hexdigest()
