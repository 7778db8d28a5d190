"""The ``gridbot`` command line."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path
from typing import TextIO

import click
from sqlalchemy.engine import make_url

from bot import logsetup
from bot.config import ConfigError, Settings, load_settings

log = logging.getLogger("gridbot")
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="GRIDBOT_CONFIG",
    help="Config file (TOML); default $GRIDBOT_CONFIG.",
)


def _settings(config_path: Path | None) -> Settings:
    try:
        return load_settings(config_path)
    except ConfigError as exc:
        raise click.ClickException(f"bad config: {exc}") from exc


def _taxonomy_settings(config_path: Path | None) -> Settings:
    """The config's settings, or with no config at all the shipped default taxonomy."""
    import os
    import tomllib
    from importlib import resources

    from bot.config import settings_from_dict

    if config_path is not None or os.environ.get("GRIDBOT_CONFIG"):
        return _settings(config_path)
    text = (resources.files("bot") / "demo_data" / "taxonomy.toml").read_text(encoding="utf-8")
    click.echo("no --config: using the default enterprise-service taxonomy", err=True)
    return settings_from_dict(tomllib.loads(text))


def _is_sqlite(settings: Settings) -> bool:
    return make_url(settings.database.url).get_backend_name() == "sqlite"


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """gridbot: enterprise group requests to grid-platform work orders."""
    logsetup.configure(logging.DEBUG if verbose else logging.INFO)


@main.command()
@config_option
@click.option("--no-scheduler", is_flag=True, help="Do not run the scheduler in this process.")
def serve(config_path: Path | None, no_scheduler: bool) -> None:
    """Run the webhook server (and, by default, the scheduler)."""
    import waitress

    from bot.app import MAX_BODY_BYTES, create_app
    from bot.outbox import make_sender
    from bot.runtime import build_runtime
    from bot.scheduler import Jobs, build_scheduler

    settings = _settings(config_path)
    rt = build_runtime(settings, migrate=_is_sqlite(settings))
    app = create_app(runtime=rt)
    sched = None
    if settings.scheduler.enabled_in_serve and not no_scheduler:
        sched = build_scheduler(Jobs(rt, make_sender(rt)), blocking=False)
        sched.start()
    log.info("gridbot listening on http://%s:%d", settings.server.host, settings.server.port)
    try:
        waitress.serve(
            app,
            host=settings.server.host,
            port=settings.server.port,
            threads=8,
            max_request_body_size=MAX_BODY_BYTES,
            ident="gridbot",
        )
    finally:
        if sched is not None:
            sched.shutdown(wait=False)


@main.command()
@config_option
def scheduler(config_path: Path | None) -> None:
    """Run only the scheduler (for deployments with several web workers)."""
    from bot.outbox import make_sender
    from bot.runtime import build_runtime
    from bot.scheduler import Jobs, build_scheduler

    settings = _settings(config_path)
    rt = build_runtime(settings, migrate=_is_sqlite(settings))
    jobs = Jobs(rt, make_sender(rt))
    log.info("scheduler %s starting (standby while another holds the lease)", jobs.holder)
    try:
        build_scheduler(jobs, blocking=True).start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        jobs.release()


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: Path | None) -> None:
    """Apply the Alembic migrations."""
    from storage.db import make_engine, upgrade

    settings = _settings(config_path)
    upgrade(make_engine(settings.database.url))
    click.echo("database is up to date")


@main.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the demo's database and config here (default: a temporary folder).",
)
def demo(workdir: Path | None) -> None:
    """A scripted working day against a local fake WeCom, printed as chat transcripts."""
    from bot.demo import run_demo

    sys.exit(run_demo(workdir, out=click.echo))


text_cols_option = click.option(
    "--text-cols",
    default="text",
    show_default=True,
    help="Comma-separated CSV columns that make the text (joined by a space).",
)
label_col_option = click.option(
    "--label-col", default="label", show_default=True, help="CSV column of the label."
)


@main.command()
@click.argument("csv_path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Model file to write (e.g. routing.gbm).",
)
@text_cols_option
@label_col_option
@click.option(
    "--kind",
    type=click.Choice(["router", "detector"]),
    default="router",
    show_default=True,
    help="router: category routing (labels are category codes); detector: request or not "
    "(labels request/chatter; its threshold is chosen by 5-fold CV).",
)
@click.option(
    "--from-db",
    is_flag=True,
    help="Add the dispatchers' decisions from the configured database (router: /派单; "
    "detector: /立案 and /非诉求); without CSV, on top of the shipped examples.",
)
@config_option
def train(
    csv_path: Path | None,
    output: Path,
    text_cols: str,
    label_col: str,
    kind: str,
    from_db: bool,
    config_path: Path | None,
) -> None:
    """Train a routing model (or, with --kind detector, a request detector) from CSV and/or
    the dispatchers' decisions into a model file."""
    from bot import modeltools as mt
    from bot.language import build_tokenizer

    if csv_path is None and not from_db:
        raise click.UsageError("give a CSV file, --from-db, or both")
    settings = _taxonomy_settings(config_path)
    detector = kind == "detector"
    try:
        tables = []
        if csv_path is not None:
            tables.append(mt.read_table(csv_path, _columns(text_cols), label_col))
        else:
            tables.append(mt.shipped_detection_table() if detector else mt.shipped_routing_table())
        if from_db:
            tables.append(
                mt.detection_corrections_table(settings)
                if detector
                else mt.corrections_table(settings)
            )
        if detector:
            mt.train_detector_file(tables, settings, build_tokenizer(settings), output, click.echo)
        else:
            mt.train(tables, settings, build_tokenizer(settings), output, click.echo)
    except mt.ToolError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.argument("csv_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Model file made by gridbot train.",
)
@text_cols_option
@label_col_option
@config_option
def evaluate(
    csv_path: Path, model_path: Path, text_cols: str, label_col: str, config_path: Path | None
) -> None:
    """Accuracy, macro-F1, per-class figures and confusion matrix of a model on a CSV; for a
    detector (labels request/chatter) first the request class's figures and the share of
    chatter filed, deciding as the app does at the file's threshold."""
    from bot import modeltools as mt
    from bot.language import build_tokenizer, load_model

    settings = _taxonomy_settings(config_path)
    tokenizer = build_tokenizer(settings)
    try:
        table = mt.read_table(csv_path, _columns(text_cols), label_col)
        model = load_model(model_path, tokenizer)
        if model.kind == "detector":
            mt.check_detector_labels(table.labels)
            predicted = mt.detector_predictions(model, settings, tokenizer, table.texts)
            evaluation = mt.score_predictions(table, predicted)
            lines = mt.detection_lines(evaluation)
        else:
            evaluation = mt.evaluate(model, table)
            lines = []
    except (mt.ToolError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    for line in lines + mt.evaluation_lines(evaluation, len(table.texts)):
        click.echo(line)


@main.command()
@click.argument("text", required=False)
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Routing model file (default: [classifier] model, else the built-in model).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@config_option
def classify(
    text: str | None, model_path: Path | None, as_json: bool, config_path: Path | None
) -> None:
    """The classifier's decision for TEXT, or for each line of standard input."""
    from dataclasses import replace

    from bot import modeltools as mt
    from bot.language import build_language

    settings = _taxonomy_settings(config_path)
    if model_path is not None:
        settings = replace(settings, classifier=replace(settings.classifier, model=str(model_path)))
    try:
        language = build_language(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    lines: list[str] | TextIO = [text] if text is not None else sys.stdin
    mt.classify_lines(lines, language, settings, as_json=as_json, echo=click.echo)


def _columns(spec: str) -> list[str]:
    columns = [c.strip() for c in spec.split(",") if c.strip()]
    if not columns:
        raise click.BadParameter("name at least one column", param_hint="--text-cols")
    return columns


@main.command()
@click.option(
    "--now",
    "now_text",
    required=True,
    help="The moment, ISO 8601 (e.g. 2026-11-30T08:30); without an offset, the config's timezone.",
)
@config_option
def tick(now_text: str, config_path: Path | None) -> None:
    """Run every scheduler job that is due as of --now, once, and exit."""
    from datetime import datetime

    from bot.clock import FakeClock
    from bot.outbox import make_sender
    from bot.runtime import build_runtime
    from bot.scheduler import Jobs

    try:
        moment = datetime.fromisoformat(now_text)
    except ValueError:
        raise click.BadParameter("expected an ISO 8601 date-time", param_hint="--now") from None
    settings = _settings(config_path)
    rt = build_runtime(
        settings, clock=FakeClock(moment, settings.timezone), migrate=_is_sqlite(settings)
    )
    jobs = Jobs(rt, make_sender(rt))
    try:
        ran = jobs.run_all_once()
    finally:
        jobs.release()
        rt.engine.dispose()
    when = rt.clock.now().isoformat(timespec="minutes")
    if not ran:
        raise click.ClickException(
            f"nothing ran at {when}: another scheduler holds the lease (see `gridbot scheduler`)"
        )
    click.echo(f"ran {', '.join(ran)} as of {when}")


@main.command("fake-wecom")
@click.option("--port", default=8900, show_default=True)
def fake_wecom(port: int) -> None:
    """Run the fake WeCom server on 127.0.0.1 (for trying gridbot without an account)."""
    import time

    from bot.fake_wecom import FakeWeCom

    with FakeWeCom(port=port) as fake:
        click.echo(f"fake WeCom at {fake.base_url} (corp id {fake.corp_id}); Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@main.group()
def audit() -> None:
    """The orders' tamper-evident trace (痕迹化)."""


@audit.command("verify")
@config_option
def audit_verify(config_path: Path | None) -> None:
    """Re-compute every order's event chain; exit 1 if an event was edited, deleted or forged."""
    from storage import audit as trail
    from storage.db import make_engine, make_sessionmaker

    settings = _settings(config_path)
    engine = make_engine(settings.database.url)
    try:
        with make_sessionmaker(engine)() as session:
            result = trail.check(session)
    finally:
        engine.dispose()
    if result.problems:
        for problem in result.problems:
            click.echo(str(problem))
        click.echo(
            f"chain broken: {len(result.problems)} problem(s) "
            f"in {result.orders} orders, {result.events} events"
        )
        sys.exit(1)
    click.echo(f"chain intact: {result.orders} orders, {result.events} events")


@main.group()
def orders() -> None:
    """Work orders."""


@orders.command("show")
@click.argument("number")
@config_option
def orders_show(number: str, config_path: Path | None) -> None:
    """An order's header and its whole trace (every event, oldest first)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from handlers.lifecycle import label
    from storage import audit as trail
    from storage import repositories as repo
    from storage.db import make_engine, make_sessionmaker

    settings = _settings(config_path)
    tz = ZoneInfo(settings.timezone)
    engine = make_engine(settings.database.url)
    try:
        with make_sessionmaker(engine)() as session:
            order = repo.order_by_number(session, number.strip().upper())
            if order is None:
                raise click.ClickException(f"no order {number!r} in the database")
            dept = repo.department(session, order.department_code or "")
            person = repo.person(session, order.requester_userid)
            events = trail.trace(session, order.number)
    finally:
        engine.dispose()

    def when(at: datetime) -> str:
        return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

    click.echo(f"order       {order.number}")
    click.echo(f"state       {order.status} ({label(order.status)})")
    department = order.department_code or "-"
    click.echo(f"department  {department}" + (f" ({dept.name})" if dept else ""))
    requester = order.requester_userid
    click.echo(f"requester   {requester}" + (f" ({person.name})" if person else ""))
    click.echo(f"deadline    {when(order.deadline)} ({settings.timezone})")
    click.echo(f"text        {order.text}")
    click.echo(f"trace       {len(events)} events, times in {settings.timezone}")
    for ev in events:
        move = f"{ev.from_status or '-'}→{ev.to_status or '-'}"
        line = f"{ev.seq:>4}  {when(ev.at)}  {ev.actor}  {ev.action}  {move}"
        note = ev.note.replace("\n", "\n" + " " * 6)
        click.echo(line + (f"  {note}" if note else ""))


@main.group()
def calendar() -> None:
    """Holiday calendar: import a year's 放假安排 notice, show a year's holidays."""


@calendar.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option
def calendar_import(file: Path, config_path: Path | None) -> None:
    """Store a year's holiday notice (TOML, format in the README) for every gridbot process.

    It replaces an earlier import of the same year and, for a year the chinesecalendar
    package knows, overrides the package; [calendar] overrides in the config still win.
    Running processes pick it up when they reload the calendar (see the README).
    """
    from bot.clock import SystemClock
    from bot.workcal import PACKAGE_YEARS, parse_calendar_file
    from storage import db as storage_db
    from storage import repositories as repo

    settings = _settings(config_path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file}: not UTF-8 text ({exc.reason})") from exc
    try:
        notice = parse_calendar_file(text, default_source=file.name)
    except ValueError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    engine = storage_db.make_engine(settings.database.url)
    try:
        if _is_sqlite(settings):
            storage_db.upgrade(engine)
        now = SystemClock(settings.timezone).now()
        with storage_db.transaction(storage_db.make_sessionmaker(engine)) as session:
            replaced = repo.replace_calendar_year(session, notice, now)
    finally:
        engine.dispose()
    holidays, workdays = len(notice.holidays), len(notice.workdays)
    click.echo(
        f"imported {notice.year}: {holidays} days off, {workdays} makeup working days "
        f"(source: {notice.source or '-'})"
        + (f"; replaced the {replaced} days imported before" if replaced else "")
    )
    if notice.year in PACKAGE_YEARS:
        click.echo(
            f"note: chinesecalendar knows {notice.year}; this import overrides it for that year"
        )


@calendar.command("show")
@click.argument("year", type=click.IntRange(1, 9999))
@config_option
def calendar_show(year: int, config_path: Path | None) -> None:
    """List YEAR's holidays and makeup working days, and where each comes from."""
    from zoneinfo import ZoneInfo

    from handlers.deadlines import build_calendar
    from storage import db as storage_db
    from storage import repositories as repo

    settings = _settings(config_path)
    engine = storage_db.make_engine(settings.database.url)
    try:
        if _is_sqlite(settings):
            storage_db.upgrade(engine)
        with storage_db.transaction(storage_db.make_sessionmaker(engine)) as session:
            imported = repo.calendar_notice_days(session)
    finally:
        engine.dispose()
    cal = build_calendar(settings, ZoneInfo(settings.timezone), imported=imported)
    if not cal.known_year(year):
        click.echo(
            f"{year}: neither chinesecalendar nor an imported notice knows this year: "
            "Monday to Friday are working days, plus the [calendar] overrides. "
            "Import the notice with `gridbot calendar import FILE`."
        )
    days = cal.special_days(year)
    if not days:
        click.echo(f"{year}: no holidays or makeup working days")
    weekdays = "一二三四五六日"
    for info in days:
        status = "上班 workday " if info.workday else "休息 day off"
        source = info.source + (f": {info.detail}" if info.detail else "")
        click.echo(
            f"{info.day.isoformat()} 周{weekdays[info.day.weekday()]}  {status}  "
            f"{info.name or '-'}  [{source}]"
        )


@main.command("digest")
@click.option(
    "--period",
    type=click.Choice(["day", "week", "xun", "month"]),
    default="day",
    show_default=True,
    help="日报, 周报 (Monday-Sunday), 旬报 (1-10, 11-20, 21-end) or 月报.",
)
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="A day of the period to report (default: the last period that has ended; "
    "for --period day, yesterday).",
)
@config_option
def digest_cmd(period: str, day: dt.datetime | None, config_path: Path | None) -> None:
    """Print a supervisors' report (markdown, as the scheduler sends it) from the database."""
    from bot import reports
    from bot.clock import SystemClock
    from storage import db as storage_db

    settings = _settings(config_path)
    clock = SystemClock(settings.timezone)
    now = clock.now()
    target = day.date() if day is not None else reports.last_complete(period, now.date()).first
    engine = storage_db.make_engine(settings.database.url)
    try:
        if _is_sqlite(settings):
            storage_db.upgrade(engine)
        with storage_db.make_sessionmaker(engine)() as session:
            cal = reports.default_calendar(session, settings, clock.tz)
            text = reports.build_report(session, settings, cal, period, target, now)
    finally:
        engine.dispose()
    click.echo(text)


if __name__ == "__main__":
    main()
