"""The export file formats, written incrementally with state that survives a checkpoint.

An export may span several Lambda invocations. Python's compressor (``zlib``) and hash
objects cannot be pickled, so neither writer keeps one across a checkpoint. Instead a
checkpoint ends the current deflate data with a *full flush* (byte-aligned, no
back-reference across it, no final block); the next invocation starts a fresh raw
deflate compressor whose blocks simply follow. The result is one valid deflate stream.
What must carry over is plain numbers (CRC-32, which ``zlib.crc32`` continues from a
previous value, sizes, offsets) and, for the zip, the entries written so far: that is
``state()``, stored on the export record.

* ``json``: one gzip member (RFC 1952) holding NDJSON, a line
  ``{"entity": "<name>", "record": {...}}`` per item. One line at a time, so a reader
  never needs the whole file in memory.
* ``csv``: a zip (PKWARE APPNOTE) with one ``<entity>.csv`` per entity, header row
  first; entries use data descriptors (sizes after the data), so nothing is seeked
  back. Nested values (lists, objects) are JSON in their cell. No ZIP64: an entry or
  archive beyond 4 GiB fails the export with a clear reason.
"""
from __future__ import annotations

import csv
import io
import json
import struct
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

Emit = Callable[[bytes], None]
_ZIP32_LIMIT = 0xFFFFFFFF


class ExportTooLargeError(Exception):
    """The archive would need ZIP64; the export fails with this reason."""


class _Deflate:
    """Raw deflate with a CRC-32 and sizes that continue across checkpoints."""

    def __init__(self, crc: int = 0, size: int = 0, compressed: int = 0) -> None:
        self._z = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.crc, self.size, self.compressed = crc, size, compressed

    def compress(self, data: bytes) -> bytes:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        return self._count(self._z.compress(data))

    def sync(self) -> bytes:
        """Everything so far, byte-aligned and self-contained: a new compressor may follow."""
        return self._count(self._z.flush(zlib.Z_FULL_FLUSH))

    def finish(self) -> bytes:
        return self._count(self._z.flush(zlib.Z_FINISH))

    def _count(self, out: bytes) -> bytes:
        self.compressed += len(out)
        return out


def _cell(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return "" if value is None else value


class GzipNdjsonWriter:
    suffix, content_type = "ndjson.gz", "application/gzip"

    def __init__(self, emit: Emit, state: dict[str, Any] | None = None) -> None:
        self._emit = emit
        state = state or {}
        self._started = bool(state.get("started"))
        self._deflate = _Deflate(int(state.get("crc", 0)), int(state.get("size", 0)))
        self._entity = ""

    def begin(self) -> None:
        if not self._started:
            # magic, deflate, no flags, mtime 0 (reproducible), no extra flags, OS unknown
            self._emit(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
            self._started = True

    def begin_entity(self, entity: str, columns: list[str], resumed: bool) -> None:
        self._entity = entity

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps({"entity": self._entity, "record": record}, separators=(",", ":"), default=str)
        self._emit(self._deflate.compress(line.encode() + b"\n"))

    def end_entity(self) -> None:
        return None

    def state(self) -> dict[str, Any]:
        """Call after :meth:`checkpoint`: what a new writer needs to carry on."""
        return {"started": self._started, "crc": self._deflate.crc, "size": self._deflate.size}

    def checkpoint(self) -> None:
        self._emit(self._deflate.sync())

    def finish(self) -> None:
        self._emit(self._deflate.finish())
        self._emit(struct.pack("<II", self._deflate.crc, self._deflate.size & 0xFFFFFFFF))


class ZipCsvWriter:
    suffix, content_type = "zip", "application/zip"
    _FLAGS = 0x08 | 0x800  # sizes in a data descriptor; names are UTF-8

    def __init__(self, emit: Emit, state: dict[str, Any] | None = None, when: datetime | None = None) -> None:
        state = state or {}
        self._emit_raw = emit
        self._offset = int(state.get("offset", 0))
        self._entries: list[list[Any]] = [list(e) for e in state.get("entries", [])]
        current = state.get("current")
        self._current: dict[str, Any] | None = dict(current) if current else None
        self._deflate = _Deflate(*(int(self._current[k]) for k in ("crc", "size", "compressed"))) \
            if self._current else None
        when = when or datetime(1980, 1, 1)
        self._dos_time = state.get("dos_time") or [
            (when.hour << 11) | (when.minute << 5) | (when.second // 2),
            ((max(when.year, 1980) - 1980) << 9) | (when.month << 5) | when.day,
        ]
        self._columns: list[str] = list(self._current["columns"]) if self._current else []

    def _emit(self, data: bytes) -> None:
        self._offset += len(data)
        if self._offset > _ZIP32_LIMIT:
            raise ExportTooLargeError("the csv archive would exceed 4 GiB (ZIP64 is not written)")
        self._emit_raw(data)

    def begin(self) -> None:
        return None

    def begin_entity(self, entity: str, columns: list[str], resumed: bool) -> None:
        if resumed and self._current is not None:
            return  # the entry was opened (header row included) before the checkpoint
        name = f"{entity}.csv".encode()
        self._current = {"name": name.decode(), "offset": self._offset, "columns": columns}
        self._columns = columns
        self._deflate = _Deflate()
        time_, date_ = self._dos_time
        self._emit(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, self._FLAGS, 8, time_, date_, 0, 0, 0,
                               len(name), 0) + name)
        self._row(columns)

    def _row(self, values: list[Any]) -> None:
        if self._deflate is None:
            raise RuntimeError("no open entry")
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerow(values)
        self._emit(self._deflate.compress(text.getvalue().encode()))

    def write(self, record: dict[str, Any]) -> None:
        self._row([_cell(record.get(column)) for column in self._columns])

    def end_entity(self) -> None:
        if self._current is None or self._deflate is None:
            raise RuntimeError("no open entry")
        self._emit(self._deflate.finish())
        d = self._deflate
        if d.size > _ZIP32_LIMIT:
            raise ExportTooLargeError("a csv file would exceed 4 GiB (ZIP64 is not written)")
        self._emit(struct.pack("<IIII", 0x08074B50, d.crc, d.compressed, d.size))
        self._entries.append([self._current["name"], self._current["offset"], d.crc, d.compressed, d.size])
        self._current, self._deflate = None, None

    def checkpoint(self) -> None:
        if self._deflate is not None:
            self._emit(self._deflate.sync())

    def state(self) -> dict[str, Any]:
        current = None
        if self._current is not None and self._deflate is not None:
            current = {**self._current, "crc": self._deflate.crc, "size": self._deflate.size,
                       "compressed": self._deflate.compressed}
        return {"offset": self._offset, "entries": self._entries, "current": current, "dos_time": self._dos_time}

    def finish(self) -> None:
        start = self._offset
        time_, date_ = self._dos_time
        for name, offset, crc, compressed, size in self._entries:
            raw = name.encode()
            self._emit(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, self._FLAGS, 8, time_, date_,
                                   crc, compressed, size, len(raw), 0, 0, 0, 0, 0, offset) + raw)
        size = self._offset - start
        self._emit(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(self._entries), len(self._entries),
                               size, start, 0))


Writer = GzipNdjsonWriter | ZipCsvWriter


def writer_for(fmt: str, emit: Emit, state: dict[str, Any] | None, when: datetime) -> Writer:
    if fmt == "json":
        return GzipNdjsonWriter(emit, state)
    return ZipCsvWriter(emit, state, when)
