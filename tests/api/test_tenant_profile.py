from tests.conftest import body_of


def test_health_needs_no_token(client):
    response = client.get("/api/health", role=None)
    assert response.status_code == 200
    assert body_of(response) == {"status": "ok", "stage": "local"}
    assert response.headers["X-Request-ID"]


def test_profile_of_the_token_tenant(client, tenant_a, tenant_b):
    response = client.get("/api/tenant", tenant=tenant_a)
    assert response.status_code == 200
    assert body_of(response) == {
        "id": str(tenant_a.id), "slug": "acme", "display_name": "Acme", "logo_url": None,
        "primary_color": None, "status": "active",
    }


def test_profile_without_token_is_401_problem(client, tenant_a):
    response = client.get("/api/tenant", role=None)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = body_of(response)
    assert problem["code"] == "unauthorized" and problem["request_id"] == response.headers["X-Request-ID"]


def test_request_id_is_echoed(client, tenant_a):
    response = client.get("/api/tenant", tenant=tenant_a, headers={"X-Request-ID": "req-12345678"})
    assert response.headers["X-Request-ID"] == "req-12345678"
