"""The OpenAPI 3.1 document of a gateway, generated from the model schemas and the routes it serves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataflow.fields import FieldKind, FieldSchema

from .resource import ModelAPI

if TYPE_CHECKING:
    from .app import Gateway

JSON_TYPES: dict[FieldKind, dict[str, Any]] = {
    FieldKind.STR: {"type": "string"},
    FieldKind.INT: {"type": "integer"},
    FieldKind.FLOAT: {"type": "number"},
    FieldKind.BOOL: {"type": "boolean"},
    FieldKind.BYTES: {"type": "string", "contentEncoding": "base64"},
    FieldKind.DECIMAL: {"type": "string", "format": "decimal"},
    FieldKind.DATETIME: {"type": "string", "format": "date-time"},
    FieldKind.DATE: {"type": "string", "format": "date"},
    FieldKind.TIME: {"type": "string", "format": "time"},
    FieldKind.UUID: {"type": "string", "format": "uuid"},
    FieldKind.JSON: {},
    FieldKind.ENUM: {},
}
PROBLEM = {"$ref": "#/components/schemas/Problem"}


def field_schema(field: FieldSchema) -> dict[str, Any]:
    schema = dict(JSON_TYPES[field.kind])
    if field.enum_type is not None:
        schema["enum"] = [member.value for member in field.enum_type]
    if field.element_kind is not None:
        schema = {"type": "array", "items": dict(JSON_TYPES[field.element_kind])}
    if field.max_length is not None and field.kind is FieldKind.STR:
        schema["maxLength"] = field.max_length
    if field.nullable:
        schema = {"anyOf": [schema, {"type": "null"}]} if schema else {}
    return schema


def model_schemas(api: ModelAPI) -> dict[str, Any]:
    """``<Model>``, ``<Model>Create`` and ``<Model>Update``: what a record is, what a create and an update take."""
    fields = [f for f in api.schema.fields if f.name not in api.hidden]
    record = {"type": "object", "properties": {f.name: field_schema(f) for f in fields},
              "required": [f.name for f in fields if not f.nullable]}  # fmt: skip
    writable = [f for f in api.schema.writable_fields if f.name not in api.read_only]
    create = {"type": "object", "properties": {f.name: field_schema(f) for f in writable},
              "required": [f.name for f in writable if f.required], "additionalProperties": False}  # fmt: skip
    update = {
        "type": "object",
        "properties": {f.name: field_schema(f) for f in writable},
        "additionalProperties": False,
    }
    name = api.schema.name
    return {name: record, f"{name}Create": create, f"{name}Update": update}


def _responses(ok: str, body: dict[str, Any] | None, *errors: int) -> dict[str, Any]:
    responses: dict[str, Any] = {ok: {"description": "success"}}
    if body is not None:
        responses[ok]["content"] = {"application/json": {"schema": body}}
    for status in (400, 401, 403, *errors, 503):
        responses[str(status)] = {
            "description": "a problem",
            "content": {"application/problem+json": {"schema": PROBLEM}},
        }
    return responses


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _body(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"required": True, "content": {media: {"schema": schema}}}


OBJECT: dict[str, Any] = {"type": "object"}
ROWS: dict[str, Any] = {"type": "array", "items": OBJECT}
WRITE_ERRORS = (409, 413, 415, 422)


def model_paths(gateway: Gateway, api: ModelAPI) -> dict[str, Any]:
    """Every served operation of one model, as OpenAPI path items."""
    name, base = api.schema.name, f"{gateway.prefix}/{api.path}"
    record = {"$ref": f"#/components/schemas/{name}"}
    key = {"name": "key", "in": "path", "required": True, "schema": field_schema(api.schema.pk)}
    filter_ = _query("filter", "a filter as JSON")
    listing = [
        filter_,
        _query("order_by", "fields, '-' in front for descending, comma-separated"),
        _query("limit", "records per page", {"type": "integer", "minimum": 0}),
        _query("offset", "records to skip", {"type": "integer", "minimum": 0}),
        _query("after", "the next cursor of the previous page"),
        _query("fields", "fields to return, comma-separated"),
        _query("include", "relations to include, comma-separated"),
    ]
    page = {"type": "object", "properties": {"records": {"type": "array", "items": record},
            "count": {"type": "integer"}, "next": {"type": ["string", "null"]}}}  # fmt: skip
    counted = {"type": "object", "properties": {"count": {"type": "integer"}}}
    grouping = [
        filter_,
        _query("group_by", "fields to group by, comma-separated"),
        _query("aggregates", "aggregates as JSON"),
        _query("having", "a filter over the aggregates as JSON"),
    ]
    bulk_rows = {"required": True, "content": {"application/json": {"schema": ROWS},
                                                "application/x-ndjson": {"schema": {"type": "string"}}}}  # fmt: skip
    deleting = [
        filter_,
        _query("ids", "keys, comma-separated"),
        _query("confirmed", "true to delete by a filter that matches every record"),
    ]
    specs: dict[str, tuple[str, str, str, dict[str, Any]]] = {
        "list": ("", "get", f"List {name} records", {"parameters": listing, "responses": _responses("200", page)}),
        "create": ("", "post", f"Create a {name}", {
            "requestBody": _body({"$ref": f"#/components/schemas/{name}Create"}),
            "responses": _responses("201", record, *WRITE_ERRORS)}),
        "count": ("/count", "get", f"Count {name} records",
                  {"parameters": [filter_], "responses": _responses("200", counted)}),
        "aggregate": ("/aggregate", "get", f"Aggregate {name} records",
                      {"parameters": grouping, "responses": _responses("200", OBJECT)}),
        "upsert": ("/upsert", "post", f"Create or update a {name}",
                   {"requestBody": _body(OBJECT), "responses": _responses("200", OBJECT, *WRITE_ERRORS)}),
        "bulk_create": ("/bulk", "post", f"Create many {name} records (a JSON array or NDJSON)",
                        {"requestBody": bulk_rows, "responses": _responses("201", OBJECT, *WRITE_ERRORS)}),
        "bulk_update": ("/bulk", "patch", f"Update many {name} records",
                        {"requestBody": _body(OBJECT), "responses": _responses("200", OBJECT, *WRITE_ERRORS)}),
        "bulk_delete": ("/bulk", "delete", f"Delete many {name} records",
                        {"parameters": deleting, "responses": _responses("200", OBJECT, 422)}),
        "bulk_upsert": ("/bulk-upsert", "post", f"Create or update many {name} records",
                        {"requestBody": _body(ROWS), "responses": _responses("200", OBJECT, *WRITE_ERRORS)}),
        "read": ("/{key}", "get", f"Read a {name}", {
            "parameters": [key, _query("include", "relations to include, comma-separated")],
            "responses": _responses("200", record, 404)}),
        "update": ("/{key}", "patch", f"Update a {name}", {
            "parameters": [key], "requestBody": _body({"$ref": f"#/components/schemas/{name}Update"}),
            "responses": _responses("200", record, 404, 412, 428, *WRITE_ERRORS)}),
        "delete": ("/{key}", "delete", f"Delete a {name}",
                   {"parameters": [key], "responses": _responses("204", None, 404, 412, 428)}),
    }  # fmt: skip
    paths: dict[str, Any] = {}
    for operation, (suffix, method, summary, spec) in specs.items():
        if operation in api.operations:
            item = {"operationId": f"{name}_{operation}", "tags": [name], "summary": summary, **spec}
            paths.setdefault(f"{base}{suffix}", {})[method] = item
    return paths


def workflow_path(name: str, nodes: list[str]) -> dict[str, Any]:
    parameters = {"type": "object", "properties": dict.fromkeys(nodes, OBJECT), "additionalProperties": False}
    result = {"type": "object", "properties": {"results": OBJECT, "run_id": {"type": "string"}}}
    return {"post": {
        "operationId": f"workflow_{name}", "tags": ["workflows"], "summary": f"Run the workflow {name!r}",
        "requestBody": _body({"type": "object", "properties": {"parameters": parameters}}),
        "responses": _responses("200", result, 404, 422),
    }}  # fmt: skip


def openapi_document(gateway: Gateway) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Problem": {"type": "object", "required": ["type", "title", "status"], "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}}}}}}  # fmt: skip
    paths: dict[str, Any] = {}
    for api in gateway.apis.values():
        schemas.update(model_schemas(api))
        paths.update(model_paths(gateway, api))
    for name, (workflow, _) in gateway.workflows.items():
        paths[f"{gateway.prefix}/workflows/{name}"] = workflow_path(name, list(workflow.nodes))
    return {"openapi": "3.1.0", "info": {"title": gateway.title, "version": "1"}, "paths": paths,
            "components": {"schemas": schemas}}  # fmt: skip
