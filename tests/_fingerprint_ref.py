"""The training-data fingerprint written out from its definition in plain numpy, so the
tests check rima's kernels against the definition, not against themselves.

Definition (rima.fingerprint.fingerprint): for an (n, p) float64 matrix, column c's digest
is the sum mod 2^64 over rows t of mix(bits(x[t, c]) ^ mix(t + 1) ^ mix((c + 1) * G)),
bits = the IEEE 754 bit pattern with every NaN as 0x7ff8000000000000, G =
0x9e3779b97f4a7c15, mix = the splitmix64 finaliser; the fingerprint is the hex sha256 of
"rima-fp2:{n}x{p}:" followed by the p digests as little-endian uint64.
"""

import hashlib

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_G = np.uint64(0x9E3779B97F4A7C15)


def mix(x):
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def digests(matrix) -> np.ndarray:
    a = np.ascontiguousarray(matrix, dtype=np.float64)
    u = a.view(np.uint64).copy()
    u[np.isnan(a)] = np.uint64(0x7FF8000000000000)
    n, p = a.shape
    pos = mix(np.arange(1, n + 1, dtype=np.uint64))
    with np.errstate(over="ignore"):
        seeds = mix(np.arange(1, p + 1, dtype=np.uint64) * _G)
    terms = mix(u ^ pos[:, None] ^ seeds[None, :])
    return terms.sum(axis=0, dtype=np.uint64)


def fingerprint_reference(matrix) -> str:
    a = np.asarray(matrix, dtype=np.float64)
    h = hashlib.sha256(f"rima-fp2:{a.shape[0]}x{a.shape[1]}:".encode())
    h.update(digests(a).astype("<u8").tobytes())
    return h.hexdigest()
