"""Settings: defaults, parsing and errors that name the variable."""

from __future__ import annotations

import pytest

from settings import SettingsError, load_settings


def test_defaults_use_embedded_store_and_utm_13n() -> None:
    settings = load_settings({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("data/waterdesk.db")
    assert settings.metric_crs == "EPSG:26913"
    assert settings.service_area.contains(-106.66, 52.13)


def test_values_are_parsed() -> None:
    settings = load_settings(
        {
            "WATERDESK_SNAP_LIMIT_M": "20",
            "WATERDESK_METRIC_CRS": "epsg:32613",
            "WATERDESK_SERVICE_AREA": "-107,52,-106,53",
        }
    )
    assert settings.snap_limit_m == 20
    assert settings.metric_crs == "EPSG:32613"
    assert not settings.service_area.contains(-108, 52.5)


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"WATERDESK_SNAPLIMIT": "20"}, "unknown setting WATERDESK_SNAPLIMIT"),
        ({"WATERDESK_SNAP_LIMIT_M": "-5"}, "WATERDESK_SNAP_LIMIT_M='-5' is not usable"),
        ({"WATERDESK_SNAP_LIMIT_M": "nan"}, "positive number"),
        ({"WATERDESK_METRIC_CRS": "UTM13"}, "EPSG code"),
        ({"WATERDESK_SERVICE_AREA": "1,2,3"}, "four comma-separated"),
        ({"WATERDESK_SERVICE_AREA": "-106,53,-107,52"}, "min must be below max"),
        ({"WATERDESK_DATABASE_URL": "mysql://x"}, "sqlite:///PATH or postgresql://"),
        ({"WATERDESK_TIMEZONE": "Mars/Olympus"}, "not an IANA time zone"),
        ({"WATERDESK_API_PORT": "eighty"}, "WATERDESK_API_PORT"),
    ],
)
def test_reject_malformed_values_naming_the_variable(env: dict[str, str], match: str) -> None:
    with pytest.raises(SettingsError, match=match):
        load_settings(env)
