"""The policy clauses Peixun cites, in their own words (models/data/clauses.yaml), and the
clauses a citation names: "曲政办发〔2019〕112号 (十六); 云南省人社厅2021年职业技能提升行动通知
二(四)" names two, "QJ2020 五(一)(二)" two more. Read once per process.

A citation is only as good as the clause behind it: tests/test_citations.py reads every one the
product can show through ``references`` and checks that the clause exists and says the rule."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

CLAUSES_FILE = Path(__file__).resolve().parent / "data" / "clauses.yaml"

_NUMERAL = "[一二三四五六七八九十]+"
_ITEM = rf"\({_NUMERAL}\)"
# What follows a document's name: 附件1, a chapter with its items (五(一)(二)), or items alone
# (QJ2019's (四)(十七)).
# A county's own notice may number its articles: 第五条.
_CLAUSE_SPEC = re.compile(
    rf"[ \u3000]*(附件\d*|第[一二三四五六七八九十百零\d]+条|{_NUMERAL}(?:{_ITEM})*|(?:{_ITEM})+)")
_ITEMS = re.compile(_ITEM)
_WIDE_BRACKETS = str.maketrans("（）", "()")


@dataclass(frozen=True, eq=False)
class Document:
    key: str  # QJ2020, …
    cited_as: tuple[str, ...]  # the first is the name people read
    title: str
    issuer: str
    place: str  # the region whose rule it is
    binds_county: bool  # a rule for 罗平县 at all (another county's plan is not)
    clauses: Mapping[str, str]

    @property
    def name(self) -> str:
        return self.cited_as[0]

    def excerpt(self, clause: str) -> str | None:
        """The clause's words; a chapter cited alone ("五") reads all of its items."""
        if clause in self.clauses:
            return self.clauses[clause]
        items = [words for cid, words in self.clauses.items() if cid.startswith(f"{clause}(")]
        return "".join(items) or None


@dataclass(frozen=True, eq=False)
class Reference:
    """One clause a citation names; ``clause`` is "" when it names the document alone."""

    document: Document
    clause: str

    @property
    def text(self) -> str:
        return f"{self.document.name} {self.clause}".rstrip()

    @property
    def excerpt(self) -> str | None:
        return self.document.excerpt(self.clause) if self.clause else None


@cache
def documents() -> dict[str, Document]:
    """The documents of models/data/clauses.yaml by key; a bad file stops here, naming why."""
    with CLAUSES_FILE.open(encoding="utf-8") as f:
        return parse_documents(yaml.safe_load(f))


def parse_documents(data: dict[str, Any]) -> dict[str, Document]:
    found: dict[str, Document] = {}
    names: set[str] = set()
    for raw in data["documents"]:
        doc = Document(key=str(raw["key"]), cited_as=tuple(str(n) for n in raw["cited_as"]),
                       title=str(raw["title"]), issuer=str(raw["issuer"]),
                       place=str(raw["place"]), binds_county=bool(raw["binds_county"]),
                       clauses={str(k): str(v) for k, v in (raw.get("clauses") or {}).items()})
        for name in (doc.key, *doc.cited_as):
            if name in names:
                raise ValueError(f"clauses.yaml: the name {name} is given to two documents")
            names.add(name)
        for clause in doc.clauses:
            if not _CLAUSE_SPEC.fullmatch(clause):
                raise ValueError(f"clauses.yaml: {doc.key} {clause!r} is not a clause id")
        found[doc.key] = doc
    return found


def references(text: str, docs: Mapping[str, Document] | None = None) -> list[Reference]:
    """Every clause ``text`` names, in order: each document name (or key) found in it with the
    clause written right after it, "五(一)(二)" read as 五(一) and 五(二)."""
    docs = documents() if docs is None else docs
    names = sorted(((name, doc) for doc in docs.values() for name in (doc.key, *doc.cited_as)),
                   key=lambda pair: -len(pair[0]))
    plain = text.translate(_WIDE_BRACKETS)  # same length: positions agree with ``text``
    found: list[Reference] = []
    at = 0
    while at < len(plain):
        hit = next(((name, doc) for name, doc in names if plain.startswith(name, at)), None)
        if hit is None:
            at += 1
            continue
        at += len(hit[0])
        spec = _CLAUSE_SPEC.match(plain, at)
        clauses = _expand(spec.group(1)) if spec else [""]
        found.extend(Reference(document=hit[1], clause=c) for c in clauses)
        at = spec.end() if spec else at
    return found


def _expand(spec: str) -> list[str]:
    items = _ITEMS.findall(spec)
    if not items:
        return [spec]
    chapter = spec[:spec.index("(")]
    return [f"{chapter}{item}" for item in items]
