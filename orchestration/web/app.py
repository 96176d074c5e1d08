"""The HTTP app (ASGI, starlette): ``POST /uploads`` for signed CSV uploads and ``POST /events``
for signed inbound events.

Uploads: 202 + upload id; 400 missing/malformed/repeated headers, stale timestamp or hash
mismatch; 401 bad signature or unknown key id; 408 body too slow; 409 replay; 413 over the size
limit (checked while streaming); 415 not CSV; 429 too many bodies streaming for one key. A
request refused on its headers is answered without reading its body. See
docs/upload-protocol.md. Events: see orchestration/events/receiver.py and docs/events.md.
"""

from __future__ import annotations

import asyncio
import logging
import re

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from orchestration import constants
from orchestration.campaign.consent_desk import ConsentDesk
from orchestration.events.receiver import EventReceiver
from orchestration.events.webhooks import EventRefused
from orchestration.ingest import signing
from orchestration.ingest.receipt import Receipt, Receiver


def _headers(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        out.setdefault(name.lower(), []).append(value)
    return out


class BodyTimeout(Exception):
    """A small body (an event, a consent form) did not arrive within its time."""


async def _capped_body(request: Request, limit: int,
                       timeout_s: float = constants.BODY_IDLE_TIMEOUT_S) -> tuple[bytes, bool]:
    """The body, or (what was read, True) as soon as it passes ``limit`` (the rest is not read).
    Raises BodyTimeout when the whole body has not arrived within ``timeout_s``: a body of a few
    KiB that trickles in only holds a connection."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        return b"", True

    async def read() -> tuple[bytes, bool]:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return b"", True
            chunks.append(chunk)
        return b"".join(chunks), False

    try:
        return await asyncio.wait_for(read(), timeout_s)
    except TimeoutError:
        raise BodyTimeout(f"the body did not arrive within {timeout_s:.0f} s") from None


async def _stream_body(request: Request, receipt: Receipt, receiver: Receiver) -> None:
    """Feed the body to the receipt chunk by chunk, under an idle timeout and an overall deadline
    (a sender trickling bytes holds a connection and a temp file: it is refused with 408)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + receiver.body_deadline_s
    chunks = request.stream().__aiter__()
    while True:
        left = deadline - loop.time()
        wait = min(receiver.body_idle_timeout_s, left)
        if wait <= 0:
            receipt.time_out(receiver.body_deadline_s, idle=False)
            return
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), wait)
        except StopAsyncIteration:
            return
        except TimeoutError:
            idle = left > receiver.body_idle_timeout_s
            receipt.time_out(receiver.body_idle_timeout_s if idle else receiver.body_deadline_s, idle=idle)
            return
        if not receipt.feed(chunk):
            return


def create_app(receiver: Receiver, events: EventReceiver | None = None,
               desk: ConsentDesk | None = None, *, small_body_timeout_s: float = constants.BODY_IDLE_TIMEOUT_S
               ) -> Starlette:
    async def upload(request: Request) -> JSONResponse:
        length = request.headers.get("content-length")
        repeated = [h for h in (*signing.REQUIRED_HEADERS, signing.H_KEY_ID, "content-type")
                    if len(request.headers.getlist(h)) > 1]
        receipt = await run_in_threadpool(
            receiver.start, dict(request.headers),
            content_type=request.headers.get("content-type"),
            content_length=int(length) if length and length.isdigit() else None,
            filename=request.query_params.get("filename", "upload.csv")[:200],
            repeated=repeated,
        )
        if not receipt.refused_before_body:
            try:
                await _stream_body(request, receipt, receiver)
            except ClientDisconnect:
                await run_in_threadpool(receipt.abort, "the sender disconnected before the body was complete")
                return JSONResponse({"status": 400, "code": "aborted", "message": "the body was cut off"},
                                    status_code=400)
            except BaseException:
                # Cancelled (the server stopping) or failed mid-body: no partial file, no held slot.
                receipt.abort("the endpoint stopped reading the body")
                raise
        outcome = await run_in_threadpool(receipt.finish)
        headers = {"Retry-After": "30"} if outcome.status == 429 else None
        return JSONResponse(outcome.body(), status_code=outcome.status, headers=headers)

    async def _event(request: Request, receive) -> JSONResponse:
        """Read a small event body (capped, timed) and hand it to ``receive(headers, body, too_large=)``."""
        try:
            body, too_large = await _capped_body(request, events.max_bytes, small_body_timeout_s)
        except BodyTimeout as exc:
            refused = await run_in_threadpool(events.refuse, EventRefused(408, "body_timeout", str(exc)))
            return JSONResponse(refused.body, status_code=refused.status)
        outcome = await run_in_threadpool(receive, _headers(request), body, too_large=too_large)
        return JSONResponse(outcome.body, status_code=outcome.status)

    async def event(request: Request) -> JSONResponse:
        return await _event(request, events.receive)

    async def event_with_token(request: Request) -> JSONResponse:
        client_ip = request.client.host if request.client else None
        return await _event(request, lambda headers, body, too_large: events.receive_with_token(
            headers, body, client_ip=client_ip, too_large=too_large))

    def _client(request: Request) -> str:
        return request.client.host if request.client else "?"

    async def consent_page(request: Request) -> HTMLResponse:
        token = request.path_params["token"]
        if request.method == "GET":
            answer = await run_in_threadpool(desk.show, token, _client(request))
        else:
            try:
                body, too_large = await _capped_body(request, 4096, small_body_timeout_s)
            except BodyTimeout:
                return HTMLResponse("The form took too long to arrive: please submit it again.", status_code=408)
            agreed = not too_large and b"agree=yes" in body.split(b"&")
            answer = await run_in_threadpool(desk.accept, token, agreed, _client(request),
                                             request.headers.get("user-agent", ""))
        return HTMLResponse(answer.html, status_code=answer.status,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                     "X-Frame-Options": "DENY",
                                     "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                                "form-action 'self'"})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    routes = [Route("/uploads", upload, methods=["POST"]), Route("/health", health, methods=["GET"])]
    if events is not None:
        routes.append(Route("/events", event, methods=["POST"]))
        # Instantly's webhooks as it sends them: unsigned, a secret in a custom header
        routes.append(Route("/events/instantly", event_with_token, methods=["POST"]))
    if desk is not None:
        routes.append(Route("/consent/{token}", consent_page, methods=["GET", "POST"]))
    return Starlette(routes=routes)


def environment_app(database_url: str, *, upload_keys: list[signing.SigningKey] | signing.KeyRing | None = None,
                    **receiver_limits) -> Starlette:
    """The three doors as this environment configures them: uploads verified with the upload keys
    (``EC_UPLOAD_KEYS`` and the file ``EC_UPLOAD_KEYS_FILE``, re-read when it changes, unless
    ``upload_keys`` is given) into the landing directory, events verified with the event keys file
    and sealed with the environment's keys, consent links redeemed at the consent desk.
    ``receiver_limits`` go to the upload ``Receiver`` (max_bytes, max_per_key, body timeouts).
    The one wiring of the HTTP app: ``equity serve`` and the demo both use it."""
    import os

    from orchestration import settings
    from orchestration.core.landing import Landing
    from orchestration.events.receiver import KeysFile
    from orchestration.privacy import pii

    keys = signing.KeyRing.from_env(os.environ) if upload_keys is None else upload_keys
    receiver = Receiver(Landing(settings.landing_dir()), keys, database_url, **receiver_limits)
    sealer = pii.environment_sealer()
    from orchestration.events.receiver import parse_networks

    events = EventReceiver(KeysFile(settings.event_keys_file()), database_url, sealer=sealer,
                           token_networks=parse_networks(settings.value("EC_INSTANTLY_WEBHOOK_IPS")))
    return create_app(receiver, events, ConsentDesk(database_url, ip_key=sealer.index.key))


# Paths that are capabilities: whoever holds the URL may act (a consent token is single-use proof
# that the link's owner clicked). They never reach a log; the access log keeps the route only.
CAPABILITY_PATHS = re.compile(r"(/consent/)[^/?#\s]+")


def redact(path: str) -> str:
    """A request path fit for a log: every capability segment replaced by ``<redacted>``."""
    return CAPABILITY_PATHS.sub(r"\1<redacted>", path)


class RedactCapabilities(logging.Filter):
    """A filter for uvicorn's access log (whose records carry the path as their third argument)
    and any other record whose message holds a capability path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def log_config() -> dict:
    """uvicorn's own logging configuration with the capability filter on its access and error logs:
    what ``equity serve`` runs with."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_capabilities"] = {"()": f"{__name__}.RedactCapabilities"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_capabilities")
    return config
