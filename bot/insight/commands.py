"""Command-line verbs for province insight: `incidents` and `announce` (demo and report live in bot/cli.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bot import messages as msg
from bot.config import Config, ConfigError
from bot.desk.announcements import AnnouncementError, Announcements, Audience
from bot.desk.people import Person
from bot.knowledge.base import KnowledgeError


def _services(load: Callable[[Path], Config], path: Path):  # noqa: ANN202 - Services
    from bot.app import build_services

    try:
        return build_services(load(path))
    except (KnowledgeError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc


def _actor(services: Any, as_ref: str | None, admin: bool) -> Person:
    config = services.config.people
    ref = as_ref or next(iter(config.admins if admin else config.technicians + config.admins), None)
    if ref is None:
        raise click.ClickException("no admin configured (people.admins in config.yaml)")
    channel, _, user_ref = ref.partition(":")
    person = services.people.find(channel, user_ref)
    if person is None or not (person.is_admin if admin else person.is_technician):
        raise click.ClickException(f"{ref} is not {'an admin' if admin else 'a technician'}")
    return person


def announcements_of(services: Any, writer: bool = True) -> Announcements:
    """On the writer's connection (to send: call it on the writer thread), or the readers' (to look)."""
    db, people = (services.engine.db, services.engine.people) if writer else (services.db, services.people)
    return Announcements(db, people, services.faq, services.clock, [c.id for c in services.communes])


def add_commands(cli: click.Group, config_option: Callable, load: Callable[[Path], Config]) -> None:
    @cli.command(context_settings={"ignore_unknown_options": True})
    @config_option
    @click.option("--as", "as_ref", default=None, help="Act as this technician, 'channel:user-id'.")
    @click.argument("command", default="list")
    @click.argument("args", nargs=-1)
    def incidents(config_path: Path, as_ref: str | None, command: str, args: tuple[str, ...]) -> None:
        """Shared outages: list | declare SYSTEM TEXT | resolve N NOTE."""
        services = _services(load, config_path)
        actor = _actor(services, as_ref, admin=False)
        word = {"list": "suco", "declare": "sucochung", "resolve": "xongsuco"}.get(command)
        if word is None:
            raise click.ClickException(f"unknown command {command!r} (list, declare, resolve)")
        with services.engine.db.atomic():  # the writer's connection, as the bot itself writes
            replies = services.engine.incidents.command(word, " ".join(args), actor)
        for reply in replies:
            click.echo(reply.text)

    @cli.command()
    @config_option
    @click.argument("text", required=False)
    @click.option("--all", "to_all", is_flag=True, help="Every registered official.")
    @click.option("--commune", "communes", multiple=True, help="A commune id (knowledge/province/communes.yaml); "
                  "repeat for several.")
    @click.option("--system", default=None, help="Officials who asked about, or reported on, this system.")
    @click.option("--yes", is_flag=True, help="Send without asking after the preview.")
    @click.option("--list", "show_list", is_flag=True, help="List announcements with sent / held / failed.")
    @click.option("--as", "as_ref", default=None, help="Send as this admin, 'channel:user-id'.")
    def announce(config_path: Path, text: str | None, to_all: bool, communes: tuple[str, ...], system: str | None,
                 yes: bool, show_list: bool, as_ref: str | None) -> None:
        """Send a notice to officials, after a preview: --all, --commune ID..., or --system ID."""
        services = _services(load, config_path)
        board = announcements_of(services)
        if show_list:
            for row in board.recent(50):
                t = board.tally(row["id"])
                click.echo(f"#{row['id']} {row['created_at']} → {row['recipients']}: sent {t.sent}, waiting {t.waiting}, "
                           f"held {t.held}, delivered after hold {t.delivered_after_hold}, failed {t.failed} · "
                           f"{row['text'].splitlines()[-1][:60]}")
            return
        chosen = [k for k, on in (("all", to_all), ("communes", bool(communes)), ("system", bool(system))) if on]
        if not text or len(chosen) != 1:
            raise click.ClickException("give the TEXT and exactly one of --all, --commune ID, --system ID")
        try:
            audience = board.audience(chosen[0], communes, system)
            preview = board.preview(text, audience)
        except AnnouncementError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(preview.text)
        click.echo(f"-- {len(preview.recipients)} official(s): "
                   + ", ".join(f"{n} on {ch}" for ch, n in sorted(preview.by_channel.items())))
        if not preview.recipients:
            raise click.ClickException(msg.ANNOUNCE_NOBODY)
        if not yes and not click.confirm("Send it?", default=False):
            click.echo("not sent")
            return
        try:
            announcement_id = board.send(text, audience, _actor(services, as_ref, admin=True))
        except AnnouncementError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(msg.ANNOUNCE_SENT.format(id=announcement_id, n=len(preview.recipients)))


__all__ = ["Audience", "add_commands", "announcements_of"]
