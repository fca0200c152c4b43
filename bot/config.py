"""`config.yaml`, validated into frozen dataclasses at start-up.

Every section is a dataclass whose fields carry their defaults and help text,
so a missing key takes the default and a wrong one fails with its full path
("matcher.answer_threshold: expected a number, got 'high'"). Secrets never
live here: they come from environment variables read by the composition root.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or has a wrong value."""


def _help(text: str, default: Any) -> Any:
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class MatcherConfig:
    """Thresholds of the FAQ matcher, set once for every FAQ (no per-entry tuning)."""

    answer_threshold: float = _help(
        "Lowest score (0-1) at which the bot answers straight away.", 0.42
    )
    answer_margin: float = _help(
        "How far the best entry must lead the runner-up to be answered directly.", 0.2
    )
    clarify_threshold: float = _help(
        "Lowest score at which entries are offered as 'did you mean' choices.", 0.25
    )
    max_candidates: int = _help("How many 'did you mean' choices to offer at most.", 3)
    target_error_rate: float = _help(
        "Share of direct answers allowed to be wrong, as measured when the decision model "
        "(knowledge/matcher-fit.json, `python -m bot matcher fit`) was fitted. Without a fit, "
        "the three thresholds above decide.", 0.01
    )

    def __post_init__(self) -> None:
        for name in ("answer_threshold", "answer_margin", "clarify_threshold", "target_error_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"matcher.{name}: must be between 0 and 1, got {value}")
        if self.clarify_threshold > self.answer_threshold:
            raise ConfigError("matcher.clarify_threshold: must not exceed answer_threshold")
        if not 1 <= self.max_candidates <= 10:
            raise ConfigError("matcher.max_candidates: must be between 1 and 10")


@dataclass(frozen=True)
class PeopleConfig:
    """Who is a technician or an admin; everyone else who writes is commune staff."""

    admins: tuple[str, ...] = _help("Admins as 'channel:platform-user-id'.", ())
    technicians: tuple[str, ...] = _help("Technicians as 'channel:platform-user-id'.", ())
    require_approval: bool = _help("New registrations wait for an admin's approval.", False)

    def __post_init__(self) -> None:
        for name in ("admins", "technicians"):
            for i, ref in enumerate(getattr(self, name)):
                channel, _, user = ref.partition(":")
                if not channel or not user:
                    raise ConfigError(
                        f"people.{name}[{i}]: expected 'channel:platform-user-id', got {ref!r}"
                    )


@dataclass(frozen=True)
class SlaTarget:
    """Targets in working hours for one urgency."""

    first_response_hours: float = _help("Working hours until a technician first answers.", 4.0)
    resolution_hours: float = _help("Working hours until the ticket is resolved.", 16.0)


@dataclass(frozen=True)
class SlaConfig:
    normal: SlaTarget = _help("Targets for ordinary tickets.", SlaTarget(4.0, 16.0))
    urgent: SlaTarget = _help("Targets when a citizen is waiting.", SlaTarget(1.0, 4.0))


@dataclass(frozen=True)
class TicketsConfig:
    """The life of a ticket."""

    auto_close_hours: float = _help("A resolved ticket the official does not answer closes after this.", 72.0)
    transcript_messages: int = _help("How many recent messages a new ticket keeps.", 20)
    context_hours: float = _help(
        "Working hours after a technician last wrote to an official during which the official's "
        "next message goes into that ticket without pressing reply.", 24.0)
    sla: SlaConfig = _help("First-response and resolution targets per urgency.", SlaConfig())

    def __post_init__(self) -> None:
        if not 0.0 < self.context_hours <= 24.0 * 30:
            raise ConfigError(f"tickets.context_hours: must be above 0 and at most 720, got {self.context_hours}")
        if not 1 <= self.transcript_messages <= 500:
            raise ConfigError(f"tickets.transcript_messages: must be between 1 and 500, got {self.transcript_messages}")


@dataclass(frozen=True)
class WorkingHoursConfig:
    """The office calendar SLA targets are counted in."""

    timezone: str = _help("IANA time zone.", "Asia/Ho_Chi_Minh")
    days: tuple[str, ...] = _help("Working days.", ("mon", "tue", "wed", "thu", "fri"))
    periods: tuple[str, ...] = _help("Working periods of a day, HH:MM-HH:MM.", ("07:30-11:30", "13:30-17:00"))
    holidays: tuple[str, ...] = _help("Public holidays, YYYY-MM-DD.", ())
    extra_workdays: tuple[str, ...] = _help("Weekend days worked in compensation, YYYY-MM-DD.", ())


@dataclass(frozen=True)
class TelegramConfig:
    """Telegram; the token itself comes from TELEGRAM_BOT_TOKEN, never from this file."""

    api_base_url: str = _help("Bot API address (TELEGRAM_API_BASE_URL overrides it).", "https://api.telegram.org")
    webhook_url: str = _help("Public HTTPS address of our webhook; empty means long polling.", "")
    poll_timeout: int = _help("Long-polling timeout in seconds.", 30)


@dataclass(frozen=True)
class ZaloBotConfig:
    """Zalo Bot API; the token comes from ZALO_BOT_TOKEN."""

    api_base_url: str = _help("Bot API address (ZALO_BOT_API_BASE_URL overrides it); "
                              "the older host is https://bot-api.zapps.me.", "https://bot-api.zaloplatforms.com")
    webhook_url: str = _help("Public HTTPS address of our Zalo Bot webhook; empty means long polling.", "")
    poll_timeout: int = _help("Long-polling timeout in seconds.", 30)


@dataclass(frozen=True)
class ZaloOAConfig:
    """Zalo Official Account; secrets come from ZALO_OA_SECRET_KEY, ZALO_APP_SECRET, ZALO_OA_REFRESH_TOKEN."""

    app_id: str = _help("The Zalo app id of the OA (empty: the OA channel is off).", "")
    api_base_url: str = _help("OA API address (ZALO_OA_API_BASE_URL overrides it).", "https://openapi.zalo.me")
    oauth_base_url: str = _help("OAuth address for token refresh (ZALO_OA_OAUTH_BASE_URL overrides it).",
                                "https://oauth.zaloapp.com")
    reply_window_hours: float = _help("Hours after a user's last message during which replies are free.", 48.0)
    replies_per_window: int = _help("Free replies within that window.", 8)
    max_event_age_seconds: int = _help("Older webhook events are refused as replays.", 7200)


@dataclass(frozen=True)
class WebConfig:
    """The bot's own HTTP server (webhooks, /healthz, the web console)."""

    host: str = _help("Address to listen on.", "127.0.0.1")
    port: int = _help("Port to listen on.", 8080)
    public_url: str = _help(
        "The address people reach the console at through a reverse proxy, e.g. "
        "https://hotro.example.vn (empty: no proxy). With https the session cookie is Secure.", "")
    trusted_proxies: tuple[str, ...] = _help(
        "Addresses or networks (CIDR) of the reverse proxies in front of the bot; only their "
        "X-Forwarded-For header is believed, for attempt limits and logs.", ())

    def __post_init__(self) -> None:
        if self.public_url:
            parts = urlsplit(self.public_url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
                raise ConfigError(f"web.public_url: expected an address like https://hotro.example.vn, "
                                  f"got {self.public_url!r}")
            object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        for i, value in enumerate(self.trusted_proxies):
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ConfigError(f"web.trusted_proxies[{i}]: expected an IP address or network "
                                  f"like 10.0.0.0/8, got {value!r}") from None

    @property
    def secure_cookies(self) -> bool:
        """Whether browsers reach us over HTTPS (so cookies must never travel over plain HTTP)."""
        return self.public_url.startswith("https://")


@dataclass(frozen=True)
class LoggingConfig:
    """What the log looks like (it never holds a secret; phone numbers are masked)."""

    format: str = _help("'text' for people, 'json' for one JSON object per line (log shippers).", "text")

    def __post_init__(self) -> None:
        if self.format not in ("text", "json"):
            raise ConfigError(f"logging.format: expected 'text' or 'json', got {self.format!r}")


@dataclass(frozen=True)
class BackupConfig:
    """Backups of the database, uploads and knowledge (`python -m bot backup`)."""

    dir: Path = _help("Folder the backups are written to.", Path("data/backups"))
    every_hours: float = _help("Take a backup this often while the bot runs; 0 = only by command.", 24.0)
    keep_daily: int = _help("Keep the newest backup of each of this many recent days.", 7)
    keep_monthly: int = _help("Also keep the newest backup of each of this many recent months.", 12)

    def __post_init__(self) -> None:
        if self.every_hours < 0:
            raise ConfigError("backup.every_hours: must be 0 (off) or more")
        for name in ("keep_daily", "keep_monthly"):
            if getattr(self, name) < 0:
                raise ConfigError(f"backup.{name}: must be 0 or more")
        if self.keep_daily + self.keep_monthly == 0:
            raise ConfigError("backup.keep_daily: keep_daily and keep_monthly cannot both be 0")


@dataclass(frozen=True)
class PrivacyConfig:
    """How long personal data is kept (Nghị định 13/2023/NĐ-CP); see docs/privacy.md."""

    keep_texts_months: int = _help(
        "Messages, ticket texts and screenshots of closed tickets are removed after this many "
        "months (counts for reports stay); 0 = keep for ever.", 24)

    def __post_init__(self) -> None:
        if self.keep_texts_months < 0:
            raise ConfigError("privacy.keep_texts_months: must be 0 (keep) or more")


@dataclass(frozen=True)
class InsightConfig:
    """Shared outages (incidents), announcements and the monthly training-needs report."""

    incident_communes: int = _help("Reports on one system from at least this many different communes "
                                   "within the window, described alike, open a shared incident.", 3)
    incident_window_minutes: int = _help("The window those reports must fall in, in minutes.", 60)
    incident_similarity: int = _help("How alike two descriptions must be (0-100: rapidfuzz token_set_ratio "
                                     "of the accent-folded words, after the analyser's synonyms).", 60)
    monthly_report: bool = _help("Send the training-needs report to the admins at the start of each month.",
                                 True)


@dataclass(frozen=True)
class Config:
    """The whole validated configuration; paths are resolved against the file's folder."""

    knowledge_dir: Path = _help("Knowledge folder: national/ and province/ layers (each with faq/*.yaml, systems.yaml, synonyms.yaml), or one such layer.", Path("knowledge"))
    database: Path = _help("SQLite file for users, tickets and the outbox.", Path("data/bot.sqlite"))
    matcher: MatcherConfig = _help("FAQ matcher thresholds.", MatcherConfig())
    people: PeopleConfig = _help("Technicians, admins and registration.", PeopleConfig())
    queues: dict[str, tuple[str, ...]] = _help(
        "Per queue id (knowledge/province/systems.yaml), the chats that receive its tickets, "
        "as 'channel:chat-id'. A queue with none notifies the admins.", {})
    tickets: TicketsConfig = _help("Ticket lifecycle and SLA targets.", TicketsConfig())
    working_hours: WorkingHoursConfig = _help("Office calendar.", WorkingHoursConfig())
    telegram: TelegramConfig = _help("Telegram channel.", TelegramConfig())
    zalo_bot: ZaloBotConfig = _help("Zalo Bot channel.", ZaloBotConfig())
    zalo_oa: ZaloOAConfig = _help("Zalo Official Account channel.", ZaloOAConfig())
    web: WebConfig = _help("HTTP server for webhooks and health checks.", WebConfig())
    logging: LoggingConfig = _help("Log format.", LoggingConfig())
    insight: InsightConfig = _help("Shared outages, announcements, monthly report.", InsightConfig())
    backup: BackupConfig = _help("Backups.", BackupConfig())
    privacy: PrivacyConfig = _help("Retention of personal data.", PrivacyConfig())

    @property
    def uploads_dir(self) -> Path:
        """Where screenshots officials attach are kept: beside the database."""
        return self.database.parent / "uploads"


def _convert(value: Any, kind: Any, key: str) -> Any:
    """Turn a YAML value into the declared field type, or say which key is wrong."""
    if dataclasses.is_dataclass(kind):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return _build(kind, value, key + ".")
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return None if value is None else _convert(value, options[0], key)
    if origin is dict:
        _, value_kind = typing.get_args(kind)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return {str(k): _convert(v, value_kind, f"{key}.{k}") for k, v in value.items()}
    if origin in (list, tuple):
        (item,) = typing.get_args(kind)[:1]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
        return tuple(_convert(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    if kind is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key}: expected a path, got {value!r}")
        return Path(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if kind is int or kind is bool or kind is str:
        if type(value) is not kind:
            raise ConfigError(f"{key}: expected {kind.__name__}, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {kind!r}")  # pragma: no cover - a coding error


def _build(cls: Any, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key (known: {', '.join(sorted(names))})")
    kwargs = {name: _convert(data[name], hints[name], prefix + name) for name in names if name in data}
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - a coding error
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: {exc}") from exc


def load_config(path: Path) -> Config:
    """Read and validate `config.yaml`; relative paths are taken from the file's folder."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    config: Config = _build(Config, raw)
    for queue, targets in config.queues.items():
        for i, target in enumerate(targets):
            if ":" not in target:
                raise ConfigError(f"queues.{queue}[{i}]: expected 'channel:chat-id', got {target!r}")
    base = path.resolve().parent
    return dataclasses.replace(
        config, knowledge_dir=base / config.knowledge_dir, database=base / config.database,
        backup=dataclasses.replace(config.backup, dir=base / config.backup.dir),
    )


def settings_help(cls: Any = Config, prefix: str = "") -> list[tuple[str, str]]:
    """List every setting with its help text, for docs and the docs test."""
    rows: list[tuple[str, str]] = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.type) or dataclasses.is_dataclass(typing.get_type_hints(cls)[f.name]):
            rows += settings_help(typing.get_type_hints(cls)[f.name], prefix + f.name + ".")
        else:
            rows.append((prefix + f.name, f.metadata.get("help", "")))
    return rows
