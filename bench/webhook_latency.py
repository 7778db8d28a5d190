"""Latency of ``POST /wecom/aibot`` over real loopback HTTP, on SQLite (WAL).

Each callback is distinct (its own msgid), encrypted and signed beforehand, and is a realistic
mix: about half are requests (each creates a work order, an event trail and an outbox ack),
half are chatter. Timing covers the whole request: verify, decrypt, store + commit, classify,
create the order, commit, 200.

    .venv/bin/python bench/webhook_latency.py [--n 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from sqlalchemy import func, select

from bot.clock import SystemClock
from bot.demo import Driver, Step, load_demo_settings, serving
from bot.fake_wecom import FakeWeCom
from bot.runtime import build_runtime
from storage import db
from storage import repositories as repo
from storage.models import OrderEvent

WARMUP = 20
# requests differ in place and number (so each is a new order, not a repeat joined to an open
# one); chatter repeats. {i} is the callback's index.
LINES = [
    (
        "wrk_sfzn",
        "li.qiang",
        "@企业服务助手 新基地{i}号地块没有路给施工车辆进出，能否协调修临时道路？",
    ),
    (
        "wrk_xjxcl",
        "wang.min",
        "@企业服务助手 研发楼{i}号车间燃气管道还没接通，麻烦尽快协调燃气公司",
    ),
    ("wrk_cngc", "zhao.lei", "@企业服务助手 好的谢谢"),
    ("wrk_glkj", "zhou.yan", "@企业服务助手 {i}号厂房的员工社保转移一直办不了，系统报错怎么办？"),
    ("wrk_tcl", "sun.hui", "@企业服务助手 收到，辛苦了👍"),
    ("wrk_cngc", "zhao.lei", "@企业服务助手 早上好"),
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeWeCom() as fake:
        settings = load_demo_settings(fake, f"sqlite:///{Path(tmp) / 'bench.db'}")
        rt = build_runtime(settings, clock=SystemClock(settings.timezone), migrate=True)
        with serving(rt) as url:
            driver = Driver(rt, url, fake)
            session = requests.Session()
            prepared = []
            for i in range(args.n + WARMUP):
                chatid, sender, text = LINES[i % len(LINES)]
                prepared.append(
                    driver.build(Step("", sender, text.format(i=i), chatid), msgid=f"bench-{i:06d}")
                )
            for path, query, body in prepared[:WARMUP]:  # not counted; distinct msgids too
                session.post(url + path, params=query, data=body, timeout=10)
            times = []
            started = time.perf_counter()
            for path, query, body in prepared[WARMUP:]:
                t0 = time.perf_counter()
                r = session.post(url + path, params=query, data=body, timeout=10)
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.status_code
            wall = time.perf_counter() - started
        with db.transaction(rt.sessions) as s:
            made = len(repo.orders(s))
            joined = s.scalar(
                select(func.count()).select_from(OrderEvent).where(OrderEvent.action == "join")
            )
        rt.engine.dispose()
    times.sort()
    n = len(times)
    print(
        f"POST /wecom/aibot, SQLite WAL, loopback HTTP, {n} distinct callbacks (after 20 warm-up)"
    )
    print(
        f"median {statistics.median(times) * 1000:.2f} ms   p99 "
        f"{times[int(n * 0.99) - 1] * 1000:.2f} ms   max {times[-1] * 1000:.2f} ms   "
        f"throughput {n / wall:.0f}/s (one client)"
    )
    print(f"work orders created {made} (of {args.n + WARMUP} callbacks), repeats joined {joined}")
    print("repeat: .venv/bin/python bench/webhook_latency.py --n", args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
