"""Tenant branding: a versioned, audited document, public to read; logo and favicon uploads.

Branding is the tenant's public face (shown before sign-in), so it is stored as plain
data, not sealed like PII; its audit events still redact the support contact values.
Image URLs are https to public hosts only (``safe_urls``) and never fetched by us.
Uploads go straight to S3 with a presigned POST whose policy pins the content type, the
size (at most 1 MB, and at most what is left of the tenant's storage allowance:
``limits.storage``) and the exact key under the tenant's own prefix; SVG (scriptable) is
refused. An uploaded image is named in the branding by its path, ``/api/tenant/branding/assets/
<name>`` (on the tenant's own host), accepted only once the object exists under the
tenant's prefix; that public route answers with a short-lived presigned redirect, so
the bucket stays private.
"""
import re
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError
from pydantic import ConfigDict, Field, field_validator

from chalicelib import audit, lazy
from chalicelib.config import versions
from chalicelib.errors import NotFoundError, RequestValidationError
from chalicelib.fields import Model
from chalicelib.safe_urls import check_public_https_url
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.tenancy.context import current_context, current_tenant_id
from chalicelib.tenancy.tenant import Tenant
from chalicelib.tenants.models import COLOR_PATTERN, TenantProfile

if TYPE_CHECKING:
    from chalicelib import integrations
    from chalicelib.limits import storage
    from chalicelib.tenancy import clients
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    storage = lazy.module("chalicelib.limits.storage")
    clients = lazy.module("chalicelib.tenancy.clients")
    integrations = lazy.module("chalicelib.integrations")

MAX_ASSET_BYTES = 1024 * 1024
UPLOAD_EXPIRES_SECONDS = 300
IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
CACHE_CONTROL = "public, max-age=60"
ASSET_PATH = "/api/tenant/branding/assets/"
ASSET_NAME = re.compile(r"^(?:logo|favicon)-[0-9a-f]{32}\.(?:png|jpg|webp)$")
# A redirect to a presigned GET: cached for less than the URL lives.
ASSET_URL_SECONDS = 300
ASSET_CACHE_CONTROL = "public, max-age=240"
IMAGE_FIELDS = ("logo_url", "favicon_url")


class Branding(Model):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    display_name: str = Field(min_length=1, max_length=200)
    logo_url: str | None = Field(default=None, max_length=2048)
    favicon_url: str | None = Field(default=None, max_length=2048)
    primary_color: str | None = None
    secondary_color: str | None = None
    support_email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    support_phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 ().-]{4,31}$")

    @field_validator("logo_url", "favicon_url")
    @classmethod
    def _public_https(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith(ASSET_PATH):
            if not ASSET_NAME.fullmatch(value[len(ASSET_PATH):]):
                raise ValueError("not the path of an uploaded branding asset")
            return value
        return check_public_https_url(value)

    @field_validator("primary_color", "secondary_color")
    @classmethod
    def _color(cls, value: str | None) -> str | None:
        if value is not None and not COLOR_PATTERN.fullmatch(value):
            raise ValueError("colour must be #RRGGBB")
        return value.upper() if value else value


class BrandingUpdate(Branding):
    comment: str | None = Field(default=None, max_length=versions.MAX_COMMENT)


class BrandingView(Branding):
    version: int


class PublicBranding(BrandingView):
    # The analytics ids a browser loads (GA measurement id or Plausible domain) from the
    # tenant's analytics integration; not part of the versioned document.
    analytics: dict[str, str] | None = None


class AssetUploadRequest(Model):
    model_config = ConfigDict(extra="forbid")

    purpose: Literal["logo", "favicon"]
    content_type: Literal["image/png", "image/jpeg", "image/webp"]
    # The file's size, when the client knows it: the grant (and the bytes it holds
    # against the storage limit until the POST expires) is then no larger.
    size: int | None = Field(default=None, ge=1, le=MAX_ASSET_BYTES)


class AssetUpload(Model):
    url: str
    fields: dict[str, str]
    key: str
    # What to put in logo_url / favicon_url once the upload is done.
    path: str
    max_bytes: int
    expires_in: int


def _initial(tenant: Tenant) -> dict[str, Any]:
    return Branding(display_name=tenant.display_name, logo_url=tenant.logo_url,
                    primary_color=tenant.primary_color).model_dump(mode="json")


DOCUMENT = versions.Document(
    kind=keys.BRANDING, versions_kind=keys.BRANDING_VERSION, target_kind="branding",
    action=audit.Action.BRANDING_UPDATED, initial=_initial,
    snapshot=lambda document: Branding.model_validate(document).model_dump(mode="json"),
    pii=frozenset({"support_email", "support_phone"}),
)


def get_branding() -> BrandingView:
    version, document, _ = versions.state(DOCUMENT, current_context().tenant)
    return BrandingView(version=version, **document)


def _asset_key(name: str) -> str:
    return keys.tenant_object_key(current_tenant_id(), "branding", name)


def _tenant_s3() -> Any:
    """The tenant's own S3 client (its role reaches only its prefix); its credentials
    outlive a presigned asset URL."""
    return clients.for_current_tenant().s3_presigner(timedelta(seconds=ASSET_URL_SECONDS))


def _asset_exists(name: str) -> bool:
    try:
        _tenant_s3().head_object(Bucket=get_settings().assets_bucket, Key=_asset_key(name))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _check_uploaded(document: dict[str, Any]) -> None:
    """An asset path in the branding must name an object this tenant uploaded."""
    missing = [field for field in IMAGE_FIELDS
               if (document.get(field) or "").startswith(ASSET_PATH)
               and not _asset_exists(document[field][len(ASSET_PATH):])]
    if missing:
        raise RequestValidationError("no such uploaded asset", extra={"errors": [
            {"loc": ["body", field], "type": "asset_not_uploaded"} for field in missing]})


def asset_redirect(name: str) -> str:
    """A presigned GET for one of the resolved tenant's uploaded assets (404 otherwise)."""
    if not ASSET_NAME.fullmatch(name) or not _asset_exists(name):
        raise NotFoundError("no such asset")
    return str(_tenant_s3().generate_presigned_url(
        "get_object", Params={"Bucket": get_settings().assets_bucket, "Key": _asset_key(name)},
        ExpiresIn=ASSET_URL_SECONDS))


def public_branding() -> PublicBranding:
    return PublicBranding(**get_branding().model_dump(), analytics=integrations.public_analytics())


def put_branding(body: BrandingUpdate, expected: int) -> BrandingView:
    document = Branding.model_validate(body.model_dump(exclude={"comment"})).model_dump(mode="json")
    _check_uploaded(document)
    written = versions.write(DOCUMENT, document, expected, comment=body.comment)
    return BrandingView(version=written.version, **written.document)


def restore_version(number: int, expected: int) -> BrandingView:
    """A new branding version equal to version ``number`` (its URLs are checked again)."""
    old = versions.get_version(DOCUMENT, number)
    document = Branding.model_validate(old.document).model_dump(mode="json")
    _check_uploaded(document)
    written = versions.write(DOCUMENT, document, expected, comment=f"restored from version {number}",
                             restored_from=number)
    return BrandingView(version=written.version, **written.document)


def list_versions(limit: int, cursor: str | None) -> tuple[list[versions.Version], str | None]:
    return versions.list_versions(DOCUMENT, limit, cursor)


def get_version(number: int) -> versions.Version:
    return versions.get_version(DOCUMENT, number)


def sender_identity() -> tuple[str, str | None]:
    """Who mail from the bound tenant is from: its display name, and its support email
    for replies (notifications and the integration test mail both sign this way)."""
    branding = get_branding()
    return branding.display_name, branding.support_email


def profile(tenant: Tenant) -> TenantProfile:
    """GET /api/tenant's profile, its public face taken from the branding once it is set."""
    branding = get_branding()
    return TenantProfile.of(tenant).model_copy(update={
        "display_name": branding.display_name, "logo_url": branding.logo_url,
        "primary_color": branding.primary_color})


def presign_asset(body: AssetUploadRequest) -> AssetUpload:
    """A presigned POST for one image; 403 ``limit_exceeded`` when no storage is left."""
    name = f"{body.purpose}-{uuid.uuid4().hex}.{IMAGE_EXTENSIONS[body.content_type]}"
    key = _asset_key(name)
    max_bytes = storage.upload_allowance(key, body.size or MAX_ASSET_BYTES, UPLOAD_EXPIRES_SECONDS)
    # Signed with the tenant's role credentials (S3 access under its own prefix only),
    # which must outlive the POST: the presigner refreshes them if they would not.
    presigner = clients.for_current_tenant().s3_presigner(timedelta(seconds=UPLOAD_EXPIRES_SECONDS))
    post = presigner.generate_presigned_post(
        Bucket=get_settings().assets_bucket, Key=key,
        Fields={"Content-Type": body.content_type},
        Conditions=[{"Content-Type": body.content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=UPLOAD_EXPIRES_SECONDS,
    )
    return AssetUpload(url=post["url"], fields=post["fields"], key=key, path=ASSET_PATH + name,
                       max_bytes=max_bytes,
                       expires_in=UPLOAD_EXPIRES_SECONDS)
