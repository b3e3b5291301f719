"""Every dialect refuses a URL option it does not know, naming the nearest one, before any SQL runs."""

from __future__ import annotations

import pytest

from ...errors import ConfigError
from ..helpers import open_db


def with_option(url: str, option: str) -> str:
    return url + ("&" if "?" in url else "?") + option


@pytest.mark.parametrize("typo", ["timout=5", "conect_timeout=2"])
def test_an_unknown_url_option_is_refused_naming_the_nearest(dataflow_database_url: str, typo: str) -> None:
    name = typo.partition("=")[0]
    with pytest.raises(ConfigError) as info:
        open_db(with_option(dataflow_database_url, typo))
    assert info.value.field == name
    assert f"URL option {name!r}; did you mean '" in str(info.value) and "options: " in str(info.value)


def test_an_unknown_url_option_with_no_near_name_lists_the_options(dataflow_database_url: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_db(with_option(dataflow_database_url, "colour=red"))
    assert info.value.field == "colour" and "URL option 'colour'; options: " in str(info.value)
