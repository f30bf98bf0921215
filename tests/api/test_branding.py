"""Branding: public reads per resolved tenant with caching headers; versioned, audited writes;
URL hygiene; presigned uploads; GET /api/tenant follows the branding."""
from __future__ import annotations

import base64
import json

from tests.api.config_helpers import BRANDING, public_branding, put
from tests.audit_helpers import raw_items, stored_events
from tests.conftest import body_of

FULL = {"display_name": "Acme Motors", "logo_url": "https://cdn.acme-motors.example/logo.png",
        "favicon_url": "https://cdn.acme-motors.example/favicon.png", "primary_color": "#112233",
        "secondary_color": "#aabbcc", "support_email": "help@acme-motors.example", "support_phone": "+1 555 0100"}


def put_branding(client, tenant, body, version, **kwargs):
    response = put(client, tenant, BRANDING, body, version, **kwargs)
    assert response.status_code == 200, response.body
    return body_of(response)


def test_branding_is_readable_without_a_token_for_the_resolved_tenant_only(client, tenant_a, tenant_b):
    put_branding(client, tenant_a, FULL, 1)
    by_host = public_branding(client, {"Host": f"{tenant_b.slug}.localhost:8000"})
    assert by_host.status_code == 200
    assert body_of(by_host)["display_name"] == tenant_b.display_name and "Acme Motors" not in by_host.body.decode()
    by_header = public_branding(client, {"X-Tenant-ID": str(tenant_a.id)})
    assert body_of(by_header) == {**FULL, "secondary_color": "#AABBCC", "primary_color": "#112233", "version": 2}
    by_slug = public_branding(client, {"X-Tenant-ID": tenant_a.slug})
    assert body_of(by_slug)["display_name"] == "Acme Motors"
    # Sources that disagree, or none at all, are refused
    mismatch = public_branding(client, {"Host": f"{tenant_b.slug}.localhost", "X-Tenant-ID": str(tenant_a.id)})
    assert mismatch.status_code == 403
    assert public_branding(client, {}).status_code in (400, 404)


def test_branding_carries_etag_and_cache_control_and_answers_304(client, tenant_a):
    headers = {"X-Tenant-ID": str(tenant_a.id)}
    first = public_branding(client, headers)
    assert first.headers["ETag"] == '"1"' and "max-age" in first.headers["Cache-Control"]
    assert "X-Tenant-ID" in first.headers["Vary"]
    cached = public_branding(client, {**headers, "If-None-Match": '"1"'})
    assert cached.status_code == 304 and not cached.body
    put_branding(client, tenant_a, {"display_name": "Acme 2"}, 1)
    fresh = public_branding(client, {**headers, "If-None-Match": '"1"'})
    assert fresh.status_code == 200 and fresh.headers["ETag"] == '"2"'


def test_put_requires_a_current_if_match_and_versions_the_branding(client, tenant_a):
    assert put(client, tenant_a, BRANDING, FULL, None).status_code == 428
    put_branding(client, tenant_a, FULL, 1)
    stale = put(client, tenant_a, BRANDING, {"display_name": "Late"}, 1)
    assert stale.status_code == 412
    versions = sorted(json.loads(i.data)["version"] for i in raw_items(tenant_a, "BRANDVER"))
    assert versions == [1, 2]
    assert body_of(public_branding(client, {"X-Tenant-ID": str(tenant_a.id)}))["display_name"] == "Acme Motors"


def test_unsafe_or_invalid_urls_and_fields_are_refused(client, tenant_a):
    bad_urls = ["http://cdn.example.com/logo.png", "https://127.0.0.1/logo.png", "https://169.254.169.254/latest",
                "https://10.0.0.5/logo.png", "https://localhost/logo.png", "https://[::1]/logo.png",
                "file:///etc/passwd", "https://user:pw@cdn.example.com/logo.png", "javascript:alert(1)",
                "https://0x7f.0.0.1/logo.png"]
    for url in bad_urls:
        for field in ("logo_url", "favicon_url"):
            response = put(client, tenant_a, BRANDING, {"display_name": "X", field: url}, 1)
            assert response.status_code == 422, (field, url)
            assert body_of(response)["errors"][0]["loc"] == ["body", field]
    for body in ({"display_name": "X", "primary_color": "red"}, {"display_name": ""},
                 {"display_name": "X", "support_email": "nope"}, {"display_name": "X", "tenant_id": "x"},
                 {"logo_url": "https://cdn.example.com/a.png"}):
        assert put(client, tenant_a, BRANDING, body, 1).status_code == 422, body
    assert raw_items(tenant_a, "BRAND") == []


def test_branding_writes_are_audited_without_contact_values(client, tenant_a):
    put_branding(client, tenant_a, FULL, 1)
    events = [e for e in stored_events(tenant_a) if e["action"] == "branding.updated"]
    assert len(events) == 1 and events[0]["target"] == {"kind": "branding", "id": "2"}
    changes = events[0]["changes"]
    assert changes["display_name"] == {"before": "Acme", "after": "Acme Motors"}
    assert changes["support_email"]["after"] == "[redacted]"
    text = json.dumps(events)
    assert "help@acme-motors.example" not in text and "555 0100" not in text


def test_the_tenant_profile_follows_the_branding(client, tenant_a):
    put_branding(client, tenant_a, FULL, 1)
    profile = body_of(client.get("/api/tenant", tenant=tenant_a))
    assert (profile["display_name"], profile["logo_url"], profile["primary_color"]) == (
        "Acme Motors", FULL["logo_url"], "#112233")


def test_branding_writes_need_branding_write(client, tenant_a):
    assert put(client, tenant_a, BRANDING, FULL, 1, role="manager").status_code == 403
    upload = client.request("POST", f"{BRANDING}/assets", tenant=tenant_a, role="manager",
                            body={"purpose": "logo", "content_type": "image/png"})
    assert upload.status_code == 403
    assert raw_items(tenant_a, "BRAND") == []


def _policy(fields: dict) -> dict:
    return json.loads(base64.b64decode(fields["policy"]))


def test_asset_upload_is_a_presigned_post_pinned_to_type_size_and_tenant_prefix(client, tenant_a):
    response = client.request("POST", f"{BRANDING}/assets", tenant=tenant_a,
                              body={"purpose": "logo", "content_type": "image/webp"})
    assert response.status_code == 201, response.body
    upload = body_of(response)
    key = upload["key"]
    assert key.startswith(f"tenants/{tenant_a.id}/branding/logo-") and key.endswith(".webp")
    assert upload["fields"]["key"] == key and upload["fields"]["Content-Type"] == "image/webp"
    assert upload["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"  # s3v4
    assert "tenant-platform-local-assets" in upload["url"]
    conditions = _policy(upload["fields"])["conditions"]
    assert {"Content-Type": "image/webp"} in conditions
    assert ["content-length-range", 1, upload["max_bytes"]] in conditions and upload["max_bytes"] <= 1024 * 1024
    assert {"key": key} in conditions and {"bucket": "tenant-platform-local-assets"} in conditions


def test_svg_and_other_types_are_refused(client, tenant_a):
    for content_type in ("image/svg+xml", "text/html", "image/gif", "application/octet-stream"):
        response = client.request("POST", f"{BRANDING}/assets", tenant=tenant_a,
                                  body={"purpose": "logo", "content_type": content_type})
        assert response.status_code == 422 and body_of(response)["errors"][0]["loc"] == ["body", "content_type"]
    extra = client.request("POST", f"{BRANDING}/assets", tenant=tenant_a,
                           body={"purpose": "logo", "content_type": "image/png", "key": "tenants/other/x.png"})
    assert extra.status_code == 422


def test_branding_versions_are_listed_and_readable(client, tenant_a):
    put_branding(client, tenant_a, FULL, 1)
    put_branding(client, tenant_a, {"display_name": "Acme Again"}, 2)
    page = body_of(client.get(f"{BRANDING}/versions", tenant=tenant_a, role="manager"))
    assert [v["version"] for v in page["items"]] == [3, 2, 1]
    v2 = body_of(client.get(f"{BRANDING}/versions/2", tenant=tenant_a))
    assert v2["document"]["support_email"] == FULL["support_email"] and v2["changes"]["display_name"] == {
        "before": "Acme", "after": "Acme Motors"}
    assert client.get(f"{BRANDING}/versions/4", tenant=tenant_a).status_code == 404
    assert client.get(f"{BRANDING}/versions", tenant=tenant_a, role="professional").status_code == 403


def test_a_branding_version_is_restored_as_a_new_version(client, tenant_a):
    put_branding(client, tenant_a, FULL, 1)
    put_branding(client, tenant_a, {"display_name": "Acme Again"}, 2)
    restore = f"{BRANDING}/versions/2/restore"
    assert client.request("POST", restore, tenant=tenant_a).status_code == 428
    assert client.request("POST", restore, tenant=tenant_a, headers={"If-Match": '"2"'}).status_code == 412
    assert client.request("POST", restore, tenant=tenant_a, role="manager",
                          headers={"If-Match": '"3"'}).status_code == 403
    restored = client.request("POST", restore, tenant=tenant_a, headers={"If-Match": '"3"'})
    assert restored.status_code == 200 and restored.headers["ETag"] == '"4"'
    assert {k: v for k, v in body_of(restored).items() if k != "version"} == {
        **FULL, "primary_color": "#112233", "secondary_color": "#AABBCC"}
    v4 = body_of(client.get(f"{BRANDING}/versions/4", tenant=tenant_a))
    assert v4["restored_from"] == 2 and v4["changes"]["display_name"] == {"before": "Acme Again",
                                                                           "after": "Acme Motors"}
    assert body_of(public_branding(client, {"X-Tenant-ID": str(tenant_a.id)}))["display_name"] == "Acme Motors"
    assert client.request("POST", f"{BRANDING}/versions/9/restore", tenant=tenant_a,
                          headers={"If-Match": '"4"'}).status_code == 404


def test_a_display_name_set_by_a_super_admin_moves_the_public_branding(client, tenant_a):
    header = {"X-Tenant-ID": str(tenant_a.id)}
    first = public_branding(client, header)
    assert first.headers["ETag"] == '"1"'
    record = client.get(f"/api/admin/tenants/{tenant_a.id}", role="platform_admin")
    renamed = client.request("PUT", f"/api/admin/tenants/{tenant_a.id}", role="platform_admin",
                             headers={"If-Match": record.headers["ETag"]}, body={"display_name": "Acme Renamed"})
    assert renamed.status_code == 200, renamed.body
    # A cached copy is now stale: If-None-Match with the old tag gets the new document.
    after = public_branding(client, {**header, "If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] == '"2"'
    assert body_of(after)["display_name"] == "Acme Renamed"
    v2 = body_of(client.get(f"{BRANDING}/versions/2", tenant=tenant_a))
    assert v2["actor"]["platform_admin"] is True and v2["changes"]["display_name"] == {
        "before": tenant_a.display_name, "after": "Acme Renamed"}
    assert body_of(client.get(f"{BRANDING}/versions/1", tenant=tenant_a))["document"]["display_name"] == (
        tenant_a.display_name)
    # The tenant's own later edits start from it; the same name again writes no version.
    put_branding(client, tenant_a, {"display_name": "Acme Renamed", "primary_color": "#000000"}, 2)
    record = client.get(f"/api/admin/tenants/{tenant_a.id}", role="platform_admin")
    client.request("PUT", f"/api/admin/tenants/{tenant_a.id}", role="platform_admin",
                   headers={"If-Match": record.headers["ETag"]}, body={"name": "Acme Holdings"})
    assert public_branding(client, header).headers["ETag"] == '"3"'


def test_a_rename_racing_a_branding_write_changes_nothing(client, tenant_a, monkeypatch):
    from chalicelib.config import branding, versions

    record = client.get(f"/api/admin/tenants/{tenant_a.id}", role="platform_admin")
    real_prepare = versions.prepare

    def branding_written_meanwhile(*args, **kwargs):
        prepared = real_prepare(*args, **kwargs)
        monkeypatch.setattr(versions, "prepare", real_prepare)
        # Another writer (same tenant bound) stores version 2 first and wins the race.
        branding.put_branding(branding.BrandingUpdate(display_name="Tenant's Own"), 1)
        return prepared

    monkeypatch.setattr(versions, "prepare", branding_written_meanwhile)
    raced = client.request("PUT", f"/api/admin/tenants/{tenant_a.id}", role="platform_admin",
                           headers={"If-Match": record.headers["ETag"]}, body={"display_name": "Admin's"})
    assert raced.status_code == 409 and body_of(raced)["conflict"] == "concurrent_change"
    monkeypatch.undo()
    assert body_of(client.get(f"/api/admin/tenants/{tenant_a.id}", role="platform_admin"))["display_name"] == (
        tenant_a.display_name)
    assert body_of(public_branding(client, {"X-Tenant-ID": str(tenant_a.id)}))["display_name"] == "Tenant's Own"


def _uploaded(client, tenant, purpose: str = "logo") -> dict:
    from chalicelib import aws
    from chalicelib.settings import get_settings

    upload = body_of(client.request("POST", f"{BRANDING}/assets", tenant=tenant,
                                    body={"purpose": purpose, "content_type": "image/png"}))
    aws.client("s3").put_object(Bucket=get_settings().assets_bucket, Key=upload["key"], Body=b"\x89PNG-bytes",
                                ContentType="image/png")
    return upload


def test_an_uploaded_asset_is_named_by_path_and_served_by_redirect(client, tenant_a, tenant_b):
    upload = _uploaded(client, tenant_a)
    assert upload["path"].startswith("/api/tenant/branding/assets/logo-") and upload["path"].endswith(".png")
    branded = put_branding(client, tenant_a, {"display_name": "Acme", "logo_url": upload["path"]}, 1)
    assert branded["logo_url"] == upload["path"]
    served = client.request("GET", upload["path"], role=None, headers={"X-Tenant-ID": tenant_a.slug})
    assert served.status_code == 302, served.body
    location = served.headers["Location"]
    assert upload["key"] in location and "X-Amz-Signature" in location and "X-Amz-Expires=300" in location
    assert served.headers["Cache-Control"] == "public, max-age=240"
    # Tenant B's host does not serve A's asset, and B cannot name A's upload in its branding.
    assert client.request("GET", upload["path"], role=None,
                          headers={"X-Tenant-ID": tenant_b.slug}).status_code == 404
    foreign = put(client, tenant_b, BRANDING, {"display_name": "B", "logo_url": upload["path"]}, 1)
    assert foreign.status_code == 422 and body_of(foreign)["errors"][0]["type"] == "asset_not_uploaded"


def test_asset_paths_must_name_an_upload(client, tenant_a):
    never = "/api/tenant/branding/assets/favicon-" + "0" * 32 + ".png"
    response = put(client, tenant_a, BRANDING, {"display_name": "Acme", "favicon_url": never}, 1)
    assert response.status_code == 422 and body_of(response)["errors"] == [
        {"loc": ["body", "favicon_url"], "type": "asset_not_uploaded"}]
    for bad in ("/api/tenant/branding/assets/../../secrets.png", "/api/tenant/branding/assets/logo.svg",
                "/api/tenant/branding/assets/logo-" + "0" * 32 + ".png?x=1", "/etc/passwd"):
        assert put(client, tenant_a, BRANDING, {"display_name": "Acme", "logo_url": bad}, 1).status_code == 422
    for bad_name in ("logo.svg", "x" * 300, "logo-" + "0" * 32 + ".gif"):
        assert client.request("GET", f"{BRANDING}/assets/{bad_name}", role=None,
                              headers={"X-Tenant-ID": tenant_a.slug}).status_code == 404
    assert body_of(client.get(BRANDING + "/versions", tenant=tenant_a))["items"][0]["version"] == 1
