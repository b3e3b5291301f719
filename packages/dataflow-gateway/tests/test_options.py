"""``create_gateway``'s options: an unknown one is refused with the nearest name, before anything is served."""

from __future__ import annotations

import pytest

from dataflow import ConfigError, DataFlow
from dataflow_gateway import create_gateway


def test_an_unknown_option_is_refused_naming_the_nearest_one(db: DataFlow) -> None:
    with pytest.raises(ConfigError, match=r"max_limt.*max_limit") as raised:
        create_gateway(db, max_limt=10)
    assert raised.value.field == "max_limt"


def test_an_unknown_model_in_expose_is_refused(db: DataFlow) -> None:
    with pytest.raises(ConfigError, match="Nobody") as raised:
        create_gateway(db, expose={"Nobody": True})
    assert raised.value.field == "expose"
