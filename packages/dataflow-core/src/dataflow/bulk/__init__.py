"""Bulk operations: the strategy contract and the generic strategies."""

from .strategy import BulkRequest, BulkResult, BulkStrategy, choose_strategy, chunks, offered_strategies

__all__ = ["BulkRequest", "BulkResult", "BulkStrategy", "choose_strategy", "chunks", "offered_strategies"]
