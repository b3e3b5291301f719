"""Which tenant a statement runs for: the run's context, else the task's ``db.tenant(...)`` block.

The ambient tenant lives in a :class:`contextvars.ContextVar`, so every
asyncio task sees the value of the task that created it and concurrent
tasks with different tenants never mix. The variable maps each instance's
:class:`~dataflow_tenancy.service.Tenancy` to its scope, so that
``db1.tenant("a")`` does not scope ``db2``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType
from typing import Any

import attrs

from .errors import TenantMismatchError, TenantRequiredError

MAX_TENANT_LENGTH = 64
"""The longest tenant id; the ``tenant_id`` column is ``VARCHAR(64)``."""


@attrs.frozen
class TenantScope:
    """What a statement may touch: one tenant's rows, or (admin) every tenant's."""

    tenant: str | None
    admin: bool = False
    reason: str | None = None


_ambient: ContextVar[Mapping[object, TenantScope]] = ContextVar("dataflow_tenancy_scope", default=MappingProxyType({}))
"""Each instance's (``Tenancy``'s) ambient scope; a new mapping per block, never changed in place."""


def check_tenant(tenant: Any, *, model: str | None = None) -> str:
    """``tenant`` if it is a valid tenant id (a non-empty string of at most 64 printable characters)."""
    if (
        not isinstance(tenant, str)
        or not tenant
        or len(tenant) > MAX_TENANT_LENGTH
        or not tenant.isprintable()
        or tenant != tenant.strip()
    ):
        raise TenantMismatchError(
            f"invalid tenant id {tenant!r}: use a non-empty string of at most {MAX_TENANT_LENGTH} printable "
            "characters without surrounding spaces",
            model=model,
            field="tenant_id",
        )
    return tenant


@functools.lru_cache(maxsize=4096)
def tenant_scope(tenant: str) -> TenantScope:
    """The (validated, shared) scope of one tenant."""
    return TenantScope(check_tenant(tenant))


def ambient_scope(owner: object) -> TenantScope | None:
    """The scope ``owner``'s enclosing ``db.tenant(...)``/``db.tenant_admin()`` block set, if any."""
    return _ambient.get().get(owner)


def resolve(owner: object, context: Mapping[str, Any], model: str | None = None) -> TenantScope:
    """The scope of a statement: the run's ``tenant``, its ``tenant_admin``, else the ambient block.

    Fails closed: with none of them, ``TenantRequiredError``. A run whose
    ``tenant`` differs from the enclosing ``db.tenant(...)`` block is refused
    rather than guessed.
    """
    ambient = _ambient.get().get(owner)
    node_tenant = context.get("node_tenant")
    if node_tenant is not None:
        return _node_scope(node_tenant, context, ambient, model)
    tenant = context.get("tenant")
    if tenant is not None:
        # The cache holds checked scopes: a string is looked up, anything else refused first.
        scope = tenant_scope(tenant) if type(tenant) is str else tenant_scope(check_tenant(tenant, model=model))
        if ambient is not None and ambient.tenant is not None and ambient.tenant != tenant:
            raise TenantMismatchError(
                f"the run's tenant {tenant!r} differs from the enclosing db.tenant({ambient.tenant!r}) block; "
                "leave one of them out",
                model=model,
                field="tenant_id",
            )
        return scope
    admin = context.get("tenant_admin")
    if admin is not None and admin is not False:
        if admin is not True and not (isinstance(admin, str) and admin):
            raise TenantRequiredError(
                f"context['tenant_admin'] must be True or a non-empty reason, got {admin!r}", model=model
            )
        return TenantScope(None, admin=True, reason=admin if isinstance(admin, str) else None)
    if ambient is not None:
        return ambient
    raise TenantRequiredError(
        f"{model or 'this model'} is tenant-scoped and no tenant is in context: run it with tenant=..., "
        "inside db.tenant(...), or (cross-tenant, deliberately) inside db.tenant_admin(reason=...)",
        model=model,
        field="tenant_id",
    )


def _node_scope(tenant: Any, context: Mapping[str, Any], ambient: TenantScope | None, model: str | None) -> TenantScope:
    """A tenant named by one node (admin tools): it may narrow an admin or tenant-less run, never switch tenants."""
    tenant = check_tenant(tenant, model=model)
    for outer in (context.get("tenant"), ambient.tenant if ambient is not None else None):
        if outer is not None and outer != tenant:
            raise TenantMismatchError(
                f"the node names tenant {tenant!r} inside a run for tenant {outer!r}", model=model, field="tenant_id"
            )
    return tenant_scope(tenant)


class ScopeBlock:
    """``with``/``async with`` block that sets the ambient scope of one instance for the current task.

    Blocks nest (the innermost wins) and may be reused one after the other;
    create one per concurrent task.
    """

    def __init__(
        self, owner: object, scope: TenantScope, on_enter: Callable[[TenantScope], None] | None = None
    ) -> None:
        self.owner = owner
        self.scope = scope
        self._on_enter = on_enter
        self._tokens: list[Token[Mapping[object, TenantScope]]] = []

    def __enter__(self) -> TenantScope:
        if self._on_enter is not None:
            self._on_enter(self.scope)
        current = _ambient.get()
        scopes = dict(current) if current else {}
        scopes[self.owner] = self.scope
        self._tokens.append(_ambient.set(scopes))
        return self.scope

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        _ambient.reset(self._tokens.pop())

    async def __aenter__(self) -> TenantScope:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.__exit__(kind, error, traceback)
