"""``create_gateway``: an ASGI application serving a DataFlow's models and registered workflows.

    app = create_gateway(db, authenticate=api_key_auth({"k1": Principal("svc", tenant="acme")}))
    app.register_workflow("checkout", checkout, transaction=True)
    uvicorn.run(app)                       # or Mount("/data", app) inside another application

Every route runs the models' own nodes through the direct API under the
principal's tenant and actor, so validation, tenancy and versioning are the
same as in workflows; errors are ``application/problem+json``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from time import perf_counter
from typing import TYPE_CHECKING, Any

import click
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder
from dataflow.commands.loading import load_db
from dataflow.errors import ConfigError, ValidationError
from dataflow.schema import suggest
from dataflow.workflow import Workflow

from .auth import Authenticate, Principal
from .bodies import object_body
from .codec import dumps
from .explorer import Explorer
from .hiding import Hiding
from .openapi import openapi_document
from .problems import Problem, from_error, problem_response
from .resource import WRITES, ModelAPI, Resource, respond
from .tracing import ServerSpans

if TYPE_CHECKING:
    from .monitoring import Monitoring

ANONYMOUS = Principal(actor="anonymous")

# (operation, method, path suffix): the routes of one model, the item routes after the fixed ones.
ROUTES = (
    ("count", "GET", "/count"), ("aggregate", "GET", "/aggregate"), ("upsert", "POST", "/upsert"),
    ("bulk_create", "POST", "/bulk"), ("bulk_update", "PATCH", "/bulk"), ("bulk_delete", "DELETE", "/bulk"),
    ("bulk_upsert", "POST", "/bulk-upsert"), ("list", "GET", ""), ("create", "POST", ""),
    ("read", "GET", "/{key}"), ("update", "PATCH", "/{key}"), ("delete", "DELETE", "/{key}"),
)  # fmt: skip


class Gateway:
    """The ASGI application (call it, mount it) and what it serves."""

    def __init__(
        self,
        db: DataFlow,
        *,
        prefix: str = "/api",
        authenticate: Authenticate | None = None,
        allow_anonymous: bool = False,
        expose: Mapping[str, Mapping[str, Any] | bool] | None = None,
        default_limit: int = 50,
        max_limit: int = 1000,
        max_body: int = 64 * 1024 * 1024,
        require_if_match: bool = False,
        title: str = "DataFlow API",
        enable_monitoring: bool = False,
        tracer_provider: Any = None,
        docs: bool = True,
    ) -> None:
        if authenticate is None and db.config.production and not allow_anonymous:
            raise ConfigError(
                "DATAFLOW_ENV=production and the gateway has no authenticate: pass authenticate=... "
                "(api_key_auth, jwt_auth, or your own), or allow_anonymous=True to serve without one",
                field="authenticate",
            )
        self.db = db
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.authenticate = authenticate
        self.title = title
        self.apis: dict[str, ModelAPI] = {}
        for name, schema in db.schemas.items():
            options = (expose or {}).get(name, expose is None)
            if options is False:
                continue
            self.apis[name] = ModelAPI.of(schema, options if isinstance(options, Mapping) else None)
        for name in expose or {}:
            if name not in db.schemas:
                raise ConfigError(f"expose names unknown model {name!r}", field="expose")
        hiding = Hiding(db.relations, {name: api.hidden for name, api in self.apis.items()})
        self.resources = {
            name: Resource(
                api, max_limit=max_limit, default_limit=default_limit, require_if_match=require_if_match, hiding=hiding
            )
            for name, api in self.apis.items()
        }
        self.workflows: dict[str, tuple[Workflow, bool]] = {}
        self.monitoring = _monitoring(db) if enable_monitoring else None
        self.spans = ServerSpans(tracer_provider)
        self.explorer = Explorer(self.prefix, title) if docs else None
        self.app = Starlette(routes=self._routes(), exception_handlers={404: self._not_found, 405: self._not_allowed})
        self.app.state.max_body = max_body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def register_workflow(self, name: str, workflow: Workflow | WorkflowBuilder, *, transaction: bool = True) -> None:
        """Serve ``workflow`` at ``POST {prefix}/workflows/{name}``; its nodes take ``{"parameters": {...}}``."""
        built = workflow.build() if isinstance(workflow, WorkflowBuilder) else workflow
        self.workflows[name] = (built, transaction)

    # -- routes -----------------------------------------------------------------

    def _routes(self) -> list[Route]:
        routes = [Route(f"{self.prefix}/openapi.json", self._openapi, methods=["GET"])]
        if self.explorer is not None:
            routes += self.explorer.routes()
        if self.monitoring is not None:
            routes.append(Route("/metrics", self.monitoring.metrics_route, methods=["GET"]))
            routes.append(Route("/health", self.monitoring.health_route, methods=["GET"]))
        by_path: dict[str, dict[str, Callable[..., Awaitable[Response]]]] = {}
        for name, api in self.apis.items():
            resource = self.resources[name]
            for operation, method, suffix in ROUTES:
                if operation in api.operations:
                    path = f"{self.prefix}/{api.path}{suffix}"
                    handler = self._counted(path, method, self._handler(name, operation, getattr(resource, operation)))
                    by_path.setdefault(path, {})[method] = handler
        for path, methods in by_path.items():
            routes.append(Route(path, _dispatch(methods), methods=list(methods)))
        workflows = f"{self.prefix}/workflows/{{name}}"
        routes.append(Route(workflows, self._counted(workflows, "POST", self._run_workflow), methods=["POST"]))
        return routes

    def _counted(
        self, template: str, method: str, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` in a server span, and counted under its route template when monitoring is on."""
        if self.monitoring is None:
            return self.spans.wrap(template, method, handler)
        metrics = self.monitoring.metrics

        async def counted(request: Request) -> Response:
            started = perf_counter()
            response = await handler(request)
            metrics.observe(template, method, response.status_code, perf_counter() - started)
            return response

        return self.spans.wrap(template, method, counted)

    def _handler(self, model: str, operation: str, run: Callable[..., Any]) -> Callable[[Request], Awaitable[Response]]:
        scope = f"{self.apis[model].path}:{'write' if operation in WRITES else 'read'}"
        multi_tenant = bool(self.apis[model].schema.options.get("multi_tenant"))

        async def handle(request: Request) -> Response:
            try:
                principal = await self._principal(request)
                if not principal.allows(scope):
                    raise Problem(403, f"this operation needs the scope {scope!r}")
                if multi_tenant and principal.tenant is None:
                    raise Problem(403, f"{model} is kept per tenant and the caller has none")
                express = self.db.express.using(**_context(principal))
                status, body, headers = await run(request, express)
                return respond(status, body, headers)
            except Problem as problem:
                return problem_response(problem)
            except Exception as error:  # noqa: BLE001 - every failure becomes a problem document
                return problem_response(from_error(error))

        return handle

    async def _principal(self, request: Request) -> Principal:
        if self.authenticate is None:
            return ANONYMOUS
        found = self.authenticate(request)
        if inspect.isawaitable(found):
            found = await found
        if found is None:
            raise Problem(401, "authentication is required", WWW_Authenticate="Bearer")
        assert isinstance(found, Principal)
        return found

    async def _run_workflow(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            principal = await self._principal(request)
            if name not in self.workflows:
                raise Problem(404, f"no workflow {name!r}")
            if not principal.allows(f"workflows:{name}"):
                raise Problem(403, f"this workflow needs the scope 'workflows:{name}'")
            workflow, transaction = self.workflows[name]
            body = await object_body(request)
            parameters = body.get("parameters", {})
            for key in body:
                if key != "parameters":
                    raise Problem(400, f'unknown body key {key!r}; send {{"parameters": {{...}}}}')
            _check_parameters(workflow, parameters)
            context = _context(principal)
            tenant = context.pop("tenant", None)
            results, run_id = await AsyncLocalRuntime().execute_async(
                workflow, parameters, transaction=transaction, tenant=tenant, context=context
            )
            return respond(200, {"results": results, "run_id": run_id}, {})
        except Problem as problem:
            return problem_response(problem)
        except Exception as error:  # noqa: BLE001 - every failure becomes a problem document
            return problem_response(from_error(error))

    async def _openapi(self, request: Request) -> Response:
        document = openapi_document(self)
        return Response(dumps(document), media_type="application/json")

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return problem_response(Problem(404, f"no route {request.url.path}"))

    async def _not_allowed(self, request: Request, exc: Exception) -> Response:
        return problem_response(Problem(405, f"{request.method} is not served at {request.url.path}"))


def _monitoring(db: DataFlow) -> Monitoring:
    try:
        # dataflow-monitor is optional: imported only when monitoring is asked for.
        from .monitoring import Monitoring  # noqa: PLC0415 - optional dependency, see the comment above
    except ImportError as exc:
        raise ConfigError(
            f"enable_monitoring=True needs dataflow-monitor: pip install dataflow-monitor ({exc})",
            field="enable_monitoring",
        ) from None
    return Monitoring(db)


def _dispatch(
    methods: Mapping[str, Callable[[Request], Awaitable[Response]]],
) -> Callable[[Request], Awaitable[Response]]:
    async def dispatch(request: Request) -> Response:
        return await methods[request.method](request)

    return dispatch


def _context(principal: Principal) -> dict[str, Any]:
    context: dict[str, Any] = {"actor": principal.actor}
    if principal.tenant is not None:
        context["tenant"] = principal.tenant
    return context


def _check_parameters(workflow: Workflow, parameters: Any) -> None:
    if not isinstance(parameters, Mapping):
        raise Problem(400, "parameters must be an object of node ids to their parameters")
    for node_id, given in parameters.items():
        spec = workflow.nodes.get(node_id)
        if spec is None:
            raise Problem(
                400, f"parameters name unknown node {node_id!r}", errors=[{"field": node_id, "message": "unknown node"}]
            )
        if not isinstance(given, Mapping):
            raise Problem(400, f"parameters of {node_id!r} must be an object")
        try:
            spec.node_class.check_inputs(frozenset(given))
        except ValidationError as exc:
            raise Problem(
                400,
                f"node {node_id!r}: {exc.message}",
                errors=[{"field": f"{node_id}.{exc.field}", "message": exc.message}],
            ) from None


def create_gateway(
    db: DataFlow | None = None,
    *,
    database_url: str | None = None,
    models: str | None = None,
    enable_monitoring: bool = False,
    **options: Any,
) -> Gateway:
    """The gateway for ``db``, or for the ``DataFlow`` that ``models`` (``"package.module:db"``) names.

    ``database_url`` with ``models`` must match the instance's URL (it is where
    the models live); ``enable_monitoring`` needs dataflow-monitor.
    """
    if db is None:
        if models is None:
            raise ConfigError("create_gateway needs a DataFlow, or models='package.module:db'", field="models")
        try:
            db = load_db(models, database_url)
        except click.ClickException as exc:
            raise ConfigError(exc.format_message(), field="models") from None
    known = [name for name in inspect.signature(Gateway).parameters if name != "db"]
    for name in options:
        if name not in known:
            raise ConfigError(f"create_gateway has no option {name!r}{suggest(name, known)}", field=name)
    return Gateway(db, enable_monitoring=enable_monitoring, **options)
