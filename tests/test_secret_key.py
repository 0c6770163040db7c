"""The key that signs links: NURTURE_SECRET_KEY, else one made on first start and kept under ./var."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from nurture.settings import Settings, persisted_secret


def test_a_missing_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret_key"
    first = persisted_secret(path)
    assert len(first) >= 43  # 256 bits
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert persisted_secret(path) == first
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no drafts left behind


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _n: persisted_secret(path), range(32)))
    assert len(keys) == 1


def test_an_empty_key_file_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("\n")
    with pytest.raises(ValueError, match="NURTURE_SECRET_KEY"):
        persisted_secret(path)


def test_the_setting_wins_and_links_default_to_the_servers_own_address(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    given = Settings(secret_key="given", secret_key_file=path, host="127.0.0.1", port=8123)
    assert given.link_secret() == "given"
    assert not path.exists()
    assert given.base_url() == "http://127.0.0.1:8123"
    assert Settings(public_url="https://mail.example.com/").base_url() == "https://mail.example.com"
    made = Settings(secret_key=None, secret_key_file=path)
    assert made.link_secret() == path.read_text().strip()
