"""config.yaml: defaults for what is missing, errors that name the wrong key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import BackupConfig, Config, ConfigError, MatcherConfig, load_config, settings_help

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_empty_file_gives_defaults_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == Config(
        knowledge_dir=tmp_path / "knowledge", database=tmp_path / "data" / "bot.sqlite",
        backup=BackupConfig(dir=tmp_path / "data" / "backups"),
    )


def test_values_are_read_into_typed_objects(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "matcher:\n  answer_threshold: 0.7\n  max_candidates: 2\n"))
    assert config.matcher == MatcherConfig(answer_threshold=0.7, max_candidates=2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("matcher:\n  answer_threshold: high\n", "matcher.answer_threshold: expected a number, got 'high'"),
        ("matcher:\n  answer_treshold: 0.5\n", "matcher.answer_treshold: unknown key (known: answer_margin, "
         "answer_threshold, clarify_threshold, max_candidates, target_error_rate)"),
        ("matcher: 3\n", "matcher: expected a mapping, got int"),
        ("matcher:\n  max_candidates: 2.5\n", "matcher.max_candidates: expected int, got 2.5"),
        ("matcher:\n  answer_threshold: 1.5\n", "matcher.answer_threshold: must be between 0 and 1, got 1.5"),
        ("matcher:\n  clarify_threshold: 0.9\n  answer_threshold: 0.5\n",
         "matcher.clarify_threshold: must not exceed answer_threshold"),
        ("knowledge_dir: 5\n", "knowledge_dir: expected a path, got 5"),
        ("- a\n- b\n", "expected a mapping of settings at the top level"),
        ("people:\n  admins: [12345]\n", "people.admins[0]: expected str, got 12345"),
        ("people:\n  technicians: ['12345']\n",
         "people.technicians[0]: expected 'channel:platform-user-id', got '12345'"),
        ("queues:\n  so-khcn: [abc]\n", "queues.so-khcn[0]: expected 'channel:chat-id', got 'abc'"),
        ("tickets:\n  sla:\n    urgent:\n      first_response_hours: soon\n",
         "tickets.sla.urgent.first_response_hours: expected a number, got 'soon'"),
    ],
)
def test_a_wrong_value_is_refused_naming_its_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert str(info.value).endswith(message)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_the_shipped_config_loads() -> None:
    config = load_config(REPO / "config.yaml")
    assert config.knowledge_dir == REPO / "knowledge"


def test_every_setting_is_documented_in_the_shipped_config() -> None:
    shipped = (REPO / "config.yaml").read_text(encoding="utf-8")
    missing = [key for key, _ in settings_help() if key.rsplit(".", 1)[-1] not in shipped]
    assert missing == []
