"""DataFlow: zero-configuration, workflow-native database access.

    db = DataFlow()

    @db.model
    class User:
        name: str
        email: str

Importing this package imports no database driver; dialect plugins load
their drivers when a pool is first needed.
"""

from .config import Config
from .database import DataFlow
from .errors import (
    CheckViolationError,
    ConcurrentUpdateError,
    ConfigError,
    ConnectionError,
    DatabaseError,
    DataFlowError,
    DeadlockError,
    FilterError,
    ForeignKeyViolationError,
    IntegrityError,
    LockTimeoutError,
    NotFoundError,
    NotNullViolationError,
    PoolTimeoutError,
    QueryCancelledError,
    SerializationError,
    StoredValueError,
    TransactionError,
    UniqueViolationError,
    ValidationError,
    WorkflowBuildError,
    WorkflowError,
)
from .fields import ColumnType, MaxLength, Personal
from .plugins import hookimpl
from .workflow import AsyncLocalRuntime, LocalRuntime, Workflow, WorkflowBuilder

__version__ = "0.1.0"

__all__ = [
    "AsyncLocalRuntime",
    "CheckViolationError",
    "ConcurrentUpdateError",
    "Config",
    "ConfigError",
    "ConnectionError",
    "DataFlow",
    "DataFlowError",
    "DatabaseError",
    "DeadlockError",
    "FilterError",
    "ForeignKeyViolationError",
    "IntegrityError",
    "LocalRuntime",
    "LockTimeoutError",
    "ColumnType",
    "MaxLength",
    "Personal",
    "NotFoundError",
    "NotNullViolationError",
    "PoolTimeoutError",
    "QueryCancelledError",
    "SerializationError",
    "StoredValueError",
    "TransactionError",
    "UniqueViolationError",
    "ValidationError",
    "Workflow",
    "WorkflowBuildError",
    "WorkflowBuilder",
    "WorkflowError",
    "hookimpl",
]
