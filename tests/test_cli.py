"""The waterdesk command: help, request look-ups, imports and layer checks."""

from __future__ import annotations

from pathlib import Path

import pytest

import cli
from crm.intake import Report, submit_report
from crm.store import Store
from tests.conftest import make_settings


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("WATERDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("WATERDESK_DATA_DIR", str(tmp_path))
    return Store(f"sqlite:///{tmp_path / 'cli.db'}", make_settings(tmp_path))


@pytest.mark.parametrize(
    "command",
    [
        ["demo"],
        ["layers", "load"],
        ["layers", "list"],
        ["layers", "check"],
        ["import"],
        ["incidents"],
        ["plan"],
        ["api"],
        ["api-keys"],
        ["bench"],
        ["requests", "show"],
        ["requests", "list"],
    ],
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main([*command, "--help"])
    assert caught.value.code == 0
    assert "usage: waterdesk" in capsys.readouterr().out


def test_show_and_list_requests(cli_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    receipt = submit_report(
        cli_store, Report("sewer_locate", "counter", "digging a fence", lat=52.13, lon=-106.66)
    )
    assert cli.main(["requests", "show", receipt.number.lower()]) == 0
    out = capsys.readouterr().out
    assert receipt.number in out
    assert "received by counter" in out
    assert cli.main(["requests", "list", "--status", "open"]) == 0
    assert receipt.number in capsys.readouterr().out


def test_show_unknown_number_exits_2_with_message(
    cli_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["requests", "show", "ABCDE-FGHJK"]) == 2
    assert "not a valid tracking number" in capsys.readouterr().err


def test_import_is_all_or_nothing(
    cli_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.csv"
    good.write_text(
        "service_code,lat,long,description,client_id\n"
        "hydrant_issue,52.13,-106.66,leaking,a1\n"
        "sewer_locate,52.131,-106.661,fence,a2\n",
        encoding="utf-8",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "service_code,lat,long,description\n"
        "hydrant_issue,52.13,-106.66,fine\n"
        "pothole,52.13,-106.66,wrong service\n",
        encoding="utf-8",
    )

    with pytest.raises(SystemExit, match=r"nothing imported; report 2: unknown service"):
        cli.main(["import", str(bad)])
    assert cli_store.count_requests() == 0
    assert cli.main(["import", str(good)]) == 0
    assert cli.main(["import", str(good)]) == 0
    assert cli_store.count_requests() == 2
    assert "0 requests from" in capsys.readouterr().out


def test_import_rejects_unknown_columns(cli_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("service,lat\nx,1\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"unknown columns \['service'\]"):
        cli.main(["import", str(path)])


def test_load_real_saskatoon_sewers(
    cli_store: Store, saskatoon_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(["layers", "load", "manholes", str(saskatoon_dir), "--mapping", "saskatoon"]) == 0
    )
    assert (
        cli.main(
            [
                "layers",
                "load",
                "sewer_mains",
                str(saskatoon_dir),
                "--mapping",
                "saskatoon",
                "--nodes",
                "manholes",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "dangling" in out
    assert cli.main(["layers", "list"]) == 0
    listed = capsys.readouterr().out
    assert "sewer_mains" in listed
    assert "manholes" in listed


def test_demo_files_only_writes_and_loads_nothing(cli_store: Store, tmp_path: Path) -> None:
    from data.democity import read_city

    out = tmp_path / "city" / "demo.gpkg"
    assert (
        cli.main(
            ["demo", "--scale", "0.3", "--request-scale", "2", "--files-only", "--out", str(out)]
        )
        == 0
    )
    city = read_city(out)
    assert len(city.layers["water_mains"]) > 0
    assert len(city.requests) > 0
    assert cli_store.count_requests() == 0
