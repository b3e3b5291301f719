"""dataflow-gateway: DataFlow models and workflows as a REST API with OpenAPI."""

from .app import Gateway, create_gateway
from .auth import Principal, api_key_auth, jwt_auth
from .problems import Problem

__all__ = ["Gateway", "Principal", "Problem", "api_key_auth", "create_gateway", "jwt_auth"]
