"""Settings: the TOML config file loaded once into typed, validated, frozen objects.

Secrets may come from ``GRIDBOT_…`` environment variables instead of the file (see
``ENV_OVERRIDES``). A bad config raises :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.workcal import DEFAULT_OFFICE_HOURS, OfficeHours

ROLES = frozenset({"enterprise", "officer", "dispatcher", "supervisor"})
DEFAULT_API_BASE = "https://qyapi.weixin.qq.com/cgi-bin/"

# environment variable -> dotted config key
ENV_OVERRIDES: dict[str, str] = {
    "GRIDBOT_DATABASE_URL": "database.url",
    "GRIDBOT_WECOM_CORP_ID": "wecom.corp_id",
    "GRIDBOT_WECOM_API_BASE_URL": "wecom.api_base_url",
    "GRIDBOT_WECOM_AIBOT_TOKEN": "wecom.aibot.token",
    "GRIDBOT_WECOM_AIBOT_ENCODING_AES_KEY": "wecom.aibot.encoding_aes_key",
    "GRIDBOT_WECOM_APP_TOKEN": "wecom.app.token",
    "GRIDBOT_WECOM_APP_ENCODING_AES_KEY": "wecom.app.encoding_aes_key",
    "GRIDBOT_WECOM_APP_SECRET": "wecom.app.secret",
    "GRIDBOT_WECOM_APP_AGENT_ID": "wecom.app.agent_id",
    "GRIDBOT_CLASSIFIER_MODEL": "classifier.model",
    "GRIDBOT_CLASSIFIER_DETECTOR_MODEL": "classifier.detector_model",
    "GRIDBOT_CLASSIFIER_CACHE_DIR": "classifier.cache_dir",
}


class ConfigError(ValueError):
    """The configuration is unusable; the message names the key (never a secret's value)."""


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///gridbot.db"


@dataclass(frozen=True)
class CallbackSettings:
    token: str = ""
    encoding_aes_key: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.token and self.encoding_aes_key)


@dataclass(frozen=True)
class AibotSettings(CallbackSettings):
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class AppSettings(CallbackSettings):
    agent_id: int = 0
    secret: str = ""


@dataclass(frozen=True)
class WecomSettings:
    corp_id: str = ""
    api_base_url: str = DEFAULT_API_BASE
    timeout_seconds: float = 5.0
    max_skew_seconds: int = 300
    aibot: AibotSettings = field(default_factory=AibotSettings)
    app: AppSettings = field(default_factory=AppSettings)


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    leader: str = ""


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    department: str
    keywords: tuple[str, ...]
    limit_hours: int | None = None
    limit_days: int | None = None
    catch_all: bool = False
    # deadlines (handlers/deadlines.py): 签收 in working hours (clock hours when urgent),
    # first contact in clock hours or working days, 办结 as limit_hours / limit_days above
    accept_hours: float = 2.0
    contact_hours: int | None = None
    contact_days: int | None = None
    start_next_day: bool = True  # working days count from the next day (次日起算)
    extensions: int = 0  # how many times the 办结 limit may be extended (延期)
    urgent: bool = False  # counted round the clock: 签收 and first contact in clock hours


@dataclass(frozen=True)
class Person:
    userid: str
    name: str
    roles: frozenset[str]
    department: str | None = None
    enterprise: str | None = None


@dataclass(frozen=True)
class Group:
    chatid: str
    name: str
    enterprise: str | None = None
    webhook_url: str = ""
    appchat_chatid: str = ""


@dataclass(frozen=True)
class DigestSettings:
    time: time = time(8, 30)
    to_userids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportWeights:
    """The ranking's weights (bot/reports.py): 响应 (及时签收率), 解决 (办结率), 满意 (满意率)."""

    response: float = 0.30
    resolution: float = 0.35
    satisfaction: float = 0.35


@dataclass(frozen=True)
class ReportSettings:
    """The weekly / 旬 / monthly reports, sent to ``[digest] to_userids`` at ``time``."""

    weights: ReportWeights = field(default_factory=ReportWeights)
    weekly: bool = True  # Mondays, for the week before
    xun: bool = True  # the 1st, 11th and 21st, for the 旬 before
    monthly: bool = True  # the 1st, for the month before
    time: time = time(8, 30)


@dataclass(frozen=True)
class SchedulerSettings:
    enabled_in_serve: bool = True
    outbox_interval_seconds: int = 5
    sweep_interval_seconds: int = 30
    lease_seconds: int = 60


@dataclass(frozen=True)
class OutboundSettings:
    mode: str = "wecom"  # "wecom" sends for real; "console" writes to the log instead
    per_webhook_per_minute: int = 20
    max_attempts: int = 8
    backoff_base_seconds: float = 5.0
    backoff_max_seconds: float = 600.0


@dataclass(frozen=True)
class IntakeSettings:
    default_limit_days: int = 5


@dataclass(frozen=True)
class ClassifierSettings:
    model: str = ""  # a trained model file; "" means the default model shipped with gridbot
    # a detector made by `gridbot train --kind detector`; "" means the default one
    detector_model: str = ""
    min_confidence: float = 0.5  # below this an order waits for a dispatcher (待派单)
    words: tuple[str, ...] = ()  # park and place names the tokenizer keeps whole
    review_score: float = 0.5  # not a request, but this likely: the dispatchers may file it
    # where the trained default models are kept between runs (nlp.cache); "" = train every time
    cache_dir: str = "~/.cache/gridbot"


@dataclass(frozen=True)
class DuplicateSettings:
    window_days: int = 30


@dataclass(frozen=True)
class QuietHours:
    """Group posts are held back from ``start`` to ``end`` (over midnight), except urgent."""

    start: time = time(22, 0)
    end: time = time(8, 0)

    def release(self, moment: datetime) -> datetime | None:
        """When a post made at ``moment`` (local time) may go out, or None if it may now."""
        t = moment.timetz().replace(tzinfo=None)
        if self.start == self.end:
            return None
        quiet = (
            (t >= self.start or t < self.end)
            if self.start > self.end
            else (self.start <= t < self.end)
        )
        if not quiet:
            return None
        day = moment.date() if t < self.end else moment.date() + timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=moment.tzinfo)


@dataclass(frozen=True)
class CalendarSettings:
    office_hours: OfficeHours = DEFAULT_OFFICE_HOURS
    holidays: tuple[date, ...] = ()  # local days off; win over the package and imports
    workdays: tuple[date, ...] = ()  # local extra working days; win likewise


@dataclass(frozen=True)
class Settings:
    timezone: str = "Asia/Shanghai"
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    wecom: WecomSettings = field(default_factory=WecomSettings)
    departments: tuple[Department, ...] = ()
    categories: tuple[Category, ...] = ()
    people: tuple[Person, ...] = ()
    groups: tuple[Group, ...] = ()
    digest: DigestSettings = field(default_factory=DigestSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    classifier: ClassifierSettings = field(default_factory=ClassifierSettings)
    duplicates: DuplicateSettings = field(default_factory=DuplicateSettings)
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)

    def department(self, code: str) -> Department | None:
        return next((d for d in self.departments if d.code == code), None)

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def person(self, userid: str) -> Person | None:
        return next((p for p in self.people if p.userid == userid), None)

    def group(self, chatid: str) -> Group | None:
        return next((g for g in self.groups if g.chatid == chatid), None)

    @property
    def catch_all(self) -> Category:
        return next(c for c in self.categories if c.catch_all)


# ---------------------------------------------------------------- loading


def load_settings(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Load ``path`` (or ``$GRIDBOT_CONFIG``), apply environment overrides, validate."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    chosen = path if path is not None else env.get("GRIDBOT_CONFIG")
    if chosen:
        p = Path(chosen)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {p}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p} is not valid TOML: {exc}") from exc
    for var, dotted in ENV_OVERRIDES.items():
        if env.get(var):
            _set_dotted(raw, dotted, env[var])
    return settings_from_dict(raw)


def _set_dotted(raw: dict[str, Any], dotted: str, value: str) -> None:
    parts = dotted.split(".")
    node = raw
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


class _Reader:
    """Typed access to one TOML table, naming the full key in every error."""

    def __init__(self, table: Any, where: str, registry: list[_Reader] | None = None) -> None:
        if not isinstance(table, dict):
            raise ConfigError(f"{where or 'config'} must be a table")
        self.table = table
        self.where = where
        self.used: set[str] = set()
        self.registry = registry if registry is not None else []
        self.registry.append(self)

    def _get(self, name: str, default: Any = None) -> Any:
        self.used.add(name)
        return self.table.get(name, default)

    def unknown_keys(self) -> list[str]:
        """Keys nobody read: almost always a typo (``webhook_ur1``), so start-up refuses them."""
        return [self.key(k) for k in self.table if k not in self.used]

    def optional_text(self, name: str) -> str | None:
        value = self._get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{self.key(name)} must be a string")
        return value

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def text(self, name: str, default: str | None = None) -> str:
        value = self._get(name, default)
        if value is None:
            raise ConfigError(f"{self.key(name)} is required")
        if not isinstance(value, str):
            raise ConfigError(f"{self.key(name)} must be a string")
        return value

    def integer(self, name: str, default: int | None = None) -> int:
        value = self._get(name, default)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        if value is None:
            raise ConfigError(f"{self.key(name)} is required")
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{self.key(name)} must be an integer")
        return value

    def opt_int(self, name: str) -> int | None:
        return None if self._get(name) is None else self.integer(name)

    def number(self, name: str, default: float) -> float:
        value = self._get(name, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{self.key(name)} must be a number")
        return float(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)} must be true or false")
        return value

    def texts(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self._get(name, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.key(name)} must be a list of strings")
        return tuple(value)

    def clock(self, name: str, default: time) -> time:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, time):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value):
            hh, mm = (int(x) for x in value.split(":"))
            if hh < 24 and mm < 60:
                return time(hh, mm)
        raise ConfigError(f'{self.key(name)} must be a time like "08:30"')

    def sub(self, name: str) -> _Reader:
        return _Reader(self._get(name, {}), self.key(name), self.registry)

    def array(self, name: str) -> list[_Reader]:
        value = self._get(name, [])
        if not isinstance(value, list):
            raise ConfigError(f"{self.key(name)} must be an array of tables ([[{name}]])")
        return [
            _Reader(item, f"{self.key(name)}[{i}]", self.registry) for i, item in enumerate(value)
        ]


def _check_aes_key(key: str, where: str) -> None:
    if not key:
        return
    ok = len(key) == 43 and re.fullmatch(r"[A-Za-z0-9]{43}", key) is not None
    if ok:
        try:
            ok = len(base64.b64decode(key + "=", validate=True)) == 32
        except binascii.Error:
            ok = False
    if not ok:
        raise ConfigError(f"{where} must be 43 letters and digits (WeCom's EncodingAESKey)")


def settings_from_dict(raw: Mapping[str, Any]) -> Settings:
    root = _Reader(dict(raw), "")
    tz = root.text("timezone", "Asia/Shanghai")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"timezone: unknown time zone {tz!r}") from exc

    srv = root.sub("server")
    server = ServerSettings(host=srv.text("host", "127.0.0.1"), port=srv.integer("port", 8080))
    if not 0 <= server.port <= 65535:
        raise ConfigError("server.port must be between 0 and 65535")

    db = root.sub("database")
    database = DatabaseSettings(url=db.text("url", "sqlite:///gridbot.db"))

    wc = root.sub("wecom")
    ab, ap = wc.sub("aibot"), wc.sub("app")
    api_base = wc.text("api_base_url", DEFAULT_API_BASE)
    if not re.match(r"https?://", api_base):
        raise ConfigError("wecom.api_base_url must be an http(s) URL")
    if not api_base.endswith("/"):
        api_base += "/"
    wecom = WecomSettings(
        corp_id=wc.text("corp_id", ""),
        api_base_url=api_base,
        timeout_seconds=wc.number("timeout_seconds", 5.0),
        max_skew_seconds=wc.integer("max_skew_seconds", 300),
        aibot=AibotSettings(
            token=ab.text("token", ""),
            encoding_aes_key=ab.text("encoding_aes_key", ""),
            names=ab.texts("names"),
        ),
        app=AppSettings(
            token=ap.text("token", ""),
            encoding_aes_key=ap.text("encoding_aes_key", ""),
            agent_id=ap.integer("agent_id", 0),
            secret=ap.text("secret", ""),
        ),
    )
    _check_aes_key(wecom.aibot.encoding_aes_key, "wecom.aibot.encoding_aes_key")
    _check_aes_key(wecom.app.encoding_aes_key, "wecom.app.encoding_aes_key")
    for name, cb in (("wecom.aibot", wecom.aibot), ("wecom.app", wecom.app)):
        if bool(cb.token) != bool(cb.encoding_aes_key):
            raise ConfigError(f"{name}: set both token and encoding_aes_key, or neither")
        if len(cb.token) > 32:
            raise ConfigError(f"{name}.token must be at most 32 characters")
    if wecom.app.configured and not wecom.corp_id:
        raise ConfigError("wecom.corp_id is required when [wecom.app] is configured")

    departments = tuple(
        Department(code=r.text("code"), name=r.text("name"), leader=r.text("leader", ""))
        for r in root.array("departments")
    )
    dept_codes = _unique([d.code for d in departments], "departments", "code")

    categories = []
    for r in root.array("categories"):
        cat = Category(
            code=r.text("code"),
            name=r.text("name"),
            department=r.text("department"),
            keywords=r.texts("keywords"),
            limit_hours=r.opt_int("limit_hours"),
            limit_days=r.opt_int("limit_days"),
            catch_all=r.flag("catch_all", False),
            accept_hours=r.number("accept_hours", 2.0),
            contact_hours=r.opt_int("contact_hours"),
            contact_days=r.opt_int("contact_days"),
            start_next_day=r.flag("start_next_day", True),
            extensions=r.integer("extensions", 0),
            urgent=r.flag("urgent", False),
        )
        if cat.department not in dept_codes:
            raise ConfigError(f"{r.key('department')}: unknown department {cat.department!r}")
        if cat.limit_hours is not None and cat.limit_days is not None:
            raise ConfigError(f"{r.where}: set limit_hours or limit_days, not both")
        for lim in ("limit_hours", "limit_days"):
            v = getattr(cat, lim)
            if v is not None and v <= 0:
                raise ConfigError(f"{r.key(lim)} must be positive")
        _check_category_deadlines(cat, r)
        categories.append(cat)
    _unique([c.code for c in categories], "categories", "code")
    if categories and sum(c.catch_all for c in categories) != 1:
        raise ConfigError("categories: exactly one category must have catch_all = true")

    people = []
    for r in root.array("people"):
        roles = frozenset(r.texts("roles"))
        if not roles or not roles <= ROLES:
            raise ConfigError(f"{r.key('roles')} must be a non-empty list of {sorted(ROLES)}")
        dept = r.optional_text("department")
        if dept is not None and dept not in dept_codes:
            raise ConfigError(f"{r.key('department')}: unknown department {dept!r}")
        if "officer" in roles and dept is None:
            raise ConfigError(f"{r.key('department')} is required for an officer")
        ent = r.optional_text("enterprise")
        people.append(
            Person(
                userid=r.text("userid"),
                name=r.text("name"),
                roles=roles,
                department=dept,
                enterprise=ent,
            )
        )
    _unique([p.userid for p in people], "people", "userid")

    groups = []
    for r in root.array("groups"):
        url = r.text("webhook_url", "")
        if url and not re.match(r"https?://", url):
            raise ConfigError(f"{r.key('webhook_url')} must be an http(s) URL")
        groups.append(
            Group(
                chatid=r.text("chatid"),
                name=r.text("name"),
                enterprise=r.optional_text("enterprise"),
                webhook_url=url,
                appchat_chatid=r.text("appchat_chatid", ""),
            )
        )
    _unique([g.chatid for g in groups], "groups", "chatid")

    dg = root.sub("digest")
    digest = DigestSettings(time=dg.clock("time", time(8, 30)), to_userids=dg.texts("to_userids"))
    reports = _report_settings(root.sub("reports"))
    sc = root.sub("scheduler")
    scheduler = SchedulerSettings(
        enabled_in_serve=sc.flag("enabled_in_serve", True),
        outbox_interval_seconds=sc.integer("outbox_interval_seconds", 5),
        sweep_interval_seconds=sc.integer("sweep_interval_seconds", 30),
        lease_seconds=sc.integer("lease_seconds", 60),
    )
    ob = root.sub("outbound")
    outbound = OutboundSettings(
        mode=ob.text("mode", "wecom"),
        per_webhook_per_minute=ob.integer("per_webhook_per_minute", 20),
        max_attempts=ob.integer("max_attempts", 8),
        backoff_base_seconds=ob.number("backoff_base_seconds", 5.0),
        backoff_max_seconds=ob.number("backoff_max_seconds", 600.0),
    )
    if outbound.mode not in ("wecom", "console"):
        raise ConfigError('outbound.mode must be "wecom" or "console"')
    cl = root.sub("classifier")
    classifier = ClassifierSettings(
        model=cl.text("model", ""),
        detector_model=cl.text("detector_model", ""),
        min_confidence=cl.number("min_confidence", 0.5),
        words=cl.texts("words"),
        review_score=cl.number("review_score", 0.5),
        cache_dir=cl.text("cache_dir", ClassifierSettings.cache_dir),
    )
    if not 0.0 <= classifier.min_confidence <= 1.0:
        raise ConfigError("classifier.min_confidence must be between 0 and 1")
    if not 0.0 <= classifier.review_score <= 1.0:
        raise ConfigError("classifier.review_score must be between 0 and 1")
    du = root.sub("duplicates")
    duplicates = DuplicateSettings(window_days=du.integer("window_days", 30))
    qh = root.sub("quiet_hours")
    quiet_hours = QuietHours(
        start=qh.clock("start", QuietHours.start), end=qh.clock("end", QuietHours.end)
    )
    if duplicates.window_days < 0:
        raise ConfigError("duplicates.window_days must not be negative")
    it = root.sub("intake")
    intake = IntakeSettings(default_limit_days=it.integer("default_limit_days", 5))
    calendar = _calendar_settings(root.sub("calendar"))

    unknown = [k for reader in root.registry for k in reader.unknown_keys()]
    if unknown:
        raise ConfigError(f"unknown key(s): {', '.join(unknown)}")
    return Settings(
        timezone=tz,
        server=server,
        database=database,
        wecom=wecom,
        departments=departments,
        categories=tuple(categories),
        people=tuple(people),
        groups=tuple(groups),
        digest=digest,
        reports=reports,
        scheduler=scheduler,
        outbound=outbound,
        intake=intake,
        classifier=classifier,
        duplicates=duplicates,
        quiet_hours=quiet_hours,
        calendar=calendar,
    )


def _check_category_deadlines(cat: Category, r: _Reader) -> None:
    if not 0 < cat.accept_hours <= 24 * 30:
        raise ConfigError(f"{r.key('accept_hours')} must be a positive number of hours")
    if cat.contact_hours is not None and cat.contact_days is not None:
        raise ConfigError(f"{r.where}: set contact_hours or contact_days, not both")
    for key in ("contact_hours", "contact_days"):
        v = getattr(cat, key)
        if v is not None and v <= 0:
            raise ConfigError(f"{r.key(key)} must be positive")
    if cat.extensions < 0:
        raise ConfigError(f"{r.key('extensions')} must not be negative")
    if cat.urgent and (cat.limit_days is not None or cat.contact_days is not None):
        key = "limit_days" if cat.limit_days is not None else "contact_days"
        raise ConfigError(
            f"{r.key(key)}: an urgent category counts round the clock; "
            "use limit_hours / contact_hours"
        )


def _report_settings(r: _Reader) -> ReportSettings:
    w = r.sub("weights")
    weights = ReportWeights(
        response=w.number("response", 0.30),
        resolution=w.number("resolution", 0.35),
        satisfaction=w.number("satisfaction", 0.35),
    )
    values = {"response": weights.response, "resolution": weights.resolution}
    values["satisfaction"] = weights.satisfaction
    for name, value in values.items():
        if value < 0:
            raise ConfigError(f"{w.key(name)} must not be negative")
    if not sum(values.values()) > 0:
        raise ConfigError(f"{w.where}: at least one weight must be positive")
    return ReportSettings(
        weights=weights,
        weekly=r.flag("weekly", True),
        xun=r.flag("xun", True),
        monthly=r.flag("monthly", True),
        time=r.clock("time", time(8, 30)),
    )


def _calendar_settings(r: _Reader) -> CalendarSettings:
    try:
        office_hours = OfficeHours.parse(r.texts("office_hours", ("08:30-12:00", "14:30-17:30")))
    except ValueError as exc:
        raise ConfigError(f"{r.key('office_hours')}: {exc}") from exc
    holidays = _calendar_dates(r, "holidays")
    workdays = _calendar_dates(r, "workdays")
    both = sorted(set(holidays) & set(workdays))
    if both:
        raise ConfigError(
            f"{r.key('holidays')} and {r.key('workdays')} both list {both[0].isoformat()}"
        )
    return CalendarSettings(office_hours=office_hours, holidays=holidays, workdays=workdays)


def _calendar_dates(r: _Reader, name: str) -> tuple[date, ...]:
    """Dates ``"2027-01-01"`` or inclusive ranges ``"2027-01-01..2027-01-03"``."""
    out: set[date] = set()
    for entry in r.texts(name):
        parts = [p.strip() for p in entry.split("..")]
        try:
            if len(parts) > 2 or not all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", p) for p in parts):
                raise ValueError(entry)
            first, last = date.fromisoformat(parts[0]), date.fromisoformat(parts[-1])
        except ValueError:
            raise ConfigError(
                f'{r.key(name)}: {entry!r} must be "YYYY-MM-DD" or "YYYY-MM-DD..YYYY-MM-DD"'
            ) from None
        if last < first:
            raise ConfigError(f"{r.key(name)}: {entry!r} ends before it starts")
        while first <= last:
            out.add(first)
            first += timedelta(days=1)
    return tuple(sorted(out))


def _unique(values: list[str], table: str, key: str) -> set[str]:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise ConfigError(f"{table}: duplicate {key} {v!r}")
        seen.add(v)
    return seen
