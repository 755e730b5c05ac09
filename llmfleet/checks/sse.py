"""A Server-Sent-Events parser that follows the specification, in linear time and bounded memory.

WHATWG HTML § 9.2 "Server-sent events", parsing an event stream: the stream is UTF-8 (a leading BOM
is dropped); lines end with CRLF, LF or CR, and a CRLF may be split across two reads; a line starting
with ``:`` is a comment; ``field: value`` (one leading space of the value dropped; a line without a
colon is a field with an empty value); ``data`` lines are joined with LF; ``event`` sets the type;
``id`` (without NUL) sets the last event id; ``retry`` (digits only) the reconnection time; a blank
line dispatches the event (none when no ``data`` came); an unterminated event at the end is discarded.

Why not a library: the checks need the arrival time of each read (taken before parsing), a hard cap
on the size of one event, and invalid UTF-8 reported as a protocol error rather than replaced —
httpx-sse and sseclient decode with replacement and keep whole events in memory.

Cost: every byte is decoded once and scanned once (pieces of a long line are joined once, when the
line ends). Memory: at most ``max_event_chars`` of one event's data are kept; the rest is counted and
the event is marked ``truncated``.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_EOL = re.compile(r"\r\n|\r|\n")
DEFAULT_MAX_EVENT_CHARS = 4 * 1024 * 1024


class SSEProtocolError(Exception):
    """The byte stream is not a valid event stream (e.g. invalid UTF-8)."""


@dataclass
class SSEEvent:
    """One dispatched event."""

    data: str
    event: str = "message"
    id: str | None = None
    size: int = 0  # characters of data the server sent (also when truncated)
    truncated: bool = False  # data was longer than the cap: only the first max_event_chars are kept


class SSEParser:
    """Incremental parser: :meth:`feed` bytes, get the events they complete; :meth:`close` at the end."""

    def __init__(self, max_event_chars: int = DEFAULT_MAX_EVENT_CHARS) -> None:
        self.max_event_chars = max_event_chars
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._bytes_in = 0
        self._started = False
        self._after_cr = False
        self._line: list[str] = []
        self._line_len = 0
        self._data: list[str] = []
        self._data_len = 0
        self._has_data = False
        self._truncated = False
        self._kept_len = 0
        self._event = ""
        self.last_id: str | None = None
        self.retry_ms: int | None = None
        self.comments = 0

    # ------------------------------------------------------------------ input
    def feed(self, raw: bytes) -> list[SSEEvent]:
        """Add bytes; return the events completed by them. Raises :class:`SSEProtocolError`."""
        try:
            text = self._decoder.decode(raw)
        except UnicodeDecodeError as exc:
            raise SSEProtocolError(f"invalid UTF-8 at byte {self._bytes_in + exc.start} of the stream") from None
        self._bytes_in += len(raw)
        return self._feed_text(text)

    def close(self) -> bool:
        """End of stream. Returns True when an unterminated event (or line) was discarded, as the spec says."""
        try:
            self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise SSEProtocolError("the stream ends inside a UTF-8 sequence") from None
        return bool(self._line_len or self._has_data)

    def _feed_text(self, text: str) -> list[SSEEvent]:
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        out: list[SSEEvent] = []
        pos = 0
        if self._after_cr and text:
            self._after_cr = False
            if text[0] == "\n":
                pos = 1  # the LF of a CRLF split across two reads
        for m in _EOL.finditer(text, pos):
            self._add_to_line(text[pos : m.start()])
            pos = m.end()
            if m.group() == "\r" and pos == len(text):
                self._after_cr = True
            self._end_line(out)
        self._add_to_line(text[pos:])
        return out

    # ------------------------------------------------------------------ lines
    def _add_to_line(self, piece: str) -> None:
        if not piece:
            return
        room = self.max_event_chars + 16 - self._line_len  # the slack holds a field name and its colon
        if room > 0:
            self._line.append(piece[:room])
        if len(piece) > room:
            self._truncated = True  # only a data line can be this long; an over-long other field is cut too
        self._line_len += len(piece)

    def _end_line(self, out: list[SSEEvent]) -> None:
        line = "".join(self._line) if len(self._line) != 1 else self._line[0]
        full_len = self._line_len
        self._line, self._line_len = [], 0
        if not line:
            self._dispatch(out)
            return
        if line[0] == ":":
            self.comments += 1
            return
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
            full_len -= 1
        if field == "data":
            self._add_data(value, full_len - len(field) - len(colon))
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self.last_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        # any other field is ignored

    def _add_data(self, value: str, full_len: int) -> None:
        if self._has_data:
            self._keep("\n")
            self._data_len += 1
        self._has_data = True
        self._keep(value)
        self._data_len += full_len

    def _keep(self, piece: str) -> None:
        room = self.max_event_chars - self._kept_len
        if len(piece) > room:
            self._truncated = True
            piece = piece[: max(room, 0)]
        if piece:
            self._data.append(piece)
            self._kept_len += len(piece)

    def _dispatch(self, out: list[SSEEvent]) -> None:
        if self._has_data:
            data = "".join(self._data)
            out.append(SSEEvent(data=data, event=self._event or "message", id=self.last_id, size=self._data_len, truncated=self._truncated))
        self._data, self._data_len, self._kept_len = [], 0, 0
        self._has_data = self._truncated = False
        self._event = ""
