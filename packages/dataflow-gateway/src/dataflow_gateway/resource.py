"""One model's routes: what is exposed, and each operation as an HTTP handler over the direct API.

``__dataflow__ = {"api": {"path": "people", "operations": ["list", "read"],
"hidden": ["password_hash"], "read_only": ["created_by"]}}`` or
``create_gateway(expose={"User": {...}})`` says what a model shows; by
default every operation is served at the table's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import Response

from dataflow.express import Express
from dataflow.fields import FieldKind
from dataflow.relations import RelationMap
from dataflow.schema import ModelSchema, suggest

from .bodies import object_body, rows_body
from .codec import decode_record, dumps
from .hiding import Hiding
from .problems import Problem
from .query import AGGREGATE_PARAMETERS, LIST_PARAMETERS, json_parameter, list_parameters, refuse_hidden

OPERATIONS = ("list", "read", "create", "update", "delete", "count", "aggregate", "upsert",
              "bulk_create", "bulk_update", "bulk_delete", "bulk_upsert")  # fmt: skip
API_OPTIONS = ("path", "operations", "hidden", "read_only")
WRITES = frozenset(OPERATIONS) - {"list", "read", "count", "aggregate"}
MAX_KEY_DIGITS = 20  # a sign and 19 digits: the range of a 64-bit integer


@attrs.frozen
class ModelAPI:
    """How one model is served."""

    schema: ModelSchema
    path: str
    operations: frozenset[str]
    hidden: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()
    bytes_fields: frozenset[str] = frozenset()  # sent as base64 text, decoded before the node sees them

    @classmethod
    def of(cls, schema: ModelSchema, options: Mapping[str, Any] | None) -> ModelAPI:
        options = dict(schema.options.get("api", {}) or {}) | dict(options or {})
        for key in options:
            if key not in API_OPTIONS:
                raise ValueError(f"{schema.name} api option {key!r} is unknown{suggest(key, API_OPTIONS)}")
        operations = frozenset(options.get("operations", OPERATIONS))
        for operation in operations - set(OPERATIONS):
            raise ValueError(f"{schema.name} api operation {operation!r} is unknown{suggest(operation, OPERATIONS)}")
        hidden, read_only = frozenset(options.get("hidden", ())), frozenset(options.get("read_only", ()))
        for name in hidden | read_only:
            if name not in schema.by_name:
                raise ValueError(f"{schema.name} api names unknown field {name!r}{suggest(name, schema.by_name)}")
        if schema.primary_key in hidden:
            raise ValueError(f"{schema.name} api cannot hide the key {schema.primary_key!r}")
        bytes_fields = frozenset(f.name for f in schema.fields if f.kind is FieldKind.BYTES)
        return cls(schema, str(options.get("path", schema.table)), operations, hidden, read_only, bytes_fields)

    @property
    def visible(self) -> set[str]:
        return {f.name for f in self.schema.fields if f.name not in self.hidden}

    def shown(self, record: Any) -> Any:
        """``record`` without hidden fields (records of a node output, one level of includes kept as they are)."""
        if isinstance(record, dict):
            return {k: v for k, v in record.items() if k not in self.hidden}
        return record


Handler = Callable[[Request, Express], Any]


class Resource:
    """The handlers of one model; each returns (status, body, headers)."""

    def __init__(
        self, api: ModelAPI, *, max_limit: int, default_limit: int, require_if_match: bool, hiding: Hiding | None = None
    ) -> None:
        self.api = api
        # Hidden fields of every exposed model, so that relations reach none of them (hiding.py).
        self.hiding = hiding or Hiding(RelationMap(), {api.schema.name: api.hidden})
        self.model = api.schema.name
        self.max_limit = max_limit
        self.default_limit = default_limit
        self.require_if_match = require_if_match
        self.versioned = api.schema.version_field is not None

    # -- reading ----------------------------------------------------------------

    def _query(self, request: Request, allowed: Sequence[str]) -> dict[str, Any]:
        params = list_parameters(self.api.schema, request.query_params, allowed=allowed, visible=self.api.visible,
                                 max_limit=self.max_limit, default_limit=self.default_limit)  # fmt: skip
        self.hiding.refuse_filter(self.model, params.get("filter"))
        refuse_hidden(params.get("having"), set(self.api.hidden), "having")
        for name in ("fields", "order_by", "group_by"):
            for field in params.get(name, ()) or ():
                self.hiding.refuse_path(self.model, str(field).lstrip("-+"), name)
        self.hiding.refuse_include(self.model, params.get("include"))
        return params

    async def list(self, request: Request, x: Express) -> tuple[int, Any, dict[str, str]]:
        params = self._query(request, LIST_PARAMETERS)
        page = await x.list(self.api.schema.name, **params)
        page["records"] = self.hiding.shown(self.model, page["records"])
        headers = {}
        if page.get("next"):
            query = dict(request.query_params) | {"after": page["next"]}
            query.pop("offset", None)
            headers["Link"] = f'<{request.url.replace_query_params(**query)}>; rel="next"'
        return 200, page, headers

    async def count(self, request: Request, x: Express) -> tuple[int, Any, dict[str, str]]:
        return 200, await x.count(self.api.schema.name, **self._query(request, ("filter",))), {}

    async def aggregate(self, request: Request, x: Express) -> tuple[int, Any, dict[str, str]]:
        params = self._query(request, AGGREGATE_PARAMETERS)
        if "aggregates" not in params:
            params["aggregates"] = {"count": {"$count": "*"}}
        for spec in params["aggregates"].values():
            for argument in spec.values() if isinstance(spec, Mapping) else ():
                if argument in self.api.hidden:
                    raise Problem(400, f"aggregates: unknown field {argument!r}")
        return 200, await x.aggregate(self.api.schema.name, **params), {}

    async def read(self, request: Request, x: Express) -> tuple[int, Any, dict[str, str]]:
        key = self._key(request)
        options: dict[str, Any] = {}
        include = request.query_params.get("include")
        if include:
            options["include"] = [part for part in include.split(",") if part]
        for name in request.query_params:
            if name != "include":
                raise Problem(400, f"unknown query parameter {name!r}{suggest(name, ['include'])}")
        record = await x.read(self.api.schema.name, key, **options)
        return 200, self.hiding.shown(self.model, record), self._etag(record)

    # -- writing ----------------------------------------------------------------

    async def create(self, request: Request, x: Express) -> tuple[int, Any, dict[str, str]]:
        record = await x.create(self.api.schema.name, self._writable(await object_body(request)))
        location = f"{request.url.path.rstrip('/')}/{record[self.api.schema.primary_key]}"
        return 201, self.api.shown(record), {"Location": location, **self._etag(record)}

    async def update(self, request: Request, x: Express) -> tuple[int, Any, dict[str, str]]:
        key = self._key(request)
        fields = self._writable(await object_body(request))
        version = self._if_match(request)
        if version is not None:
            fields[self.api.schema.version_field or "version"] = version
        record = await x.update(self.api.schema.name, key, fields)
        return 200, self.api.shown(record), self._etag(record)

    async def delete(self, request: Request, x: Express) -> tuple[int, Any, dict[str, str]]:
        key = self._key(request)
        version = self._if_match(request)
        if version is None:
            await x.delete(self.api.schema.name, key)
            return 204, None, {}
        field = self.api.schema.version_field or "version"
        deleted = await x.delete(self.api.schema.name, filter={self.api.schema.primary_key: key, field: version})
        if deleted["deleted"] == 0:
            await x.read(self.api.schema.name, key)  # 404 when it is gone
            raise Problem(412, f"{self.api.schema.name} {key!r} is no longer at version {version}")
        return 204, None, {}

    async def upsert(self, request: Request, x: Express) -> tuple[int, Any, dict[str, str]]:
        body = await object_body(request)
        options = {name: body.pop(name) for name in ("conflict_on", "update_fields") if name in body}
        self._refuse_hidden_conflict(options.get("conflict_on"))
        output = await x.upsert(self.api.schema.name, self._writable(body), **options)
        output["record"] = self.api.shown(output["record"])
        return (201 if output["created"] else 200), output, {}

    async def bulk_create(self, request: Request, x: Express) -> tuple[int, Any, dict[str, str]]:
        rows = await rows_body(request, self._writable)
        return 201, await x.bulk_create(self.api.schema.name, rows, **self._bulk_options(request)), {}

    async def bulk_upsert(self, request: Request, x: Express) -> tuple[int, Any, dict[str, str]]:
        options = self._bulk_options(request, ("conflict_on", "update_fields"))
        self._refuse_hidden_conflict(options.get("conflict_on"))
        rows = await rows_body(request, self._writable)
        return 200, await x.bulk_upsert(self.api.schema.name, rows, **options), {}

    async def bulk_update(self, request: Request, x: Express) -> tuple[int, Any, dict[str, str]]:
        body = await object_body(request)
        self.hiding.refuse_filter(self.model, body.get("filter"))
        if "fields" in body:
            body["fields"] = self._writable(body["fields"])
        if "data" in body:
            body["data"] = [self._writable(row) for row in body["data"]]
        return 200, await x.bulk_update(self.api.schema.name, **body), {}

    async def bulk_delete(self, request: Request, x: Express) -> tuple[int, Any, dict[str, str]]:
        options: dict[str, Any] = {}
        for name, text in request.query_params.items():
            if name == "filter":
                options["filter"] = json_parameter(name, text) if text else {}
            elif name == "confirmed":
                options["confirmed"] = text == "true"
            elif name == "ids":
                options["ids"] = [self._key_value(part) for part in text.split(",") if part]
            else:
                raise Problem(400, f"unknown query parameter {name!r}{suggest(name, ['filter', 'confirmed', 'ids'])}")
        self.hiding.refuse_filter(self.model, options.get("filter"))
        return 200, await x.bulk_delete(self.api.schema.name, **options), {}

    # -- helpers ----------------------------------------------------------------

    def _key(self, request: Request) -> Any:
        text = request.path_params["key"]
        # No stored key has more digits than a 64-bit integer: a longer one is simply not there.
        if self.api.schema.pk.kind.value == "int" and (not _is_integer(text) or len(text) > MAX_KEY_DIGITS):
            shown = text if len(text) <= MAX_KEY_DIGITS else text[:MAX_KEY_DIGITS] + "\u2026"
            raise Problem(404, f"no {self.api.schema.name} {shown!r}: its key is an integer of at most 19 digits")
        return self._key_value(text)

    def _key_value(self, text: str) -> Any:
        """A key given as text (a path segment, an item of ``?ids=``) as the key field's type."""
        if self.api.schema.pk.kind.value == "int" and _is_integer(text) and len(text) <= MAX_KEY_DIGITS:
            return int(text)
        return text  # the node's validation names a key of the wrong type

    def _refuse_hidden_conflict(self, conflict_on: Any) -> None:
        # Upsert's "created" answers whether a record holds the value: conflict_on a hidden field is an oracle.
        for name in conflict_on if isinstance(conflict_on, list) else ():
            if name in self.api.hidden:
                raise Problem(400, f"conflict_on: unknown field {name!r}")

    def _writable(self, record: Any) -> dict[str, Any]:
        """A request record checked for read-only fields, with bytes decoded; a bulk runs this once per row."""
        if not isinstance(record, dict):  # what json gives for an object
            raise Problem(422, "each record must be a JSON object", errors=[{"field": "", "message": "not an object"}])
        read_only = self.api.read_only
        if read_only and not read_only.isdisjoint(record):
            name = next(name for name in record if name in read_only)
            detail = f"{self.api.schema.name}.{name} is read-only"
            raise Problem(422, detail, errors=[{"field": name, "message": "read-only"}])
        if self.api.bytes_fields and not self.api.bytes_fields.isdisjoint(record):
            return decode_record(self.api.schema, record)
        return record

    def _bulk_options(self, request: Request, allowed: Sequence[str] = ("batch_size", "return_ids")) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for name, text in request.query_params.items():
            if name not in allowed:
                raise Problem(400, f"unknown query parameter {name!r}{suggest(name, allowed)}")
            options[name] = names_or_value(name, text)
        return options

    def _etag(self, record: Any) -> dict[str, str]:
        field = self.api.schema.version_field
        if field is None or not isinstance(record, Mapping) or field not in record:
            return {}
        return {"ETag": f'"{record[field]}"'}

    def _if_match(self, request: Request) -> int | None:
        if not self.versioned:
            return None
        header = request.headers.get("If-Match")
        if header is None:
            if self.require_if_match:
                raise Problem(428, "send If-Match with the record's ETag: this API requires it for changes")
            return None
        text = header.strip().removeprefix("W/").strip('"')
        if not _is_digits(text):
            raise Problem(412, f"If-Match {header!r} is not an ETag of this record")
        return int(text)


def names_or_value(name: str, text: str) -> Any:
    if name in ("conflict_on", "update_fields"):
        return [part for part in text.split(",") if part]
    if name == "return_ids":
        return text == "true"
    if not _is_digits(text):
        raise Problem(400, f"query parameter {name!r} must be a positive integer")
    return int(text)


def _is_digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also takes ``"²"``, which ``int()`` then refuses (a 500)."""
    return text.isascii() and text.isdigit()


def _is_integer(text: str) -> bool:
    return _is_digits(text.removeprefix("-"))


def respond(status: int, body: Any, headers: Mapping[str, str]) -> Response:
    if status == 204:
        return Response(status_code=204, headers=dict(headers))
    return Response(dumps(body), status_code=status, media_type="application/json", headers=dict(headers))
