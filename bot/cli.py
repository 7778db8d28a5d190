"""The ``gridbot`` command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

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
