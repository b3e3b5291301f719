"""dataflow-txn: retries, savepoint scopes, sagas and two-phase commit across DataFlow databases."""

from .coordinator import Branch, TwoPhaseCoordinator, TwoPhaseOutcome
from .distributed import DistributedTransaction, DistributedTransactionNode, TransactionOutcome
from .errors import InDoubtError, RetryError, SagaError, SagaInProgressError, TwoPhaseError
from .events import InDoubtBranch, SagaRecovered, TransactionRetried
from .executor import run_on_sessions
from .idempotency import run_once
from .recovery import RecoveryReport
from .retention import RetentionReport, purge_history
from .retry import RetryingRuntime, RetryPolicy, execute_with_retry
from .saga import Saga, SagaContext, SagaNode, SagaOutcome, SagaRecoveryReport, SagaService
from .scope import TransactionScopeNode, add_transaction_scope, transaction_scope

__all__ = [
    "Branch",
    "DistributedTransaction",
    "DistributedTransactionNode",
    "InDoubtBranch",
    "InDoubtError",
    "RecoveryReport",
    "RetentionReport",
    "RetryError",
    "RetryPolicy",
    "RetryingRuntime",
    "Saga",
    "SagaContext",
    "SagaError",
    "SagaInProgressError",
    "SagaNode",
    "SagaOutcome",
    "SagaRecovered",
    "SagaRecoveryReport",
    "SagaService",
    "TransactionOutcome",
    "TransactionRetried",
    "TransactionScopeNode",
    "TwoPhaseCoordinator",
    "TwoPhaseError",
    "TwoPhaseOutcome",
    "add_transaction_scope",
    "execute_with_retry",
    "purge_history",
    "run_on_sessions",
    "run_once",
    "transaction_scope",
]
