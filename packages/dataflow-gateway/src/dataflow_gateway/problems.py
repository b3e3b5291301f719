"""Errors as ``application/problem+json`` (RFC 9457), and the status each DataFlow error means over HTTP.

No driver text, SQL or stack trace reaches a client: DataFlow's own errors
carry messages written for users (values never appear in them), and anything
else is a 500 whose ``instance`` id is in the server log with the traceback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from starlette.responses import Response

from dataflow.errors import (
    CheckViolationError,
    ConcurrentUpdateError,
    ConnectionError,
    DataFlowError,
    FilterError,
    ForeignKeyViolationError,
    NotFoundError,
    NotNullViolationError,
    UniqueViolationError,
    ValidationError,
    WorkflowError,
)

from .codec import dumps

log = logging.getLogger("dataflow.gateway")

TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 412: "Precondition Failed", 413: "Content Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Content", 428: "Precondition Required", 500: "Internal Server Error",
    503: "Service Unavailable",
}  # fmt: skip

# Most specific first: the first class an error is an instance of gives its status.
STATUSES: Sequence[tuple[type[DataFlowError], int]] = (
    (NotFoundError, 404),
    (FilterError, 400),
    (ValidationError, 422),
    (UniqueViolationError, 409),
    (ForeignKeyViolationError, 409),
    (NotNullViolationError, 422),
    (CheckViolationError, 422),
    (ConcurrentUpdateError, 412),
    (ConnectionError, 503),
)


# A detail or field message is cut at this length: messages quote what the client sent (an unknown
# name, say), and a 20 KB query parameter must not come back as a 20 KB error.
MAX_TEXT = 500


def bounded(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "\u2026"


class Problem(Exception):
    """An HTTP error the gateway raises itself: a status, a detail, and field errors for validation."""

    def __init__(self, status: int, detail: str, *, errors: Sequence[dict[str, Any]] = (), **headers: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = bounded(detail)
        self.errors = [{k: bounded(v) if isinstance(v, str) else v for k, v in error.items()} for error in errors]
        self.headers = {name.replace("_", "-"): value for name, value in headers.items()}


def problem_response(problem: Problem) -> Response:
    body: dict[str, Any] = {
        "type": f"https://dataflow.dev/problems/{problem.status}",
        "title": TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
    }
    if problem.errors:
        body["errors"] = problem.errors
    return Response(dumps(body), status_code=problem.status, media_type="application/problem+json",
                    headers=problem.headers)  # fmt: skip


def from_error(error: BaseException) -> Problem:
    """The problem a DataFlow error (or a workflow's failed node) stands for; anything else is a logged 500."""
    if isinstance(error, WorkflowError) and error.cause is not None and not isinstance(error.cause, WorkflowError):
        return from_error(error.cause)
    if isinstance(error, DataFlowError):
        for cls, status in STATUSES:
            if isinstance(error, cls):
                return _dataflow_problem(error, status)
        if isinstance(error, WorkflowError):
            return Problem(400, error.message)
    incident = uuid.uuid4().hex
    log.error("request failed, incident %s", incident, exc_info=(type(error), error, error.__traceback__))
    return Problem(500, f"the server failed to handle the request; incident {incident} is in its log")


def _dataflow_problem(error: DataFlowError, status: int) -> Problem:
    if status == 503:
        return Problem(503, "the database is unavailable; retry shortly", Retry_After="2")
    fields = list(getattr(error, "fields", ()) or ([error.field] if error.field else []))
    errors = [{"field": field, "message": error.message} for field in fields]
    return Problem(status, error.message, errors=errors)
