"""Captured driver output: at most OUTPUT_CAP bytes of valid UTF-8 without NULs, head and tail kept.

A huge output keeps its first quarter and its last three quarters (where errors usually are),
joined by a marker that says how much was left out.
"""

from __future__ import annotations

OUTPUT_CAP = 64 * 1024
_HEAD_SHARE = 4  # the head keeps 1/4 of the cap, the tail the rest


def _marker(omitted: int) -> str:
    return f"\n[... {omitted} bytes omitted ...]\n"


def _clean(data: bytes) -> str:
    return data.decode("utf-8", errors="replace").replace("\x00", "")


def cap_text(text: str, cap: int = OUTPUT_CAP) -> str:
    """``text`` without NULs, cut to at most ``cap`` UTF-8 bytes (head and tail kept)."""
    data = text.replace("\x00", "").encode("utf-8", errors="replace")
    if len(data) <= cap:
        return data.decode("utf-8")
    marker = _marker(len(data) - cap)  # an upper bound on what is left out; good enough for a reader
    room = max(cap - len(marker.encode()), 0)
    head_len = room // _HEAD_SHARE
    tail_len = room - head_len
    head = data[:head_len].decode("utf-8", errors="ignore")  # a character cut in two is dropped
    tail = data[len(data) - tail_len :].decode("utf-8", errors="ignore") if tail_len else ""
    return head + marker + tail


class OutputBuffer:
    """Collects a stream of bytes, keeping only the head and tail, so a chatty child costs bounded memory."""

    def __init__(self, cap: int = OUTPUT_CAP) -> None:
        self.head_cap = cap // _HEAD_SHARE
        self.tail_cap = cap - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.tail_cap:
                del self.tail[: len(self.tail) - self.tail_cap]

    @property
    def omitted(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        """Decoded (invalid bytes replaced, NULs removed) and capped."""
        if self.omitted <= 0:
            return cap_text(_clean(bytes(self.head + self.tail)))
        return cap_text(_clean(bytes(self.head)) + _marker(self.omitted) + _clean(bytes(self.tail)))

    def last_line(self) -> str:
        """The last non-empty line of what was kept (for a JSON status line)."""
        kept = self.head + self.tail if self.omitted <= 0 else self.tail
        lines = [line for line in _clean(bytes(kept)).splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""
