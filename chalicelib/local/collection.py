"""An HTTP collection generated from the OpenAPI document: one ``.http`` file per tag.

The files use the request format that VS Code's REST Client and JetBrains' HTTP Client
both read (``###`` between requests, ``@name = value`` file variables, ``{{name}}``).
``make run`` writes them to ``.local/http/`` with the tokens it minted, so after it starts
a developer opens a file and sends requests: platform routes carry the super-admin's
token, tenant routes the demo tenant admin's, public routes none. Path parameters are file
variables with a value from the demo tenant where one is known; bodies are the document's
examples.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_PARAMETER = re.compile(r"{([^}]+)}")
TOKEN_FOR_ACCESS = {"platform": "adminToken", "tenant": "demoToken"}
# Values that exist in the demo tenant (or are safe to try) for path parameters.
_KNOWN = {"slug": "brakes-and-suspension", "n": "1", "kind": "email", "plans_name": "standard",
          "roles_name": "manager", "assets_name": "logo.png", "tenants_id": "demo"}


def variable_for(path: str, parameter: str) -> str:
    """``/api/professionals/{id}`` -> ``professionals_id``: one variable per kind of id."""
    before = path.split("{" + parameter + "}")[0].rstrip("/").rsplit("/", 1)[-1]
    return f"{before.replace('-', '_')}_{parameter}" if parameter in ("id", "name") else parameter


def _request(method: str, path: str, op: dict[str, Any]) -> str:
    target = _PARAMETER.sub(lambda m: "{{" + variable_for(path, m.group(1)) + "}}", path)
    lines = [f"### {op['operationId']}: {op.get('summary', '')}".rstrip(": "),
             f"# @name {op['operationId']}", f"{method.upper()} {{{{baseUrl}}}}{target}"]
    token = TOKEN_FOR_ACCESS.get(op.get("x-access", ""))
    if token:
        lines.append(f"Authorization: Bearer {{{{{token}}}}}")
    elif op.get("x-access") == "public_tenant":
        lines.append("X-Tenant-ID: {{tenant}}")
    refs = {p.get("$ref", "").rsplit("/", 1)[-1] for p in op.get("parameters", [])}
    if {"IfMatch", "IfMatchOptional"} & refs:
        lines.append('If-Match: "{{version}}"')
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        lines.append("Content-Type: application/json")
        lines.append("")
        lines.append(json.dumps(body.get("example", {}), indent=2))
    return "\n".join(lines) + "\n"


def collection(document: dict[str, Any], base_url: str, tokens: dict[str, str]) -> dict[str, str]:
    """File name -> content, one file per tag, requests in path order."""
    by_tag: dict[str, list[str]] = {}
    variables: dict[str, set[str]] = {}
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            tag = (op.get("tags") or ["Other"])[0]
            by_tag.setdefault(tag, []).append(_request(method, path, op))
            names = variables.setdefault(tag, set())
            names.update(variable_for(path, p) for p in _PARAMETER.findall(path))
    files: dict[str, str] = {}
    for tag, requests in by_tag.items():
        header = [f"# {tag}: generated from {document['info']['title']}'s OpenAPI document by make run.",
                  f"@baseUrl = {base_url}",
                  f"@adminToken = {tokens.get('platform_admin', '')}",
                  f"@demoToken = {tokens.get('tenant_admin', '')}",
                  "@tenant = demo",
                  "@version = 1"]
        header += [f"@{name} = {_KNOWN.get(name, '')}" for name in sorted(variables[tag])]
        files[f"{tag.lower()}.http"] = "\n".join(header) + "\n\n" + "\n".join(requests)
    return files


def write_collection(directory: Path, document: dict[str, Any], base_url: str, tokens: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.http"):
        stale.unlink()
    for name, text in collection(document, base_url, tokens).items():
        (directory / name).write_text(text)
