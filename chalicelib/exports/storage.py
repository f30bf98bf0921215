"""The export object in S3: a multipart upload under the tenant's prefix, SSE-KMS with the
tenant's own key, written from a bounded buffer.

S3 refuses parts under 5 MiB except the last, so bytes are buffered until a part is
full (``settings.export_part_size_bytes``); memory stays at about one part whatever the
export's size. At a checkpoint the bytes not yet in a part are *parked* in a small
object beside the export (same prefix, same key) and read back by the next run: the
record's 400 KB item limit could not hold them. A parked object is named after the run
that parked it, so a run that crashes after parking never spoils the checkpoint the
record still points at.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any
from uuid import UUID

from chalicelib.exports.models import Part
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.tenancy import clients

PRESIGNED_URL_SECONDS = 300
_READ_CHUNK = 1024 * 1024


def object_key(tenant_id: UUID, export_id: UUID, suffix: str) -> str:
    return keys.tenant_object_key(tenant_id, "exports", f"{export_id}.{suffix}")


def _s3() -> Any:
    # The tenant's own client: its role reaches only its prefix, and only its key.
    return clients.for_current_tenant().s3


def _encryption(kms_key: str) -> dict[str, str]:
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key}


class MultipartObject:
    """Bytes in, parts out. ``hasher`` sees every byte when the whole object passes here."""

    def __init__(self, key: str, kms_key: str, upload_id: str, parts: list[Part], track_hash: bool) -> None:
        self.key, self.kms_key, self.upload_id = key, kms_key, upload_id
        self.parts = list(parts)
        self.part_size = get_settings().export_part_size_bytes
        self.buffer = bytearray()
        self.hasher = hashlib.sha256() if track_hash else None

    @classmethod
    def start(cls, key: str, kms_key: str, content_type: str) -> MultipartObject:
        upload = _s3().create_multipart_upload(Bucket=get_settings().exports_bucket, Key=key,
                                               ContentType=content_type, **_encryption(kms_key))
        return cls(key, kms_key, upload["UploadId"], [], track_hash=True)

    def write(self, data: bytes) -> None:
        self.buffer += data
        if self.hasher is not None:
            self.hasher.update(data)
        if len(self.buffer) >= self.part_size:
            self._upload(bytes(self.buffer))
            self.buffer.clear()

    def _upload(self, body: bytes) -> None:
        number = len(self.parts) + 1
        answer = _s3().upload_part(Bucket=get_settings().exports_bucket, Key=self.key, UploadId=self.upload_id,
                                   PartNumber=number, Body=body)
        self.parts.append(Part(number=number, etag=answer["ETag"]))

    def park(self, step: int) -> str:
        """Store the bytes not yet in a part; the key to :meth:`restore` them from."""
        key = f"{self.key}.pending-{step}"
        _s3().put_object(Bucket=get_settings().exports_bucket, Key=key, Body=bytes(self.buffer),
                         **_encryption(self.kms_key))
        return key

    def restore(self, pending_key: str) -> None:
        body = _s3().get_object(Bucket=get_settings().exports_bucket, Key=pending_key)["Body"]
        self.buffer = bytearray(body.read())

    def complete(self) -> None:
        if self.buffer or not self.parts:
            self._upload(bytes(self.buffer))
            self.buffer.clear()
        _s3().complete_multipart_upload(
            Bucket=get_settings().exports_bucket, Key=self.key, UploadId=self.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in self.parts]})


def discard(key: str | None) -> None:
    if key:
        _s3().delete_object(Bucket=get_settings().exports_bucket, Key=key)


def abort(key: str | None, upload_id: str | None) -> None:
    if key and upload_id:
        s3 = _s3()
        try:
            s3.abort_multipart_upload(Bucket=get_settings().exports_bucket, Key=key, UploadId=upload_id)
        except s3.exceptions.NoSuchUpload:
            return


def upload_open(key: str, upload_id: str) -> bool:
    """False when the multipart upload is gone: completed (or aborted) by an earlier run
    whose record update was then lost, e.g. to a dropped DynamoDB connection."""
    s3 = _s3()
    try:
        s3.list_parts(Bucket=get_settings().exports_bucket, Key=key, UploadId=upload_id, MaxParts=1)
    except s3.exceptions.NoSuchUpload:
        return False
    return True


def describe(key: str) -> tuple[int, str | None]:
    """(size, SSE-KMS key id) of the stored object."""
    head = _s3().head_object(Bucket=get_settings().exports_bucket, Key=key)
    return int(head["ContentLength"]), head.get("SSEKMSKeyId")


def sha256_of(key: str) -> str:
    """The object's SHA-256, read back in chunks (constant memory)."""
    body = _s3().get_object(Bucket=get_settings().exports_bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(_READ_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def presigned_download(key: str, filename: str) -> str:
    presigner = clients.for_current_tenant().s3_presigner(timedelta(seconds=PRESIGNED_URL_SECONDS))
    return str(presigner.generate_presigned_url(
        "get_object",
        Params={"Bucket": get_settings().exports_bucket, "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{filename}"'},
        ExpiresIn=PRESIGNED_URL_SECONDS,
    ))
