"""``POST /uploads``: the HTTP door for signed CSV uploads (ASGI, starlette).

202 + upload id; 400 missing/malformed headers, stale timestamp or hash mismatch; 401 bad
signature; 409 replay; 413 over the size limit (checked while streaming); 415 not CSV.
See docs/upload-protocol.md.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orchestration.ingest.receipt import Receiver


def create_app(receiver: Receiver) -> Starlette:
    async def upload(request: Request) -> JSONResponse:
        length = request.headers.get("content-length")
        receipt = await run_in_threadpool(
            receiver.start, dict(request.headers),
            content_type=request.headers.get("content-type"),
            content_length=int(length) if length and length.isdigit() else None,
            filename=request.query_params.get("filename", "upload.csv")[:200],
        )
        if receipt.refusal is None or receipt.refusal.status != 413:
            async for chunk in request.stream():
                if not receipt.feed(chunk):
                    break
        outcome = await run_in_threadpool(receipt.finish)
        return JSONResponse(outcome.body(), status_code=outcome.status)

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/uploads", upload, methods=["POST"]),
                             Route("/health", health, methods=["GET"])])
