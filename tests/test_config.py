"""Workspace discovery, configuration and its environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

import nbops
from nbops.config import find_workspace, init_workspace, load_settings
from nbops.errors import ConfigError, WorkspaceNotFound


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory with a workspace, the current directory, NBOPS_HOME unset."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    init_workspace(root)
    return root


def _write_config(home: Path, text: str) -> None:
    (home / "config.toml").write_text(text)


def test_workspace_is_found_walking_up(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = project / "notebooks" / "2024" / "eda"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_workspace() == project / ".nbops"
    with nbops.open(create=False) as ws:
        assert ws.settings.home == project / ".nbops"
    assert not (deep / ".nbops").exists()


def test_nbops_home_names_the_workspace(project: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere"
    init_workspace(other)
    monkeypatch.setenv("NBOPS_HOME", str(other))  # the parent directory works as well as .nbops
    assert find_workspace() == other / ".nbops"
    monkeypatch.setenv("NBOPS_HOME", str(other / ".nbops"))
    with nbops.open(create=False) as ws:
        assert ws.settings.home == other / ".nbops"


def test_an_explicit_path_wins_over_nbops_home(project: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere"
    init_workspace(other)
    monkeypatch.setenv("NBOPS_HOME", str(other))
    with nbops.open(project) as ws:
        assert ws.settings.home == project / ".nbops"


def test_open_creates_a_workspace_and_says_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with nbops.open() as ws:
        assert ws.settings.home == tmp_path / ".nbops"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / ".nbops") in err
    with nbops.open():  # the second time it is found, silently
        pass
    assert capsys.readouterr().err == ""


def test_open_without_create_refuses_when_none_is_found(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkspaceNotFound) as info:
        nbops.open(create=False)
    assert "nbops init" in (info.value.hint or "")
    assert not (tmp_path / ".nbops").exists()


def test_init_refuses_an_existing_workspace_when_asked(project: Path) -> None:
    with pytest.raises(ConfigError, match="already exists"):
        init_workspace(project, exist_ok=False)


def test_defaults_resolve_inside_the_workspace(project: Path) -> None:
    s = load_settings(project / ".nbops")
    home = project / ".nbops"
    assert s.catalog_url == f"ducklake:sqlite:{home / 'catalog.sqlite'}"
    assert s.data_path == f"{home / 'data'}/"
    assert s.store_path == f"{home / 'objects'}/"
    assert s.is_embedded and s.user == "tester"


def test_environment_overrides_the_config(project: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBOPS_CATALOG", f"ducklake:sqlite:{tmp_path / 'other.sqlite'}")
    monkeypatch.setenv("NBOPS_DATA_PATH", "s3://bucket/data")
    monkeypatch.setenv("NBOPS_STORE", str(tmp_path / "objects"))
    monkeypatch.setenv("NBOPS_USER", "alice")
    s = load_settings(project / ".nbops")
    assert s.catalog_url == f"ducklake:sqlite:{tmp_path / 'other.sqlite'}"
    assert s.data_path == "s3://bucket/data/"
    assert s.store_path == f"{tmp_path / 'objects'}/"
    assert s.user == "alice"
    with nbops.open() as ws:  # and the workspace really uses them
        assert ws.catalog.fetchall("SELECT count(*) FROM runs") == [(0,)]
    assert (tmp_path / "other.sqlite").is_file()
    assert not (project / ".nbops" / "catalog.sqlite").exists()


def test_identity_defaults_to_the_os_user(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    monkeypatch.delenv("NBOPS_USER")
    assert load_settings(project / ".nbops").user == getpass.getuser()


@pytest.mark.parametrize("text", [
    "[catalog\nurl = 'x'",                      # broken table header
    "[catalog]\nurl = ducklake:sqlite:x\n",       # unquoted string
    "[store]\nmax_object_mb = 1\nmax_object_mb = 2\n",  # duplicate key
])
def test_malformed_toml_is_a_clear_config_error(project: Path, text: str) -> None:
    home = project / ".nbops"
    _write_config(home, text)
    with pytest.raises(ConfigError) as info:
        load_settings(home)
    assert str(home / "config.toml") in str(info.value) and "not valid TOML" in str(info.value)
    with pytest.raises(ConfigError):
        nbops.open()


@pytest.mark.parametrize("text, words", [
    ("catalog = 'sqlite'\n", "[catalog] must be a table"),
    ("[catalog]\nurl = ''\n", "url must be a non-empty string"),
    ("[catalog]\nurl = 42\n", "url must be a non-empty string"),
    ("[catalog]\ndata_path = ['a']\n", "data_path must be a non-empty string"),
])
def test_wrong_types_are_named(project: Path, text: str, words: str) -> None:
    _write_config(project / ".nbops", text)
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        load_settings(project / ".nbops")


@pytest.mark.parametrize("value", ["0", "-5", "'big'", "true", "[1]"])
def test_bad_max_object_mb(project: Path, value: str) -> None:
    _write_config(project / ".nbops", f"[store]\nmax_object_mb = {value}\n")
    with pytest.raises(ConfigError, match="max_object_mb must be a positive number"):
        load_settings(project / ".nbops")


def test_fractional_max_object_mb_is_honoured(project: Path) -> None:
    _write_config(project / ".nbops", "[store]\nmax_object_mb = 0.5\n")
    assert load_settings(project / ".nbops").max_object_bytes == 512 * 1024


@pytest.mark.parametrize("url", ["sqlite:catalog.sqlite", "postgres://db/nbops",
                                 "catalog.duckdb", "ducklake:mysql:db=x"])
def test_a_non_ducklake_url_is_refused_with_a_hint(project: Path, url: str) -> None:
    _write_config(project / ".nbops", f"[catalog]\nurl = '{url}'\n")
    with pytest.raises(ConfigError) as info:
        load_settings(project / ".nbops")
    assert "not a DuckLake URL" in info.value.message
    assert "ducklake:sqlite:" in (info.value.hint or "")


def test_a_bad_url_from_the_environment_is_refused_too(project: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBOPS_CATALOG", "mysql://localhost/db")
    with pytest.raises(ConfigError, match="not a DuckLake URL"):
        load_settings(project / ".nbops")


def test_s3_section(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_config(project / ".nbops", """\
[catalog]
url = "ducklake:postgres:dbname=nbops host=db"
data_path = "s3://bucket/lake"
[store]
path = "s3://bucket/objects"
[s3]
endpoint = "127.0.0.1:9000"
url_style = "path"
use_ssl = false
key_id = "k"
secret = "s"
""")
    s = load_settings(project / ".nbops")
    assert not s.is_embedded
    assert (s.data_path, s.store_path) == ("s3://bucket/lake/", "s3://bucket/objects/")
    assert (s.s3.endpoint, s.s3.url_style, s.s3.use_ssl, s.s3.key_id) == (
        "127.0.0.1:9000", "path", False, "k")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    assert load_settings(project / ".nbops").s3.key_id == "from-env"


def test_a_quoted_boolean_is_refused(project: Path) -> None:
    _write_config(project / ".nbops", '[s3]\nuse_ssl = "false"\n')
    with pytest.raises(ConfigError, match="use_ssl must be true or false"):
        load_settings(project / ".nbops")
