"""GET /api/openapi.json describes exactly the routes of app/web/routes.py.

When a route is added, renamed or moved, these tests say which one and where to document
it (a row of OPERATIONS in app/web/openapi.py); the fuzz test (test_fuzz.py) then checks
the answers against the document.
"""
from __future__ import annotations

import re

import jsonschema
import pytest
import schemathesis
from aiohttp import web

from app.web.api import SPEC_FIELDS
from app.web.openapi import undocumented_spec_fields
from app.web.routes import add_routes

HOW = ("add a row Operation(name, method, path, summary, answers, ...) to OPERATIONS in "
       "app/web/openapi.py (its name is the route's name; answers give each status code "
       "with its JSON schema, or text/html for a page)")


def router_operations() -> dict[tuple[str, str], str]:
    """{(METHOD, path template): route name} of routes.py (HEAD: implied by GET)."""
    app = web.Application()
    add_routes(app)
    found = {}
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        # "/api/runs/{id:\d+}" is "/api/runs/{id}" in OpenAPI
        path = re.sub(r"{(\w+):[^}]*}", r"{\1}", route.resource.canonical)
        found[(route.method, path)] = route.name
    return found


def document_operations(document: dict) -> dict[tuple[str, str], str]:
    return {(method.upper(), path): op.get("operationId")
            for path, item in document["paths"].items() for method, op in item.items()}


@pytest.fixture
async def document(client) -> dict:
    response = await client.get("/api/openapi.json")
    assert response.status == 200 and response.content_type == "application/json"
    return await response.json()


async def test_every_route_has_an_operation(document):
    documented = document_operations(document)
    missing = [f"{method} {path} (route {name!r} in app/web/routes.py) is not in "
               f"/api/openapi.json: {HOW}"
               for (method, path), name in router_operations().items()
               if (method, path) not in documented]
    assert not missing, "\n".join(missing)


async def test_every_operation_has_a_route(document):
    routes = router_operations()
    stale = [f"{method} {path} (operationId {name!r}) is in app/web/openapi.py's OPERATIONS "
             f"but no route in app/web/routes.py serves it: remove or fix its row"
             for (method, path), name in document_operations(document).items()
             if (method, path) not in routes]
    assert not stale, "\n".join(stale)


async def test_operation_ids_are_the_route_names(document):
    routes = router_operations()
    wrong = [f"{method} {path}: operationId {name!r}, but the route is named "
             f"{routes[(method, path)]!r}: use the route's name in OPERATIONS "
             f"(app/web/openapi.py)"
             for (method, path), name in document_operations(document).items()
             if (method, path) in routes and routes[(method, path)] != name]
    assert not wrong, "\n".join(wrong)


async def test_path_parameters_match_the_templates(document):
    for path, item in document["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, op in item.items():
            given = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert given == names, f"{method.upper()} {path}: path parameters {given}"


def test_every_spec_field_is_described():
    assert not undocumented_spec_fields(), (
        f"spec field(s) {', '.join(undocumented_spec_fields())} (api.SPEC_FIELDS, read by "
        f"app/spec.py's parse_spec) have no schema: add each to SPEC_FIELD_SCHEMAS in "
        f"app/web/openapi.py")


async def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(document).validate()     # the OpenAPI 3.1 meta-schema
    for name, schema in document["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)
    # every operation answers something documented, and has its 4xx shapes
    for path, item in document["paths"].items():
        for method, op in item.items():
            assert op["responses"], f"{method.upper()} {path} documents no answer"


async def test_the_spec_body_is_the_validators_field_list(document):
    spec = document["components"]["schemas"]["Spec"]
    assert set(spec["properties"]) == SPEC_FIELDS
    assert spec["additionalProperties"] is False        # unknown fields are a 400


async def test_documented_answers_match_real_ones(client, document):
    """A few answers, checked against their schemas by hand (the fuzz test does the rest)."""
    def schema_of(path: str, method: str, status: int) -> dict:
        content = document["paths"][path][method]["responses"][str(status)]["content"]
        return {**content["application/json"]["schema"],
                "components": document["components"]}

    cases = [("/api/runs/{id}", "get", "/api/runs/12345", 404),
             ("/api/runs", "get", "/api/runs?limit=0", 400),
             ("/api/runs", "get", "/api/runs", 200),
             ("/healthz", "get", "/healthz", 200)]
    for template, method, url, status in cases:
        response = await client.request(method, url)
        assert response.status == status, url
        jsonschema.validate(await response.json(), schema_of(template, method, status),
                            cls=jsonschema.Draft202012Validator)
