"""Repository-level tests: the docs' runnable blocks and the examples (tox env ``docs``)."""
