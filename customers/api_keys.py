"""The partner API key format: `bp_` + random URL-safe text, kept only as a SHA-256 with a lookup prefix."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

KEY_PREFIX = "bp_"
LOOKUP_PREFIX_LENGTH = 8
# token_urlsafe(32) gives 43 characters; longer keys are accepted so the format can grow, but a cap
# keeps a pathological header from being hashed.
KEY_PATTERN = re.compile(r"bp_[A-Za-z0-9_-]{32,128}")


def api_key_generate() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_is_well_formed(raw_key: str) -> bool:
    return KEY_PATTERN.fullmatch(raw_key) is not None


def api_key_lookup_prefix(raw_key: str) -> str:
    return raw_key[len(KEY_PREFIX) : len(KEY_PREFIX) + LOOKUP_PREFIX_LENGTH]


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("ascii")).hexdigest()


def api_key_matches(raw_key: str, key_hash: str) -> bool:
    # Constant time, so response timing says nothing about how much of a guessed key was right.
    return hmac.compare_digest(api_key_hash(raw_key), key_hash)
