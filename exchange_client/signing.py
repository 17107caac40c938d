"""Request signing, as the server checks it (api/authentication.py, docs/api.md).

hex(HMAC-SHA256(secret, timestamp_ms + METHOD + path_with_query + body)), sent with the key id and the timestamp.
Each signature is accepted once, so every attempt of a request (a retry too) is signed anew.
"""

import hashlib
import hmac
import time


def signature(secret: str, timestamp: str, method: str, path: str, body: bytes = b"") -> str:
    message = f"{timestamp}{method.upper()}{path}".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(key: str, secret: str, method: str, path: str, body: bytes = b"", *, offset_ms: int = 0) -> dict:
    """The three authentication headers; `offset_ms` corrects a local clock that differs from the server's."""
    timestamp = str(int(time.time() * 1000) + offset_ms)
    return {
        "X-API-Key": key,
        "X-API-Timestamp": timestamp,
        "X-API-Signature": signature(secret, timestamp, method, path, body),
    }
