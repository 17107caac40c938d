"""Outgoing messages as websocket text. The feed encodes each shared message once, whatever the subscriber count."""

import json


def encode(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"))


def encode_or_none(message: dict | None) -> str | None:
    return None if message is None else encode(message)


def send_message(frame: str) -> dict:
    """The ASGI message that sends `frame`; servers only read it, so one serves every connection."""
    return {"type": "websocket.send", "text": frame}
