"""The command line, and the composition root that builds what each command needs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from bot import messages
from bot.app import Services, build_services, run_timers
from bot.channels import terminal
from bot.channels.common import StartError
from bot.channels.quarantine import describe, listing
from bot.channels.terminal import TerminalSender
from bot.config import Config, ConfigError, load_config
from bot.desk.accounts import Accounts
from bot.desk.state import State
from bot.knowledge.base import KnowledgeBase, KnowledgeError, load_knowledge
from bot.knowledge.check import check, reviews_due
from bot.language.calibration import FIT_FILE, load_decider
from bot.language.matching import Matcher, MatchResult
from bot.ops.lock import AlreadyRunning, instance_lock
from bot.runner import configure_logging, run_until_signal
from bot.store.outbox import OutboxWorker

SECRET_ENV = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "ZALO_BOT_TOKEN", "ZALO_BOT_WEBHOOK_SECRET",
              "ZALO_OA_SECRET_KEY", "ZALO_APP_SECRET", "ZALO_OA_REFRESH_TOKEN", "ZALO_OA_ACCESS_TOKEN",
              "METRICS_TOKEN")

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("config.yaml"),
    show_default=True,
    help="Configuration file.",
)


# The checkout's own config, used when the default ./config.yaml is not where the command runs.
BUNDLED_CONFIG = Path(__file__).resolve().parent.parent / "config.yaml"


def _load_config(path: Path) -> Config:
    if path == Path("config.yaml") and not path.exists() and BUNDLED_CONFIG.exists():
        path = BUNDLED_CONFIG
    try:
        return load_config(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _build_matcher(config: Config, faq_files: tuple[Path, ...] = ()) -> Matcher:
    try:
        kb = load_knowledge(config.knowledge_dir, list(faq_files) or None)
    except KnowledgeError as exc:
        raise click.ClickException(
            f"the knowledge base has errors (run `python -m bot faq check`):\n{exc}"
        ) from exc
    return Matcher(kb, config.matcher, _decider(config))


def _decider(config: Config):  # noqa: ANN202 - Decider | None
    """The fitted decision model of the knowledge folder (None: thresholds from config)."""
    try:
        return load_decider(config.knowledge_dir, config.matcher.target_error_rate)
    except (ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(
            f"{config.knowledge_dir / FIT_FILE} is unreadable ({exc}); run `python -m bot matcher fit`"
        ) from exc


def render_match(result: MatchResult, kb: KnowledgeBase, explain: bool = True) -> str:
    """The reply a user would see, optionally followed by the matcher's reasoning."""
    lines: list[str] = []
    if result.decision == "answer" and result.entry_id:
        entry = kb.entry(result.entry_id)
        assert entry is not None
        lines += [kb.render(entry.answer).rstrip(), "", messages.ANSWER_FOOTER,
                  f"[{messages.CHOICE_SOLVED}] [{messages.CHOICE_NOT_RIGHT}] "
                  f"[{messages.CHOICE_TECHNICIAN}]"]
        if result.alternatives:
            lines.append(messages.ANSWER_ALTERNATIVES)
            for c in result.alternatives:
                entry = kb.entry(c.entry_id)
                lines.append(f"  - {entry.question if entry else c.entry_id}")
    elif result.decision == "clarify":
        lines.append(messages.CLARIFY_INTRO)
        for n, c in enumerate(result.candidates, 1):
            entry = kb.entry(c.entry_id)
            lines.append(f"  {n}. {entry.question if entry else c.entry_id}")
        lines.append(f"  {len(result.candidates) + 1}. {messages.CLARIFY_NONE_OF_THESE}")
    else:
        lines.append(messages.NO_MATCH)
    if explain:
        scores = ", ".join(f"{c.entry_id} {c.score:.2f}" for c in result.candidates) or "-"
        chance = "" if result.probability is None else f", P(right) {result.probability:.2f}"
        lines += ["", f"-- decision: {result.decision}, score {result.score:.2f}{chance}; candidates: {scores}"]
    return "\n".join(lines)


@click.group()
@click.version_option(package_name="xa-helpdesk-bot")
def cli() -> None:
    """Help-desk bot for commune officials: FAQ matcher, tickets and messenger channels."""


@cli.command()
@config_option
@click.option(
    "--faq",
    "faq_files",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="FAQ file(s) to use instead of the knowledge base's (synonyms still apply).",
)
@click.option("--thresholds-only", is_flag=True,
              help="Decide by the score/margin thresholds of config.yaml, ignoring the fitted model "
                   "(the rule used before it; for comparisons).")
def match(config_path: Path, faq_files: tuple[Path, ...], thresholds_only: bool) -> None:
    """Read one question per line on stdin; write one JSON decision per line."""
    config = _load_config(config_path)
    # Matching needs questions, not valid answers: problems are reported, not fatal.
    kb = load_knowledge(config.knowledge_dir, list(faq_files) or None, strict=False)
    for problem in kb.warnings:
        click.echo(str(problem), err=True)
    matcher = Matcher(kb, config.matcher, None if thresholds_only else _decider(config))
    out = sys.stdout
    for line in sys.stdin:
        query = line.rstrip("\r\n")
        out.write(json.dumps(matcher.match(query).as_json(), ensure_ascii=False) + "\n")
        out.flush()


@cli.command()
@config_option
@click.argument("question")
def ask(config_path: Path, question: str) -> None:
    """Print what the bot would reply to QUESTION (for trying an FAQ edit)."""
    matcher = _build_matcher(_load_config(config_path))
    click.echo(render_match(matcher.match(question), matcher.kb))


def _services(config_path: Path) -> Services:
    config = _load_config(config_path)
    try:
        return build_services(config)
    except (KnowledgeError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    except (sqlite3.Error, OSError) as exc:  # unwritable folder, read-only or corrupt file, full disk
        raise click.ClickException(_database_problem(config, exc)) from None


def _database_problem(config: Config, exc: Exception) -> str:
    """One line for an operator: which database, what is wrong, which setting to check."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (f"cannot open the database {config.database}: {reason} "
            "(check `database` in config.yaml, the file and its folder)")


def _terminal_chat(services: Services, user: str) -> None:
    sender = TerminalSender(user, sys.stdout, services.remember_choices)
    worker = OutboxWorker(services.db, {terminal.CHANNEL: sender}, services.clock, writer=services.writer)
    click.echo(messages.TERMINAL_WELCOME.format(entries=len(services.faq.kb.entries)))
    asyncio.run(terminal.chat_loop(services.handle, worker, user,
                                   background=lambda stop: run_timers(services, stop)))
    services.close()


@cli.command()
@config_option
def run(config_path: Path) -> None:
    """Start the bot until stopped: the web console (chat, technicians, admin) on web.host:web.port,
    plus every messenger whose secrets are set (TELEGRAM_BOT_TOKEN, ZALO_BOT_TOKEN, ZALO_OA_*)."""
    env = dict(os.environ)
    config = _load_config(config_path)
    configure_logging(logging.INFO, [env.get(name, "") for name in SECRET_ENV],
                      json_lines=config.logging.format == "json")
    try:
        with instance_lock(config.database):
            _serve(_services(config_path), env)
    except AlreadyRunning as exc:
        raise click.ClickException(f"{exc}; only one bot may serve a database") from exc
    except OSError as exc:  # the lock file cannot be made beside the database
        raise click.ClickException(_database_problem(config, exc)) from None


def _serve(services: Services, env: dict[str, str]) -> None:
    try:
        asyncio.run(run_until_signal(services, env))
    except StartError as exc:  # a messenger refused the token or cannot be reached
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # most often: the port is taken by another program
        web = services.config.web
        raise click.ClickException(f"cannot serve on {web.host}:{web.port}: {exc.strerror or exc} "
                                   "(change web.port in config.yaml)") from exc


@cli.command()
@config_option
@click.option("--user", default="local", show_default=True, help="Terminal user id (one per official).")
def chat(config_path: Path, user: str) -> None:
    """Talk to the bot as a commune official, in this terminal, with the real core and database."""
    _terminal_chat(_services(config_path), user)


@cli.command(context_settings={"ignore_unknown_options": True})
@config_option
@click.option("--as", "as_ref", default=None,
              help="Act as this technician, 'channel:user-id' (default: the first configured).")
@click.argument("command")
@click.argument("args", nargs=-1)
def tickets(config_path: Path, as_ref: str | None, command: str, args: tuple[str, ...]) -> None:
    """Work on tickets as a technician: list, show N, claim N, reply N TEXT, note N TEXT,
    wait N [TEXT], resolve N NOTE, reopen N, transfer N QUEUE, assign N CHANNEL:ID."""
    services = _services(config_path)
    ref = as_ref or next(iter(services.config.people.technicians + services.config.people.admins), None)
    if ref is None:
        raise click.ClickException("no technician configured (people.technicians in config.yaml)")
    channel, _, user_ref = ref.partition(":")
    person = services.people.find(channel, user_ref)
    if person is None or not person.is_technician:
        raise click.ClickException(f"{ref} is not a technician")
    word = {"list": "queue"}.get(command, command)
    desk = services.engine.desk
    # On the writer's connection, in one BEGIN IMMEDIATE transaction: waits its turn
    # (busy timeout) while a running server writes, instead of failing.
    replies = services.writer.call(desk.on_command, word, " ".join(args), person, State())
    services.close()
    if replies is None:
        raise click.ClickException(f"unknown command {command!r}")
    for reply in replies:
        click.echo(terminal.render_numbered(reply))


@cli.group()
def users() -> None:
    """Console accounts for technicians and admins (/console and /admin always need one)."""


@users.command("add")
@config_option
@click.argument("username")
@click.option("--role", type=click.Choice(["technician", "admin"]), default="technician", show_default=True)
@click.password_option(help="Password (asked for when not given).")
def users_add(config_path: Path, username: str, role: str, password: str) -> None:
    """Create or update the console account USERNAME."""
    services = _services(config_path)
    try:
        Accounts(services.db, services.people, services.clock).add(username, password, role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"account {username} ({role}) saved")


@cli.group("quarantine")
def quarantine_group() -> None:
    """Updates a channel could not parse or handle (kept raw, acknowledged, skipped)."""


@quarantine_group.command("list")
@config_option
@click.option("--before", type=int, default=None, help="Show those older than this id (paging).")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
def quarantine_list(config_path: Path, before: int | None, limit: int) -> None:
    """List quarantined updates, newest first."""
    services = _services(config_path)
    rows = listing(services.db, before, limit)
    if not rows:
        click.echo("no quarantined updates" if before is None else "no older quarantined updates")
        return
    for row in rows:
        click.echo(describe(row))
    if len(rows) == limit:
        click.echo(f"older: --before {rows[-1]['id']}")


@cli.group()
def faq() -> None:
    """Work with the FAQ knowledge base."""


@faq.command("check")
@config_option
@click.argument("path", required=False, type=click.Path(path_type=Path, exists=True))
def faq_check(config_path: Path, path: Path | None) -> None:
    """Validate the knowledge base (or PATH: a knowledge folder or one FAQ file)."""
    config = _load_config(config_path)
    directory, files = config.knowledge_dir, None
    if path is not None and path.is_dir():
        directory = path
    elif path is not None:
        files = [path]
    problems = check(directory, files, config.matcher)
    for problem in problems:
        click.echo(str(problem), err=problem.level == "error")
    errors = sum(p.level == "error" for p in problems)
    warnings = len(problems) - errors
    if not errors and files is None:
        click.echo(knowledge_summary(load_knowledge(directory), directory))
    click.echo(f"{errors} error(s), {warnings} warning(s)")
    if errors:
        sys.exit(1)


def knowledge_summary(kb: KnowledgeBase, directory: Path) -> str:
    """One line on what the knowledge base holds: per layer, systems, contacts, reviews due."""
    layers: dict[str, int] = {}
    for entry in kb.entries:
        layer = Path(entry.file).parent.parent
        name = layer.name if layer != directory else "."
        layers[name] = layers.get(name, 0) + 1
    per_layer = ", ".join(f"{n} {name}" for name, n in layers.items())
    if kb.overridden:
        per_layer += f"; {len(kb.overridden)} overriding a national entry"
    due = reviews_due(kb, datetime.now(UTC).date())
    never = sum(d.days is None for d in due)
    return (f"{len(kb.entries)} entries ({per_layer}) over {len({e.system for e in kb.entries if e.system})} "
            f"systems, {len(kb.contacts)} contacts; {never} never reviewed, {len(due) - never} reviewed "
            f"over a year ago (python -m bot faq reviews)")


@faq.command("reviews")
@config_option
def faq_reviews(config_path: Path) -> None:
    """List the entries never reviewed or reviewed over a year ago, oldest first."""
    config = _load_config(config_path)
    kb = load_knowledge(config.knowledge_dir, strict=False)
    for due in reviews_due(kb, datetime.now(UTC).date()):
        when = due.reviewed or "never reviewed"
        click.echo(f"{due.entry_id}\t{when}\t{Path(due.file).name}\t{due.question}")


@cli.command()
@config_option
@click.option("--seed", default=7, show_default=True, help="The same seed and dates give the same database.")
@click.option("--days", default=61, show_default=True, help="How many days of activity.")
@click.option("--until", "until", default=None, help="Last day (YYYY-MM-DD); default: yesterday.")
@click.option("--communes", default=36, show_default=True, help="How many communes take part.")
@click.option("--database", "database", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Fill this database file instead of the configured one.")
def demo(config_path: Path, seed: int, days: int, until: str | None, communes: int,
         database: Path | None) -> None:
    """Fill a fresh database with realistic activity (officials, questions, tickets, an outage)."""
    import dataclasses
    from datetime import date, timedelta

    from bot.demo import DemoClock, fill_demo

    config = _load_config(config_path)
    if database is not None:
        config = dataclasses.replace(config, database=database)
    try:
        end = date.fromisoformat(until) if until else date.today() - timedelta(days=1)
    except ValueError as exc:
        raise click.ClickException(f"--until must be YYYY-MM-DD, not {until!r}") from exc
    clock = DemoClock()
    services = build_services(config, clock)
    used = services.db.execute("select (select count(*) from tickets) + (select count(*) from query_log)").fetchone()[0]
    if used:
        raise click.ClickException(f"{config.database} already has activity; the demo fills a fresh "
                                   "database (use --database new.sqlite)")
    summary = fill_demo(services, clock, seed, end, days, communes)
    click.echo(f"{config.database}: {summary.officials} officials, {summary.questions} questions, "
               f"{summary.tickets} tickets ({summary.outage_tickets} in one shared outage), "
               f"{summary.start} to {summary.end}")


@cli.command()
@config_option
@click.option("--month", required=True, help="The month, YYYY-MM (office time zone).")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the HTML report here.")
@click.option("--csv", "csv_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Write communes.csv, systems.csv, training_*.csv into this folder.")
@click.option("--database", "database", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              default=None, help="Read this database file instead of the configured one.")
def report(config_path: Path, month: str, out: Path | None, csv_dir: Path | None, database: Path | None) -> None:
    """The training-needs report for a month: per commune and system, ranked needs, month-on-month."""
    import dataclasses
    import re

    from bot.insight.report import write_csv

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise click.ClickException(f"--month must be YYYY-MM, not {month!r}")
    if out is None and csv_dir is None:
        raise click.ClickException("say where to write: --out report.html and/or --csv DIR")
    config = _load_config(config_path)
    if database is not None:
        config = dataclasses.replace(config, database=database)
    services = _services_for(config)
    built = _build_report(services, month)
    if out is not None:
        out.write_text(built.html, encoding="utf-8")
        click.echo(f"{out}: report for {month} ({built.current.total.questions} questions, "
                   f"{built.current.total.tickets} tickets)")
    if csv_dir is not None:
        for path in write_csv(built, csv_dir):
            click.echo(str(path))


def _services_for(config: Config) -> Services:
    try:
        return build_services(config)
    except (KnowledgeError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc


def _build_report(services: Services, month: str):  # noqa: ANN202 - a Report
    from bot.insight.report import build

    return build(services.config.database, month, services.faq.kb,
                 {c.id: c.name for c in services.communes}, services.calendar,
                 services.config.tickets.sla, services.clock())


@cli.group()
def matcher() -> None:
    """The FAQ matcher's decision model."""


@matcher.command("fit")
@config_option
@click.option("--seed", default=0, show_default=True, help="Seed of the rewrites and FAQ parts.")
def matcher_fit(config_path: Path, seed: int) -> None:
    """Fit the answer/clarify decision on questions the knowledge base generates about itself.

    Writes knowledge/matcher-fit.json; run it again after the FAQ changes
    (`faq check` says when the fit is stale).
    """
    from bot.language.fitting import fit, kb_fingerprint, read_out_of_scope, self_observations

    config = _load_config(config_path)
    try:
        kb = load_knowledge(config.knowledge_dir)
    except KnowledgeError as exc:
        raise click.ClickException(f"the knowledge base has errors (run `python -m bot faq check`):\n{exc}") from exc
    observations = self_observations(kb, config.matcher, read_out_of_scope(config.knowledge_dir), seed=seed,
                                     progress=lambda line: click.echo(line, err=True))
    result = fit(observations, kb_fingerprint(kb))
    path = config.knowledge_dir / FIT_FILE
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    chosen = next((p for p in reversed(result["error_curve"])
                   if p["error"] <= config.matcher.target_error_rate), None)
    click.echo(f"{len(observations)} questions ({result['examples']['answerable']} answerable); wrote {path}")
    if chosen:
        click.echo(f"at target error rate {config.matcher.target_error_rate}: answer when P(right) >= "
                   f"{chosen['threshold']:.3f}, {chosen['answered']:.0%} of these questions answered directly")


from bot.ops.commands import add_commands  # noqa: E402 - attached last; it needs the options above

add_commands(cli, config_option, _load_config)

from bot.insight.commands import add_commands as add_insight_commands  # noqa: E402 - needs the options above

add_insight_commands(cli, config_option, _load_config)
