"""Who is calling: a :class:`Principal` from the request, by a callable of the application's or a built-in helper.

``authenticate(request)`` returns a principal, or None (401), or raises
:class:`~dataflow_gateway.problems.Problem` (401/403 with its own detail).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import attrs
from starlette.requests import Request

from .problems import Problem


@attrs.frozen
class Principal:
    """The caller: who (``actor``, for audit), for which tenant, allowed what (``scopes``; None: everything)."""

    actor: str
    tenant: str | None = None
    scopes: frozenset[str] | None = None

    def allows(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes


Authenticate = Callable[[Request], "Awaitable[Principal | None] | Principal | None"]


def api_key_auth(keys: Mapping[str, Principal], header: str = "X-API-Key") -> Authenticate:
    """Principals by API key, read from ``header``; keys are compared in constant time."""
    known = dict(keys)

    def authenticate(request: Request) -> Principal | None:
        given = request.headers.get(header)
        if given is None:
            raise Problem(401, f"send an API key in the {header} header", WWW_Authenticate=f'ApiKey header="{header}"')
        for key, principal in known.items():
            if hmac.compare_digest(given.encode(), key.encode()):
                return principal
        raise Problem(401, "the API key is not valid")

    return authenticate


def jwt_auth(
    key: Any,
    *,
    algorithms: Iterable[str] = ("RS256",),
    issuer: str | None = None,
    audience: str | None = None,
    tenant_claim: str = "tenant",
    scope_claim: str = "scope",
    leeway: float = 0,
) -> Authenticate:
    """Principals from ``Authorization: Bearer <JWT>`` (PyJWT): signature, ``exp``, issuer and audience checked.

    ``algorithms`` is an allow-list (``none`` is never accepted); the actor is
    the ``sub`` claim, the tenant ``tenant_claim``, scopes the space-separated
    ``scope_claim``.
    """
    import jwt  # noqa: PLC0415 - PyJWT is an optional extra: only JWT auth needs it

    allowed = [a for a in algorithms if a.lower() != "none"]
    if not allowed:
        raise ValueError("jwt_auth needs at least one signing algorithm; 'none' is never accepted")
    options: Any = {"require": ["exp", "sub"] + (["iss"] if issuer else []) + (["aud"] if audience else [])}

    def authenticate(request: Request) -> Principal | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Problem(401, "send a bearer token in the Authorization header", WWW_Authenticate="Bearer")
        try:
            claims = jwt.decode(token, key, algorithms=allowed, issuer=issuer, audience=audience, leeway=leeway,
                                options=options)  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise Problem(401, "the token has expired", WWW_Authenticate='Bearer error="invalid_token"') from None
        except jwt.InvalidTokenError as exc:
            detail = f"the token is not valid: {type(exc).__name__}"
            raise Problem(401, detail, WWW_Authenticate='Bearer error="invalid_token"') from None
        scopes = claims.get(scope_claim)
        return Principal(
            actor=str(claims["sub"]),
            tenant=None if claims.get(tenant_claim) is None else str(claims[tenant_claim]),
            scopes=None if scopes is None else frozenset(str(scopes).split()),
        )

    return authenticate
