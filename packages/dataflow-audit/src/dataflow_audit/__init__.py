"""dataflow-audit: a tamper-evident audit trail and record history for DataFlow models."""

from .history import AuditEntry
from .nodes import AuditHistoryNode
from .service import Audit
from .verify import BadEntry, VerifyResult

__all__ = ["Audit", "AuditEntry", "AuditHistoryNode", "BadEntry", "VerifyResult"]
