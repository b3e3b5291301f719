"""Migrations: the live schema (``live``), steps and their SQL (``steps``, ``editor``), the plan (``diff``),
the history table and files (``history``, ``files``), and the runner that applies them (``runner``, ``startup``).

The modules span the core's layers (docs/adr/0017): ``live``, ``steps`` and ``editor`` sit below
``dialect``; ``history`` and ``runner`` sit above ``session``. This file imports none of them.
"""
