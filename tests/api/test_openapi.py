"""GET /api/openapi.json is generated from the route table and the routes' models."""
from __future__ import annotations

from openapi_spec_validator import validate

from tests.conftest import body_of


def test_the_document_is_valid_openapi_and_lists_every_route(client):
    from app import app

    response = client.get("/api/openapi.json", role=None)
    assert response.status_code == 200
    document = body_of(response)
    validate(document)
    assert document["openapi"].startswith("3.1")
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    routed = {(path, method.lower()) for path, methods in app.routes.items() for method in methods}
    assert documented == routed


def test_operations_carry_access_permission_and_models(client):
    document = body_of(client.get("/api/openapi.json", role=None))
    create = document["paths"]["/api/professionals"]["post"]
    assert create["x-access"] == "tenant" and create["x-permission"] == "professionals:write"
    assert create["security"] == [{"bearer": []}]
    schema_name = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    schema = document["components"]["schemas"][schema_name]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["email"].get("x-pii") is True
    assert {"401", "403", "404", "422", "500"} <= set(create["responses"])
    health = document["paths"]["/api/health"]["get"]
    # The document requires a bearer token by default; a public operation overrides it with none.
    assert health["x-access"] == "public" and health["security"] == []
