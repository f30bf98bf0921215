"""The export writers: valid gzip and zip files, including across checkpoints (a new writer
resumes from the saved state, as the next Lambda invocation does)."""
from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from datetime import datetime
from typing import Any

import pytest

from chalicelib.exports.writers import ExportTooLargeError, ZipCsvWriter, writer_for

WHEN = datetime(2026, 11, 27, 13, 5, 7)
COLUMNS = ["id", "name", "tags", "note"]


def _write(fmt: str, entities: dict[str, int], checkpoints: set[tuple[str, int]]) -> bytes:
    """Write ``entities`` (name -> row count), checkpointing and resuming at each (name, row)."""
    out = bytearray()
    writer = writer_for(fmt, out.extend, None, WHEN)
    writer.begin()
    for entity, count in entities.items():
        writer.begin_entity(entity, COLUMNS, resumed=False)
        for n in range(count):
            writer.write({"id": n, "name": f'Ana "Q", {n}', "tags": ["a", n], "note": None})
            if (entity, n) in checkpoints:
                writer.checkpoint()
                state = json.loads(json.dumps(writer.state()))  # stored as JSON on the record
                writer = writer_for(fmt, out.extend, state, WHEN)
                writer.begin()
                writer.begin_entity(entity, COLUMNS, resumed=True)
        writer.end_entity()
    writer.finish()
    return bytes(out)


@pytest.mark.parametrize("checkpoints", [set(), {("customers", 0), ("customers", 700), ("professionals", 1499)}])
def test_ndjson_gzip_is_one_valid_member_across_checkpoints(checkpoints):
    blob = _write("json", {"customers": 1000, "professionals": 1500}, checkpoints)
    lines = [json.loads(line) for line in gzip.decompress(blob).decode().splitlines()]
    assert [line["entity"] for line in lines] == ["customers"] * 1000 + ["professionals"] * 1500
    assert [line["record"]["id"] for line in lines[:1000]] == list(range(1000))
    assert lines[1001]["record"] == {"id": 1, "name": 'Ana "Q", 1', "tags": ["a", 1], "note": None}


@pytest.mark.parametrize("checkpoints", [set(), {("customers", 10), ("customers", 999), ("referrals", 3)}])
def test_zip_has_one_csv_per_entity_with_a_header_across_checkpoints(checkpoints):
    blob = _write("csv", {"customers": 1000, "referrals": 5, "audit": 0}, checkpoints)
    archive = zipfile.ZipFile(io.BytesIO(blob))
    assert archive.testzip() is None  # every CRC checks
    assert archive.namelist() == ["customers.csv", "referrals.csv", "audit.csv"]
    assert archive.infolist()[0].date_time == (2026, 11, 27, 13, 5, 6)
    rows: dict[str, list[dict[str, Any]]] = {
        name.removesuffix(".csv"): list(csv.DictReader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))
        for name in archive.namelist()}
    assert len(rows["customers"]) == 1000 and len(rows["referrals"]) == 5 and rows["audit"] == []
    assert rows["customers"][7] == {"id": "7", "name": 'Ana "Q", 7', "tags": '["a",7]', "note": ""}
    with archive.open("audit.csv") as empty:
        assert empty.read().decode().splitlines() == [",".join(COLUMNS)]


def test_a_zip_past_four_gib_is_refused_not_corrupted():
    writer = ZipCsvWriter(lambda b: None, {"offset": 0xFFFFFFF0, "entries": [], "current": None}, WHEN)
    with pytest.raises(ExportTooLargeError):
        writer.begin_entity("customers", COLUMNS, resumed=False)
