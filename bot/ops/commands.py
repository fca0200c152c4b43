"""Operators' commands: doctor, backup, restore, people export/forget, retention.

They are attached to the main command group by `add_commands`, which receives
the shared `--config` option and config loader from `bot.cli` so that this
module does not import the command line (and the command line stays small).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bot.config import Config
from bot.ops.backup import BackupError, restore, rotate, take_backup
from bot.ops.doctor import run_checks
from bot.ops.lock import AlreadyRunning, instance_lock
from bot.ops.privacy import apply_retention, export_json, find_user, forget_person
from bot.store.schema import open_database


def _now() -> datetime:
    return datetime.now(UTC)


def add_commands(cli: click.Group, config_option: Callable[[Any], Any],
                 load_config: Callable[[Path], Config]) -> None:
    """Register the operators' commands on `cli`."""

    @cli.command()
    @config_option
    def doctor(config_path: Path) -> None:
        """Check config, tokens, webhooks, database, disk, clock and backups; a verdict per item."""
        config = load_config(config_path)
        findings = asyncio.run(run_checks(config, dict(os.environ)))
        for finding in findings:
            click.echo(finding.line())
        failed = sum(f.level == "fail" for f in findings)
        click.echo("All good." if not failed else f"{failed} problem(s) to fix before going live.")
        sys.exit(1 if failed else 0)

    @cli.command()
    @config_option
    @click.option("--to", "to_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
                  help="Folder to write to (default: backup.dir in config.yaml).")
    def backup(config_path: Path, to_dir: Path | None) -> None:
        """Take a consistent backup (database, uploads, knowledge) even while the bot runs."""
        config = load_config(config_path)
        folder = to_dir or config.backup.dir
        try:
            path = take_backup(config.database, config.uploads_dir, config.knowledge_dir, folder, _now())
        except (BackupError, OSError) as exc:
            raise click.ClickException(f"backup failed: {exc}") from exc
        removed = rotate(folder, config.backup.keep_daily, config.backup.keep_monthly)
        click.echo(f"backup written: {path}" + (f" ({len(removed)} old backup(s) rotated out)"
                                                 if removed else ""))

    @cli.command("restore")
    @config_option
    @click.argument("archive", type=click.Path(path_type=Path, exists=True, dir_okay=False))
    @click.option("--with-knowledge", is_flag=True, help="Also bring back knowledge/ as it was then.")
    @click.confirmation_option(prompt="Replace the current database with this backup?")
    def restore_cmd(config_path: Path, archive: Path, with_knowledge: bool) -> None:
        """Bring back a backup after checking it; the bot must be stopped."""
        config = load_config(config_path)
        try:
            with instance_lock(config.database):
                previous = restore(archive, config.database, config.uploads_dir,
                                   config.knowledge_dir if with_knowledge else None, _now())
        except AlreadyRunning as exc:
            raise click.ClickException(f"{exc}; stop the bot first") from exc
        except (BackupError, OSError) as exc:
            raise click.ClickException(f"restore refused: {exc}") from exc
        click.echo(f"restored {archive.name} into {config.database}"
                   + (f"; the previous database is kept as {previous.name}" if previous else ""))

    @cli.group()
    def people() -> None:
        """Personal data: export what is kept about a person, or forget them."""

    def _user(config: Config, who: str) -> tuple[Any, int]:
        db = open_database(config.database)
        user_id = find_user(db, who)
        if user_id is None:
            raise click.ClickException(f"no person {who!r} (give an id, channel:user or phone)")
        return db, user_id

    @people.command("export")
    @config_option
    @click.argument("who")
    def people_export(config_path: Path, who: str) -> None:
        """Print everything kept about WHO as JSON (id, channel:user or phone)."""
        db, user_id = _user(load_config(config_path), who)
        click.echo(export_json(db, user_id))

    @people.command("forget")
    @config_option
    @click.argument("who")
    @click.confirmation_option(prompt="Remove this person's messages, screenshots and details?")
    def people_forget(config_path: Path, who: str) -> None:
        """Remove WHO's messages, screenshots and identifiers; report counts stay."""
        config = load_config(config_path)
        db, user_id = _user(config, who)
        removed = forget_person(db, user_id, config.uploads_dir)
        click.echo(f"person #{user_id} forgotten: " + _counts(removed.counts))

    @cli.command()
    @config_option
    def retention(config_path: Path) -> None:
        """Remove texts and screenshots older than privacy.keep_texts_months (the bot also runs it daily)."""
        config = load_config(config_path)
        db = open_database(config.database)
        removed = apply_retention(db, config.uploads_dir, _now(), config.privacy.keep_texts_months)
        click.echo("retention: " + _counts(removed.counts))


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing to remove"
