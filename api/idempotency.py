"""Idempotency-Key for money-moving POSTs: the same key and body replay the first response, with one effect.

Protocol (a claim row instead of a long lock, because the services own durable transactions of their own):
1. claim: insert a pending IdempotencyRecord (unique per user and key). A concurrent duplicate's insert fails,
   so it waits for the first to finish and replays its response; a different body with the same key is refused.
2. run the view; on success store its status and body in the record; on failure delete the record, since a
   failed request changed nothing and may be retried with the same key.
If the process dies between the effect and step 2, the record stays pending and retries answer 409
`idempotency_key_in_progress` rather than risk a second effect.
"""

import hashlib
import time
from functools import wraps

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer

from api.models import IdempotencyRecord
from exchange.errors import Conflict, IdempotencyConflict, ValidationFailed

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 64
POLL_SECONDS = 0.02


class IdempotencyInProgress(Conflict):
    code = "idempotency_key_in_progress"
    default_message = "A request with this idempotency key is still being processed; retry shortly."


def idempotent(handler):
    """Wrap a view method (after authentication) so the Idempotency-Key header makes it safe to retry."""

    @wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
            raise ValidationFailed(fields={HEADER: [f"Use 1 to {MAX_KEY_LENGTH} printable characters."]})
        fingerprint = hashlib.sha256(
            request.method.encode() + b" " + request.get_full_path().encode() + b"\n" + request.body
        ).hexdigest()
        record = _claim(user=request.user, key=key, fingerprint=fingerprint)
        if record.status_code is not None:
            replay = HttpResponse(record.body, status=record.status_code, content_type="application/json")
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = handler(view, request, *args, **kwargs)
        except BaseException:
            record.delete()
            raise
        if response.status_code >= 300:
            record.delete()
        else:
            body = JSONRenderer().render(response.data).decode()  # what DRF's renderer will send
            IdempotencyRecord.objects.filter(pk=record.pk).update(status_code=response.status_code, body=body)
        return response

    return wrapper


def _claim(*, user, key: str, fingerprint: str) -> IdempotencyRecord:
    """Our new pending record, or the finished one of an earlier identical request (waiting while it runs)."""
    deadline = time.monotonic() + settings.API_IDEMPOTENCY_WAIT_SECONDS
    while True:
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(user=user, key=key, fingerprint=fingerprint)
        except IntegrityError:
            pass
        earlier = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if earlier is None:
            continue  # the earlier attempt failed and let go of the key: claim it again
        if earlier.fingerprint != fingerprint:
            raise IdempotencyConflict()
        if earlier.status_code is not None:
            return earlier
        if time.monotonic() > deadline:
            raise IdempotencyInProgress()
        time.sleep(POLL_SECONDS)
