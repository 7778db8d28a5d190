"""The ``gridbot`` command line."""

from __future__ import annotations

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
    "--from-db",
    is_flag=True,
    help="Add the dispatchers' /派单 decisions from the configured database; without CSV, "
    "on top of the shipped routing examples.",
)
@config_option
def train(
    csv_path: Path | None,
    output: Path,
    text_cols: str,
    label_col: str,
    from_db: bool,
    config_path: Path | None,
) -> None:
    """Train a routing model from CSV (and/or the dispatchers' decisions) into a model file."""
    from bot import modeltools as mt
    from bot.language import build_tokenizer

    if csv_path is None and not from_db:
        raise click.UsageError("give a CSV file, --from-db, or both")
    settings = _taxonomy_settings(config_path)
    try:
        tables = []
        if csv_path is not None:
            tables.append(mt.read_table(csv_path, _columns(text_cols), label_col))
        else:
            tables.append(mt.shipped_routing_table())
        if from_db:
            tables.append(mt.corrections_table(settings))
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
    """Accuracy, macro-F1, per-class figures and confusion matrix of a model on a CSV."""
    from bot import modeltools as mt
    from bot.language import build_tokenizer, load_router

    settings = _taxonomy_settings(config_path)
    try:
        table = mt.read_table(csv_path, _columns(text_cols), label_col)
        model = load_router(model_path, build_tokenizer(settings))
    except (mt.ToolError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    for line in mt.evaluation_lines(mt.evaluate(model, table), len(table.texts)):
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


if __name__ == "__main__":
    main()
