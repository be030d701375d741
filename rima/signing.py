"""Signed model files: who wrote this model, not only whether it was damaged.

A model file's sha256 checksum detects truncation and accidental edits, but anyone who
edits a number can recompute it. A signature can only be made with a key: an HMAC-SHA256
with a shared secret (Python's `hmac`), or an Ed25519 signature (the `cryptography`
package) whose public key can be handed out without letting anyone sign.

    rima sign --new-key ed25519 --key-file signer.key      # signer.key + signer.key.pub
    rima sign model.json --key-file signer.key
    rima score data.csv --model model.json --trusted-key signer.key.pub --out s.csv

The signature covers the same canonical content as the checksum (every field except
`checksum` and `signature`) and sits in the file as
``"signature": {"algorithm", "key_id", "value"}``; `key_id` is a digest of the public key
or of the secret, never the secret itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from rima.errors import ModelFileError, RimaInputError

UNSIGNED_KEYS = ("checksum", "signature")
NEEDS_CRYPTOGRAPHY = ("Ed25519 keys need the optional 'sign' extra (the cryptography "
                      "package): pip install 'rima[sign]'")
MIN_SECRET_BYTES = 32
HMAC = "hmac-sha256"
ED25519 = "ed25519"


def canonical(content: dict) -> bytes:
    """The bytes the checksum and the signature are computed over."""
    body = {k: v for k, v in content.items() if k not in UNSIGNED_KEYS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


@dataclass(frozen=True)
class Key:
    """A signing or verifying key read by `read_key`."""

    algorithm: str          # HMAC or ED25519
    key_id: str
    secret: bytes | None = None   # HMAC secret
    private: object = None        # Ed25519PrivateKey
    public: object = None         # Ed25519PublicKey

    @property
    def can_sign(self) -> bool:
        return self.secret is not None or self.private is not None


def read_key(path) -> Key:
    """A key file: an Ed25519 key in PEM (private or public), else an HMAC secret (the
    file's bytes, at least 32)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RimaInputError(f"{path}: cannot read the key file: {exc}") from exc
    if raw.lstrip().startswith(b"-----BEGIN"):
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric.ed25519 import (
                Ed25519PrivateKey,
                Ed25519PublicKey,
            )
        except ImportError as exc:
            raise RimaInputError(f"{path}: {NEEDS_CRYPTOGRAPHY}") from exc

        try:
            if b"PRIVATE KEY" in raw:
                private = serialization.load_pem_private_key(raw, password=None)
                if not isinstance(private, Ed25519PrivateKey):
                    raise ValueError(f"a {type(private).__name__}, not an Ed25519 key")
                public = private.public_key()
            else:
                private = None
                public = serialization.load_pem_public_key(raw)
                if not isinstance(public, Ed25519PublicKey):
                    raise ValueError(f"a {type(public).__name__}, not an Ed25519 key")
        except (ValueError, TypeError) as exc:
            raise RimaInputError(f"{path}: not a usable Ed25519 PEM key: {exc}") from exc
        pub = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return Key(ED25519, hashlib.sha256(b"rima-ed25519:" + pub).hexdigest()[:16],
                   private=private, public=public)
    secret = raw.strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise RimaInputError(
            f"{path}: an HMAC secret needs at least {MIN_SECRET_BYTES} bytes, the file has "
            f"{len(secret)} (make one with `rima sign --new-key hmac --key-file {path}`)")
    return Key(HMAC, hashlib.sha256(b"rima-hmac:" + secret).hexdigest()[:16], secret=secret)


def new_key(kind: str, path) -> list[Path]:
    """Write a fresh key to `path` (Ed25519: also its public key to `path`.pub); refuses to
    overwrite. Returns the files written."""
    path = Path(path)
    written = [path] if kind == HMAC else [path, Path(f"{path}.pub")]
    for p in written:
        if p.exists():
            raise RimaInputError(f"{p}: already exists; not overwriting a key")
    if kind == HMAC:
        data = [base64.urlsafe_b64encode(os.urandom(48)) + b"\n"]
    elif kind == ED25519:
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        except ImportError as exc:
            raise RimaInputError(NEEDS_CRYPTOGRAPHY) from exc

        private = Ed25519PrivateKey.generate()
        data = [
            private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
            private.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo),
        ]
    else:
        raise RimaInputError(f"unknown key kind {kind!r}: use {ED25519} or {HMAC}")
    for p, d in zip(written, data):
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if p == path else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(d)
    return written


def signature(content: dict, key: Key) -> dict:
    """The `signature` field for `content` made with `key`."""
    if not key.can_sign:
        raise RimaInputError("this key can only verify: sign with the private key or the "
                             "HMAC secret")
    msg = canonical(content)
    if key.algorithm == HMAC:
        value = hmac.new(key.secret, msg, hashlib.sha256).digest()
    else:
        value = key.private.sign(msg)
    return {"algorithm": key.algorithm, "key_id": key.key_id,
            "value": base64.b64encode(value).decode()}


def verify(content: dict, keys, path) -> str:
    """The key_id of the trusted key that signed `content`; ModelFileError if the file is
    unsigned or no trusted key made its signature."""
    sig = content.get("signature")
    if sig is None:
        raise ModelFileError(f"{path}: the model file is not signed, and a trusted key is "
                             "required (sign it with `rima sign --key-file`)")
    if not isinstance(sig, dict) or not all(isinstance(sig.get(k), str)
                                            for k in ("algorithm", "key_id", "value")):
        raise ModelFileError(f"{path}: model file field signature: must be an object with "
                             "string algorithm, key_id and value")
    try:
        value = base64.b64decode(sig["value"], validate=True)
    except ValueError as exc:
        raise ModelFileError(f"{path}: model file field signature.value: not base64") from exc
    msg = canonical(content)
    for key in keys:
        if key.algorithm != sig["algorithm"]:
            continue
        if key.algorithm == HMAC:
            if hmac.compare_digest(hmac.new(key.secret, msg, hashlib.sha256).digest(), value):
                return key.key_id
        else:
            from cryptography.exceptions import InvalidSignature

            try:
                key.public.verify(value, msg)
                return key.key_id
            except InvalidSignature:
                continue
    raise ModelFileError(
        f"{path}: the model file's signature ({sig['algorithm']}, key {sig['key_id']}) is not "
        "valid for any trusted key: the file was changed after signing, or was signed with "
        "another key")
