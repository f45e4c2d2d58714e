"""Where words live: every channel reads the product's words from vocabulary/, not from the bot,
and each word table is written once. Read from the source (the AST), so an import inside a
function counts as much as one at the top."""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not product code: the conversation itself, the tests, the benchmarks, the schema's history.
NOT_SCANNED = {"bot", "tests", "bench", "migrations"}
# The modules outside bot/ that may import it, and what from (None: anything).
BOT_READERS: dict[str, set[str] | None] = {
    "webhooks/wechat.py": None,  # the callback: WeChat's door to the conversation
    "webhooks/app.py": {"bot.understanding"},  # warms up jieba and pypinyin at start
}
# The worker sends what the bot words (notices, follow-up questions), wherever it lives.
WORKER_READS = {"bot.notices", "bot.followup", "bot.state"}
# Tables that name one kind of thing: each is defined in exactly one module.
ONE_TABLE_EACH = ("GROUPS", "VOUCHER_STATUSES", "VOUCHER_CARD_STATUSES", "CERTIFICATES",
                  "LEVELS", "HOUSEHOLD_KINDS", "PLACE_ROLES", "GROUP_STATUSES", "ERROR_REPLIES")


def python_files() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] not in NOT_SCANNED and not parts[0].startswith("."):
            yield path


def product_files() -> Iterator[Path]:
    """Every module of the product, the bot's too."""
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] not in NOT_SCANNED - {"bot"} and not parts[0].startswith("."):
            yield path


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(module: ast.Module) -> set[str]:
    """Every name an import brings, anywhere in the file, in full: ``from bot import links``
    is bot.links."""
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def of_bot(names: set[str]) -> set[str]:
    """The bot's modules among the names (bot.followup.await_answer is bot.followup)."""
    return {".".join(name.split(".")[:2]) for name in names if name.split(".")[0] == "bot"}


def allowed_from_bot(rel: str) -> set[str] | None:
    if rel in BOT_READERS:
        return BOT_READERS[rel]
    if rel.startswith("worker/"):
        return WORKER_READS
    return set()


def test_only_the_callback_and_the_worker_read_the_bot():
    """The API, the pages, the desk, the documents and the CLI take their words from
    vocabulary/ and their links from models/, so changing the conversation cannot change what
    they say."""
    wrong = {}
    for path in python_files():
        rel = path.relative_to(ROOT).as_posix()
        allowed = allowed_from_bot(rel)
        if allowed is None:
            continue
        extra = of_bot(imported(tree(path))) - allowed
        if extra:
            wrong[rel] = sorted(extra)
    assert wrong == {}


def test_vocabulary_reads_no_channel():
    """Words name the domain's values and nothing else: vocabulary/ imports locales/ and
    models/, never the bot or webhooks/."""
    wrong = {}
    for path in sorted((ROOT / "vocabulary").rglob("*.py")):
        names = {n.split(".")[0] for n in imported(tree(path))}
        channels = names & {"bot", "webhooks", "worker", "cli", "documents", "devtools"}
        if channels:
            wrong[path.relative_to(ROOT).as_posix()] = sorted(channels)
    assert wrong == {}


def word_tables(module: ast.Module) -> Iterator[tuple[str, int, ast.Dict]]:
    """(name, line, dict) of every dict literal assigned to a name, anywhere in the module."""
    for node in ast.walk(module):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield target.id, node.lineno, node.value
        elif (isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Dict)
              and isinstance(node.target, ast.Name)):
            yield node.target.id, node.lineno, node.value


def messages(table: ast.Dict) -> frozenset[tuple[str, str]] | None:
    """The table's (key, message id) pairs if every value is N_("…"), else None."""
    pairs = set()
    for key, value in zip(table.keys, table.values, strict=True):
        if not (key is not None and isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name) and value.func.id == "N_"
                and len(value.args) == 1 and isinstance(value.args[0], ast.Constant)):
            return None
        pairs.add((ast.unparse(key), value.args[0].value))
    return frozenset(pairs) if len(pairs) > 1 else None


def test_no_word_table_is_written_twice():
    """A table of words (values to N_ message ids) exists once: the same words for the same
    values in two places drift apart the day one of them is changed."""
    where = defaultdict(list)
    for path in product_files():
        for name, line, table in word_tables(tree(path)):
            words = messages(table)
            if words:
                where[words].append(f"{path.relative_to(ROOT).as_posix()}:{line} {name}")
    assert [places for places in where.values() if len(places) > 1] == []


def test_each_kind_of_thing_is_named_in_one_module():
    defined = defaultdict(list)
    for path in product_files():
        for node in tree(path).body:
            targets = (node.targets if isinstance(node, ast.Assign)
                       else [node.target] if isinstance(node, ast.AnnAssign) else [])
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ONE_TABLE_EACH:
                    defined[target.id].append(path.relative_to(ROOT).as_posix())
    assert {name: places for name, places in defined.items() if len(places) != 1} == {}
    assert set(defined) == set(ONE_TABLE_EACH)
    assert {places[0] for places in defined.values()} <= {
        "vocabulary/labels.py", "vocabulary/errors.py"}
