"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings.dev")

import django  # noqa: E402

django.setup(set_prefix=False)

from asgiref.sync import sync_to_async  # noqa: E402
from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core import signals  # noqa: E402
from django.core.exceptions import RequestAborted  # noqa: E402
from django.core.handlers.asgi import ASGIHandler, get_script_prefix  # noqa: E402
from django.core.handlers.base import BaseHandler  # noqa: E402
from django.http import FileResponse  # noqa: E402
from django.urls import set_script_prefix  # noqa: E402

from realtime.routing import websocket_application  # noqa: E402


class OneTripASGIHandler(ASGIHandler):
    """Django's ASGI handler, with each request's synchronous work done in one trip to the request's thread.

    Every view here and most middleware are synchronous. Django's own handler crosses between the event loop and
    the request's thread several times per request: for the request_started receivers, into the sync middleware,
    back out to its async core, in again for the view, and for the response's close (request_finished). Each
    crossing hands work between threads, which cost more CPU than a small API view. Here the chain is built
    synchronously, as under WSGI and Django's test client, and one call in the request's thread sends
    request_started, builds the request, runs middleware and view, and closes the response (request_finished,
    which returns the thread's database connection to the pool); the loop only reads the body and sends the
    bytes. A streaming response is closed after it has been sent, as Django does.

    That one call runs on a pool of threads kept for the process's life, so the requests of one process overlap
    while they wait on the database. Django's default gives each request a new single-thread executor
    (ThreadSensitiveContext) and joins it in yet another thread at the end: two threads started per request,
    which cost a bare request 0.4-0.8 of its 1.9-2.5 ms of server CPU (bench/request_overhead.py). Nothing here needs a request's calls pinned to one thread
    beyond that one call: the database connection is taken and given back to the pool inside it.
    """

    def __init__(self, threads: int):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="request")

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        response = None
        try:
            response = await self._in_thread(self._respond)(scope, body_file)
            await self.send_response(response, send)
        finally:
            body_file.close()
            if response is not None and response.streaming:
                await self._in_thread(response.close)()

    def _in_thread(self, function):
        return sync_to_async(function, thread_sensitive=False, executor=self.executor)

    def _respond(self, scope, body_file):
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size  # the ASGI server chunks, as in Django's handler
        if not response.streaming:
            response.close()  # its content is rendered: request_finished now, in this thread
        return response


django_asgi_app = OneTripASGIHandler(threads=settings.REQUEST_THREADS)

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})
