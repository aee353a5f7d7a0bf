"""The keyed pseudo-random function of the watermark.

Contexts (tuples of column, coarse bins and partner values) are first hashed to 16-byte blocks with BLAKE2b
(public, key-independent, once per distinct context); the keyed part is AES-128 in ECB mode over those blocks
under a subkey ``HMAC-SHA256(secret, "synthgov-watermark-v1" || plan id)[:16]``: a pseudo-random permutation,
so without the secret the dithers are indistinguishable from uniform noise, and one C call serves 10^5
contexts (the calibration over 10,000 wrong keys relies on that speed).
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

DOMAIN = b"synthgov-watermark-v1"


def subkey(secret: bytes, plan_id: str) -> bytes:
    return hmac.new(secret, DOMAIN + plan_id.encode("utf-8"), hashlib.sha256).digest()[:16]


def context_blocks(labels: list[str]) -> np.ndarray:
    """(n, 16) uint8 blocks of context labels (public hashing, no key)."""
    out = np.empty((len(labels), 16), dtype=np.uint8)
    for i, label in enumerate(labels):
        out[i] = np.frombuffer(hashlib.blake2b(label.encode("utf-8"), digest_size=16).digest(), dtype=np.uint8)
    return out


def keyed_words(key: bytes, blocks: np.ndarray) -> np.ndarray:
    """(n, 2) uint64 pseudo-random words of each block under ``key`` (AES-128-ECB)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if len(blocks) == 0:
        return np.zeros((0, 2), dtype=np.uint64)
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # ECB on distinct blocks = a PRF
    raw = encryptor.update(np.ascontiguousarray(blocks).tobytes()) + encryptor.finalize()
    return np.frombuffer(raw, dtype="<u8").reshape(-1, 2)


def uniform(words: np.ndarray) -> np.ndarray:
    """A float in [0, 1) from each uint64 (53 random bits)."""
    return (words >> np.uint64(11)).astype(np.float64) / float(1 << 53)
