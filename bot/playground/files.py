"""Files uploaded the way ``files_upload_v2`` does it, kept and served like Slack's.

1. ``files.getUploadURLExternal`` (filename, length, alt_txt, snippet_type) reserves a file: ``file_id`` and an
   ``upload_url`` on the emulator's own server (``POST /upload/v1/<token>``, no token needed, as on files.slack.com).
2. The bytes are POSTed to that URL; their length must be the one announced (else HTTP 400 and nothing is kept).
3. ``files.completeUploadExternal`` (files=[{id, title}], channel_id, thread_ts, initial_comment) shares them: one
   message in the channel (or the thread) with a ``files`` array as Slack's (id, name, title, mimetype, alt_txt,
   url_private …). The bytes are served at ``GET /files/<id>/<name>`` (``url_private``).

Errors as Slack names them: ``invalid_arguments`` (missing filename, a length that is no positive number, alt text
over 1,000 characters, ``files`` that is not a JSON array of ids), ``file_not_found`` (an id never reserved),
``file_upload_incomplete`` (no bytes were uploaded for it), ``file_already_completed`` (completing twice).
"""

from __future__ import annotations

import mimetypes
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.playground.ids import IdMinter

MAX_ALT_CHARS = 1000
MAX_FILE_BYTES = 1024 * 1024 * 1024  # Slack's limit: 1 GB
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class FileError(Exception):
    """A Slack error code for a files.* method."""

    def __init__(self, error: str, message: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = [f"[ERROR] {message}"] if message else []


@dataclass
class StoredFile:
    id: str
    name: str
    length: int
    alt_txt: str | None
    snippet_type: str | None
    upload_token: str
    created: int = field(default_factory=lambda: int(time.time()))
    data: bytes | None = None
    title: str | None = None
    completed: bool = False

    @property
    def mimetype(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    @property
    def filetype(self) -> str:
        return self.name.rsplit(".", 1)[-1].lower() if "." in self.name else "binary"


class FileStore:
    def __init__(self, ids: IdMinter, base_url: Callable[[], str]) -> None:
        self.ids = ids
        self.base_url = base_url
        self.files: dict[str, StoredFile] = {}
        self._by_token: dict[str, str] = {}

    def register(self, app: web.Application) -> None:
        app.router.add_post("/upload/v1/{token}", self.receive)
        app.router.add_get("/files/{file_id}/{name}", self.serve)

    # -- the three steps ---------------------------------------------------------------------------

    def reserve(self, params: dict[str, Any]) -> dict[str, Any]:
        """files.getUploadURLExternal."""
        name = str(params.get("filename") or "").strip()
        if not name:
            raise FileError("invalid_arguments", "missing required field: filename")
        try:
            length = int(str(params.get("length") or ""))
        except ValueError as exc:
            raise FileError("invalid_arguments", "length must be a number of bytes") from exc
        if length <= 0:
            raise FileError("invalid_arguments", "length must be at least 1")
        if length > MAX_FILE_BYTES:
            raise FileError("file_size_limit_exceeded")
        alt = params.get("alt_txt")
        if alt is not None and len(str(alt)) > MAX_ALT_CHARS:
            raise FileError("invalid_arguments", f"alt_txt must be at most {MAX_ALT_CHARS} characters")
        token = secrets.token_urlsafe(16)
        stored = StoredFile(
            id=self.ids.next("F0"),
            name=name,
            length=length,
            alt_txt=str(alt) if alt else None,
            snippet_type=str(params["snippet_type"]) if params.get("snippet_type") else None,
            upload_token=token,
        )
        self.files[stored.id] = stored
        self._by_token[token] = stored.id
        return {"upload_url": f"{self.base_url()}/upload/v1/{token}", "file_id": stored.id}

    async def receive(self, request: web.Request) -> web.Response:
        """The POST of the bytes to an upload URL."""
        file_id = self._by_token.get(request.match_info["token"])
        stored = self.files.get(file_id) if file_id else None
        if stored is None or stored.completed:
            return web.Response(status=404, text="upload url not found")
        data = await request.read()
        if len(data) != stored.length:
            return web.Response(status=400, text=f"length mismatch: {stored.length} bytes announced, {len(data)} sent")
        stored.data = data
        return web.Response(status=200, text=f"OK - {len(data)}")

    def complete(self, files: Any) -> list[StoredFile]:
        """files.completeUploadExternal's ``files``: every id was reserved, uploaded and not yet completed."""
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) and f.get("id") for f in files):
            raise FileError("invalid_arguments", "files must be a JSON array of objects with an id")
        found = []
        for entry in files:
            stored = self.files.get(str(entry["id"]))
            if stored is None:
                raise FileError("file_not_found")
            if stored.completed:
                raise FileError("file_already_completed")
            if stored.data is None:
                raise FileError("file_upload_incomplete")
            found.append(stored)
        for entry, stored in zip(files, found, strict=True):
            stored.title = str(entry.get("title") or stored.name)
            stored.completed = True
        return found

    # -- what Slack shows of a file ----------------------------------------------------------------

    def url_of(self, stored: StoredFile) -> str:
        return f"{self.base_url()}/files/{stored.id}/{stored.name}"

    def describe(self, stored: StoredFile, user: str) -> dict[str, Any]:
        """The file object of a message's ``files`` array."""
        info: dict[str, Any] = {
            "id": stored.id,
            "created": stored.created,
            "timestamp": stored.created,
            "name": stored.name,
            "title": stored.title or stored.name,
            "mimetype": stored.mimetype,
            "filetype": stored.filetype,
            "pretty_type": stored.filetype.upper(),
            "user": user,
            "size": stored.length,
            "mode": "hosted",
            "is_external": False,
            "is_public": True,
            "url_private": self.url_of(stored),
            "url_private_download": f"{self.url_of(stored)}?download=1",
            "permalink": self.url_of(stored),
        }
        if stored.alt_txt:
            info["alt_txt"] = stored.alt_txt
        size = png_size(stored.data or b"")
        if size is not None:
            info["original_w"], info["original_h"] = size
        return info

    async def serve(self, request: web.Request) -> web.Response:
        stored = self.files.get(request.match_info["file_id"])
        if stored is None or not stored.completed or stored.data is None or request.match_info["name"] != stored.name:
            return web.Response(status=404, text="file not found")
        return web.Response(body=stored.data, content_type=stored.mimetype, headers={"Cache-Control": "no-cache"})


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk; None when ``data`` is no PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)
