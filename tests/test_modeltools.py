"""gridbot train / evaluate / classify through the real command line, on CSV files the tests
write, and the dispatchers' /派单 decisions becoming training data (train --from-db)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from bot.cli import main
from bot.config import ConfigError, load_settings
from bot.language import build_language
from nlp import modelfile
from nlp.features import FeatureSettings
from nlp.linear import LinearTextModel
from nlp.tokenizer import Tokenizer
from nlp.trained import TrainedClassifier
from storage import db
from storage import repositories as repo

ROOT = Path(__file__).parent.parent
# (title, body, category code of the default taxonomy): varied, several per category
ROWS = [
    ("施工便道", "新厂区门口没有路，工程车进不来", "road_traffic"),
    ("道路问题", "园区东路坑洼太多，货车经常陷进去", "road_traffic"),
    ("交通", "厂门口的红绿灯坏了三天，上下班很危险", "road_traffic"),
    ("修路", "进园区的主干道什么时候能修好，运输受影响", "road_traffic"),
    ("道路", "项目工地外面的路被挖断了，车辆无法通行", "road_traffic"),
    ("路灯", "园区北门那段路晚上没有路灯，货车进出看不清", "road_traffic"),
    ("停电", "车间从早上开始停电，生产线全停了", "power"),
    ("用电", "新厂房需要增容到2000千伏安，向谁申请", "power"),
    ("电力", "园区经常跳闸停电，设备受损严重", "power"),
    ("供电", "变压器什么时候能装好，等着通电试生产", "power"),
    ("电", "配电房一直没有送电，工人都在等", "power"),
    ("断电", "今天下午又断电了，能不能提前通知", "power"),
    ("社保", "新招的员工社保怎么办理", "labour"),
    ("招工", "我们需要招五十个普工，能不能帮忙对接", "labour"),
    ("工资", "有工人说要去劳动仲裁，我们想咨询一下流程", "labour"),
    ("用工", "稳岗补贴今年还能申请吗", "labour"),
    ("培训", "员工技能培训有没有补贴", "labour"),
    ("人社", "外地员工的社保能转过来吗", "labour"),
]
HELD_OUT = [
    ("道路", "工地门口的路太窄，大货车进不来", "road_traffic"),
    ("停电", "厂里又停电了，什么时候恢复供电", "power"),
    ("招聘", "想招一批技术工人，人社局能帮忙吗", "labour"),
]


def write_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["title", "body", "category"])
        w.writerows(rows)
    return path


def taxonomy_config(path: Path, extra: str) -> Path:
    """A config file: the shipped default taxonomy plus the TOML ``extra``."""
    taxonomy = (ROOT / "bot/demo_data/taxonomy.toml").read_text("utf-8")
    path.write_text(f"{taxonomy}\n{extra}", encoding="utf-8")
    return path


def config_with_database(tmp_path: Path) -> tuple[Path, Engine]:
    """A config with a migrated SQLite database in ``tmp_path``, and an engine on it."""
    url = f"sqlite:///{tmp_path / 'g.db'}"
    config = taxonomy_config(tmp_path / "c.toml", f'[database]\nurl = "{url}"\n')
    engine = db.make_engine(url)
    db.upgrade(engine)
    return config, engine


def shipped_lines(name: str) -> int:
    """The examples in the shipped corpus file ``name`` (both splits)."""
    text = (ROOT / "nlp/data/corpus" / name).read_text("utf-8")
    return sum(1 for line in text.splitlines() if line and not line.startswith(("#", "split")))


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    data = write_csv(folder / "train.csv", ROWS)
    out = folder / "routing.gbm"
    result = run(
        "train", str(data), "-o", str(out), "--text-cols", "title,body", "--label-col", "category"
    )
    assert result.exit_code == 0, result.output
    assert "trained on 18 examples" in result.output and "road_traffic: 6" in result.output
    return out


def test_train_writes_a_router_model_file_with_departments(trained: Path) -> None:
    meta = modelfile.read(trained).meta
    assert meta["kind"] == "router" and meta["version"] == modelfile.VERSION
    assert meta["labels"] == ["labour", "power", "road_traffic"]
    assert meta["label_to_department"] == {
        "labour": "hrss",
        "power": "power",
        "road_traffic": "transport",
    }
    assert meta["training"]["examples"] == 18
    assert meta["training"]["extra_examples"] > 3  # the categories' names and keywords


def test_evaluate_prints_accuracy_macro_f1_per_class_and_confusion(
    trained: Path, tmp_path: Path
) -> None:
    held = write_csv(tmp_path / "held.csv", [*HELD_OUT, ("燃气", "燃气管道什么时候通", "gas")])
    result = run(
        "evaluate",
        str(held),
        "--model",
        str(trained),
        "--text-cols",
        "title,body",
        "--label-col",
        "category",
    )
    assert result.exit_code == 0, result.output
    out = result.output
    # the gas line cannot be right (the model never saw gas): 3 of 4
    assert "examples 4  accuracy 0.7500" in out
    assert "macro-F1 " in out
    assert "confusion matrix" in out
    lines = out.splitlines()
    gas = next(line for line in lines if line.startswith("gas "))
    assert gas.split()[1:] == ["0.000", "0.000", "0.000", "1"]


def test_classify_json_with_a_model_and_from_standard_input(trained: Path) -> None:
    lines = "厂门口的路坑太多了货车过不去\n谢谢领导\n\n"
    result = run("classify", "--model", str(trained), "--json", input=lines)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(rows) == 2
    road, thanks = rows
    assert set(road) == {
        "text",
        "is_request",
        "request_score",
        "category",
        "department",
        "confidence",
        "top3",
    }
    assert road["is_request"] is True and road["category"] == "road_traffic"
    assert road["department"] == "transport" and 0 < road["confidence"] <= 1
    assert road["top3"][0]["category"] == "road_traffic"
    assert thanks["is_request"] is False and thanks["category"] is None


def test_classify_one_text_in_plain_words() -> None:
    result = run("classify", "研发楼的燃气管道还没接通，周五前必须通气，麻烦尽快协调燃气公司")
    assert result.exit_code == 0, result.output
    [line] = [x for x in result.output.splitlines() if "top3" in x]
    assert line.startswith("诉求 ") and "→ 燃气（区燃气公司）" in line


def test_train_refuses_a_table_without_the_columns(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "t.csv", ROWS)
    result = run("train", str(data), "-o", str(tmp_path / "m.gbm"))  # default column "text"
    assert result.exit_code == 1
    assert "no column text" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m.gbm").exists()


def test_train_needs_data() -> None:
    result = run("train", "-o", "x.gbm")
    assert result.exit_code == 2 and "--from-db" in result.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"PK\x03\x04 not really a zip", "not a readable model file", id="corrupt"),
        pytest.param(b"", "not a readable model file", id="empty"),
    ],
)
def test_a_broken_model_file_is_refused_clearly(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    bad = tmp_path / "bad.gbm"
    bad.write_bytes(content)
    result = run("classify", "--model", str(bad), "停电了")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "classifier.model" in result.output


def test_a_configured_model_of_unknown_labels_stops_start_up(tmp_path: Path) -> None:
    model = LinearTextModel.fit(
        ["城市道路坑洼", "小区噪音扰民", "道路塌陷", "夜间施工噪音"],
        ["城乡建设", "环境保护", "城乡建设", "环境保护"],
        tokenizer=Tokenizer(),
        settings=FeatureSettings(min_df=1),
    )
    path = tmp_path / "tipdm.gbm"
    model.save(path)
    config = taxonomy_config(tmp_path / "c.toml", f'[classifier]\nmodel = "{path}"\n')
    with pytest.raises(ConfigError, match="none of the model's labels"):
        build_language(load_settings(config))


def test_train_from_db_adds_the_dispatchers_decisions(tmp_path: Path) -> None:
    config, engine = config_with_database(tmp_path)
    odd = "园区里的流浪狗越来越多，晚上追着下班的员工跑"
    with db.transaction(db.make_sessionmaker(engine)) as s:
        for i in range(3):
            repo.add_routing_example(
                s,
                text=odd if i == 0 else f"{odd}，第{i}次反映",
                category="public_order",
                department="police",
                suggested="other",
                actor="sup",
                order_id=None,
                at=datetime(2026, 11, 23, tzinfo=UTC),
            )
    engine.dispose()
    out = tmp_path / "m.gbm"
    result = run("train", "--from-db", "-o", str(out), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "dispatchers' decisions (3)" in result.output
    meta = modelfile.read(out).meta
    assert meta["training"]["examples"] == shipped_lines("routing.tsv") + 3
    model = LinearTextModel.load(out, Tokenizer())
    assert model.predict([odd])[0] == "public_order"


# request / chatter lines for a detector the tests train (realistic enterprise-group lines)
DETECTION_ROWS = [
    ("新厂区门口没有路，工程车进不来，请帮忙协调", "request"),
    ("车间从早上开始停电，生产线全停了，什么时候来电", "request"),
    ("园区东路坑洼太多，货车经常陷进去，能不能修一下", "request"),
    ("我们的燃气管道什么时候能接通？周五就要试生产", "request"),
    ("厂门口的红绿灯坏了三天，上下班很危险", "request"),
    ("新招的员工社保怎么办理，找哪个部门", "request"),
    ("配电房一直没有送电，工人都在等，麻烦催一下", "request"),
    ("园区北门那段路晚上没有路灯，请尽快安装", "request"),
    ("污水管堵了，厂区里全是积水，请派人来看看", "request"),
    ("稳岗补贴今年还能申请吗？材料交到哪里", "request"),
    ("消防验收一直约不上，项目没法投产，急", "request"),
    ("工地旁边的排水沟塌了，下雨就淹，请处理", "request"),
    ("谢谢领导！", "chatter"),
    ("收到，马上安排", "chatter"),
    ("大家早上好", "chatter"),
    ("哈哈哈，这个好", "chatter"),
    ("明天的会改到下午三点，请相互转告", "chatter"),
    ("好的，辛苦了", "chatter"),
    ("我们的新产品上线了，欢迎大家来参观", "chatter"),
    ("已经修好了，谢谢交通局的同志", "chatter"),
    ("周末愉快", "chatter"),
    ("[强]", "chatter"),
    ("欢迎新朋友进群", "chatter"),
    ("这个问题昨天已经解决了，不用管了", "chatter"),
]
CARPOOL = "明早七点从园区去高铁站，车上还有两个座位，要走的私聊"


def write_detection_csv(path: Path, rows: list[tuple[str, str]] = DETECTION_ROWS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


def test_train_kind_detector_from_csv_and_the_dispatchers_decisions(tmp_path: Path) -> None:
    config, engine = config_with_database(tmp_path)
    with db.transaction(db.make_sessionmaker(engine)) as s:  # three /非诉求, one /立案
        for i, (text, label) in enumerate(
            [
                (CARPOOL, "chatter"),
                ("周六早上八点园区门口拼车去市区，还有一个座位", "chatter"),
                ("下班顺路去高铁站的可以搭我的车，还剩两个位置", "chatter"),
                ("园区食堂的菜里吃出了虫子，请市场监管来查一查", "request"),
            ]
        ):
            repo.set_detection_example(
                s,
                text=text,
                label=label,
                actor="sup",
                message_id=None,
                order_id=None,
                at=datetime(2026, 11, 23, i, tzinfo=UTC),
            )
    engine.dispose()
    data = write_detection_csv(tmp_path / "lines.csv")
    out = tmp_path / "detector.gbm"
    args = ["train", str(data), "--kind", "detector", "--text-cols", "text", "-o", str(out)]
    result = run(*args, "--from-db", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "lines.csv (24) + dispatchers' decisions (4)" in result.output
    assert "request: 13  chatter: 15" in result.output
    assert "threshold 0." in result.output and "chatter filed" in result.output
    meta = modelfile.read(out).meta
    assert meta["kind"] == "detector" and sorted(meta["labels"]) == ["chatter", "request"]
    assert 0 < meta["threshold"] < 1 and "blend" in meta
    assert meta["training"]["examples"] == 28
    assert meta["training"]["extra_examples"] == shipped_lines("routing.tsv")

    # evaluate decides as the app does, at the file's threshold
    held = write_detection_csv(
        tmp_path / "held.csv", [*DETECTION_ROWS[:4], *DETECTION_ROWS[-3:], (CARPOOL, "chatter")]
    )
    result = run("evaluate", str(held), "--model", str(out), "--text-cols", "text")
    assert result.exit_code == 0, result.output
    [first] = [line for line in result.output.splitlines() if line.startswith("requests 4:")]
    assert "precision " in first and "chatter 4: filed " in first
    assert "examples 8  accuracy" in result.output and "confusion matrix" in result.output
    wrong = write_csv(tmp_path / "routing.csv", ROWS)  # category labels are no detector's
    result = run(
        "evaluate",
        str(wrong),
        "--model",
        str(out),
        "--text-cols",
        "body",
        "--label-col",
        "category",
    )
    assert result.exit_code == 1 and "a detector's labels are request and chatter" in result.output

    # configured, it replaces the default detector, with its own threshold
    config.write_text(
        config.read_text("utf-8") + f'\n[classifier]\ndetector_model = "{out}"\n', encoding="utf-8"
    )
    clf = build_language(load_settings(config)).classifier
    assert isinstance(clf, TrainedClassifier) and clf.detector is not None
    assert (clf.detector.threshold, clf.threshold) == (meta["threshold"], meta["threshold"])
    assert clf.detector.coef.tobytes() == LinearTextModel.load(out, Tokenizer()).coef.tobytes()
    for text, _ in DETECTION_ROWS[:3] + DETECTION_ROWS[-3:]:
        assert clf.classify(text).is_request == (clf.request_score(text) >= meta["threshold"])


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(
            [("停电了", "诉求")] * 6 + [("谢谢", "闲聊")] * 6, "found 诉求, 闲聊", id="labels"
        ),
        pytest.param(
            [("停电了", "request")] * 6 + [("谢谢", "chatter")] * 3,
            "need at least 5 examples of each of request and chatter (have 6 and 3)",
            id="too-few",
        ),
    ],
)
def test_train_kind_detector_refuses_unusable_tables(
    tmp_path: Path, rows: list[tuple[str, str]], expected: str
) -> None:
    data = tmp_path / "d.csv"
    with data.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)
    out = tmp_path / "d.gbm"
    result = run("train", str(data), "--kind", "detector", "--text-cols", "text", "-o", str(out))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert expected in result.output
    assert not out.exists()


def test_a_router_file_is_refused_as_detector_model(trained: Path, tmp_path: Path) -> None:
    config = taxonomy_config(tmp_path / "c.toml", f'[classifier]\ndetector_model = "{trained}"\n')
    with pytest.raises(ConfigError, match=r"classifier\.detector_model: .* is a router model"):
        build_language(load_settings(config))


def test_the_shipped_detection_lines_are_the_default_base() -> None:
    from bot import modeltools as mt

    table = mt.shipped_detection_table()
    assert set(table.labels) == {"request", "chatter"}
    assert len(table.texts) > 7000 and table.source == "detection.tsv"
