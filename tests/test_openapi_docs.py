"""The OpenAPI document (/openapi.json, also rendered at /docs) is what frontend developers read:
every property of every schema and every operation must say what it is."""

import pytest

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}

@pytest.fixture()
def spec(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return r.get_json()


def _undescribed(where: str, schema: dict) -> list[str]:
    """Dotted paths of the properties under ``schema`` without a non-empty description.

    Inline objects are followed (their properties, and those of array items); a ``$ref`` is
    checked where its target is defined, as a component schema of its own.
    """
    out = []
    for name, prop in schema.get("properties", {}).items():
        path = f"{where}.{name}"
        if not str(prop.get("description", "")).strip():
            out.append(path)
        out += _undescribed(path, prop)
        items = prop.get("items")
        while isinstance(items, dict):
            out += _undescribed(f"{path}[]", items)
            items = items.get("items")
    return out


def _all_undescribed(spec: dict) -> list[str]:
    schemas = spec["components"]["schemas"]
    return [p for name, sch in schemas.items() for p in _undescribed(name, sch)]


def test_every_schema_property_has_a_description(spec):
    schemas = spec["components"]["schemas"]
    assert len(schemas) > 50 and sum(len(s.get("properties", {})) for s in schemas.values()) > 500
    missing = _all_undescribed(spec)
    assert not missing, f"{len(missing)} properties without a description: {', '.join(missing)}"


def test_every_operation_has_a_summary_or_description(spec):
    bare = [
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
        and not (str(op.get("summary", "")).strip() or str(op.get("description", "")).strip())
    ]
    assert spec["paths"] and not bare, f"operations without a summary or description: {', '.join(bare)}"
