"""The sender's side of the upload protocol: sign a file and POST it (``equity upload``), used by
operators' scripts and the demo."""

from __future__ import annotations

import os
from pathlib import Path

from orchestration import settings
from orchestration.ingest import signing


def client_key() -> signing.SigningKey:
    """The sender's key: EC_UPLOAD_KEY ('key_id:secret'), else the first active local key."""
    spec = os.environ.get("EC_UPLOAD_KEY")
    keys = signing.parse_keys(spec) if spec else signing.load_keys(
        {"EC_UPLOAD_KEYS_FILE": str(settings.upload_keys_file())} if settings.upload_keys_file().exists() else {})
    if not keys:
        raise SystemExit("no upload key: set EC_UPLOAD_KEY='key_id:secret' (or run `equity keys init` for a local key)")
    return keys[0]


def upload_file(path: Path, source: str, url: str, timeout: float = 300.0, *,
                cost_usd: str | None = None) -> tuple[int, dict]:
    """Sign ``path`` with the sender's key and POST it to ``url``/uploads: (HTTP status, JSON body).
    ``cost_usd``: what the list cost (sent as X-List-Cost-USD, for the vendor-ROI dashboard)."""
    import httpx

    body = path.read_bytes()
    headers = signing.sign(body, source=source, key=client_key())
    headers["Content-Type"] = "text/csv"
    if cost_usd is not None:
        headers[signing.H_COST] = cost_usd
    resp = httpx.post(url.rstrip("/") + "/uploads", params={"filename": path.name}, content=body,
                      headers=headers, timeout=timeout)
    try:
        payload = resp.json()
    except ValueError:
        payload = {"message": resp.text[:500]}
    return resp.status_code, payload
