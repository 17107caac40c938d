"""Outgoing messages as websocket text. The feed encodes each shared message once, whatever the subscriber count."""

import json


def encode(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"))


def encode_or_none(message: dict | None) -> str | None:
    return None if message is None else encode(message)
