"""Every citation a person can read is checked against the clause it names (issue 16, item 13).

The walk finds the citations itself, so a rule added later is checked too: every ``source`` of
the data files (the policy's rules, the settlement rates, the targets, the provincial file),
the county's basis of the rules taken from DX2020's model, every string in the code that cites
a clause (it must be a named constant), and every message of the catalogues. For each: the
document and the clause are in models/data/clauses.yaml, and the clause says the rule — it
holds the key words the tables below give. Another county's plan (DX2020) is never cited as a
rule, only as the model the county's own basis follows."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from babel.messages.pofile import read_po

from models.basis import ADOPTED_RULES, adopted_rules, parse_adopted_rules
from models.clauses import Reference, documents, references

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "models" / "data"

# --- what each clause must say --------------------------------------------------------------
# The key words of a rule: every clause its citation names holds at least one of them, and the
# clauses together hold them all (a citation of two clauses may take one part from each).

# The ``source`` of a data file's entry, by file and the entry's id (or its path).
SOURCE_WORDS: dict[str, tuple[str, ...]] = {
    "policy.yaml:pension_excluded": ("按月领取养老金",),
    "policy.yaml:residence_scope": ("户籍地", "常住地", "求职就业地"),
    "policy.yaml:yearly_cap": ("不超过3次", "不计入"),
    "policy.yaml:same_occupation_level": ("同一职业同一等级",),
    "policy.yaml:employment_difficulty": ("就业困难人员", "男年满50周岁", "残疾人"),
    "policy.yaml:free_public_training": ("免费参加由公共就业服务机构组织",),
    "policy.yaml:free_targeted_groups": ("免费职业技能", "公开招标"),
    "policy.yaml:training_subsidy_self_funded": ("自费", "800元至6000元", "自主选择"),
    "policy.yaml:living_allowance": ("60元", "生活费补贴", "垫付"),
    "policy.yaml:transport_allowance": ("20元交通补贴",),
    "policy.yaml:work_training": ("以工代训", "不超过6个月"),
    "policy.yaml:apprenticeship": ("新型学徒制", "4000元"),
    "policy.yaml:cadre_service_subsidy": ("服务性补贴",),
    # Rules of the same issue another branch adds (their ids as in the seed facts).
    "policy.yaml:enterprise_training": ("生产经营主体", "800元至6000元"),
    "policy.yaml:institution_claims.pass_rate": ("培训合格率",),
    "policy.yaml:institution_claims.advance": ("50%的培训补贴资金",),
    "policy.yaml:employer_pre_job": ("岗前培训", "800元"),
    "policy.yaml:institution_subsidy": ("公开招标", "800元至6000元"),
    "policy.yaml:settlement_rates.range_yuan": ("800元至6000元", "150元鉴定补贴"),
    "policy.yaml:settlement_rates.rules": ("800元至6000元", "150元鉴定补贴"),
    "policy.yaml:settlement_rates.no_certificate": ("取得证书",),
    "luoping.yaml:categories": ("任务分解表", "培训任务数"),
    "luoping.yaml:township_targets": ("各乡镇（街道）", "任务分解表"),
    "provincial_columns.yaml:top": ("凡补必进", "云南省职业技能网络培训平台"),
}

# What the model's clause says of each rule the county adopts; None: no clause of the seeds
# says it, so the county's basis names no model.
MODEL_WORDS: dict[str, tuple[str, ...] | None] = {
    "course_open": ("培训项目信息和“培训券”同时提供给群众", "发放程序"),
    "one_voucher_per_course": ("发放程序", "管理使用"),
    "no_overlapping_courses": None,
    "settle_by_voucher": ("凭“券”结算",),
    "check_in_in_person": ("考勤", "代签"),
    "completion_share": ("考勤", "结业率"),
    "job_push": ("推送岗位信息",),
    "follow_up": ("回访", "就业率"),
    "practice_share": ("实操课时与理论课时比例为7∶3",),
}

# Module constants that cite a clause (refusals carry them), by module and name.
CONSTANT_WORDS: dict[str, tuple[str, ...]] = {
    "models.vouchers.QJ2019_CAPS": ("不超过3次", "同一职业同一等级"),
    "models.vouchers.YN2021_CLASS_SIZE": ("不得超过60人",),
    "models.settlement.QJ2019_ONCE": ("同一职业同一等级",),
    "models.employers.QJ2019_ADVANCE_FOR_ENTERPRISES": ("对企业按照计划组织职工开展培训",),
    "models.vouchers.LP2021_TARGETS": ("培训任务数",),
    "models.claims.YN2021_CLAIMS": ("10个工作日内",),
    "models.claims.QJ2019_NO_DOUBLE_CLAIM": ("不得重复申报",),
}

# Clauses the messages cite, by document key and clause: what the messages cite them for.
MESSAGE_WORDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("QJ2019", "(十六)"): ("同一职业同一等级",),
    ("QJ2019", "(二十三)"): ("不得重复申报",),
    ("QJ2020", "五(一)"): ("生活费补贴", "交通补贴"),
    ("QJ2020", "五(二)"): ("取得证书", "800元至6000元"),
    ("LP2021", "二"): ("就业率达90%以上",),
    ("LP2021", "附件2"): ("各乡镇（街道）", "职业资格证", "专项职业能力证", "免费培训"),
    ("YN2021", "二(七)"): ("120课时", "不得超过60人", "不超过35人", "8个课时"),
    ("YN2021", "三(三)"): ("每班必查",),
}

# A document number as people write it (曲政发〔2020〕45号): each one must be a document we hold,
# so a number cut short ("曲政发〔2020〕二") is caught too.
DOCUMENT_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,8}〔\d{4}〕\d*号?")


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def problems(text: str, words: tuple[str, ...] | None,
             cited: list[Reference] | None = None) -> list[str]:
    """What is wrong with a citation: a clause we do not hold, another county's plan cited as
    a rule, a clause that does not say the rule."""
    cited = references(text) if cited is None else cited
    found: list[str] = []
    names = {name for doc in documents().values() for name in doc.cited_as}
    # A match may take in words before the number (目标为曲政发…): it must end with a name.
    found += [f"unknown document {n!r}" for n in DOCUMENT_NUMBER.findall(text)
              if not any(n.endswith(name) for name in names)]
    if not cited:
        return [*found, "names no clause we hold"]
    for ref in cited:
        if not ref.clause:
            found.append(f"{ref.document.key} is cited without a clause")
        elif ref.excerpt is None:
            found.append(f"{ref.text} is not in clauses.yaml")
        elif not ref.document.binds_county:
            found.append(f"{ref.text} is another region's plan, cited as a rule")
    if found or words is None:
        return found
    excerpts = [(ref.text, _squeezed(ref.excerpt or "")) for ref in cited]
    found += [f"{name} says none of {words}" for name, excerpt in excerpts
              if not any(_squeezed(w) in excerpt for w in words)]
    found += [f"no clause cited says {w!r}" for w in words
              if not any(_squeezed(w) in excerpt for _, excerpt in excerpts)]
    return found


# --- the data files' sources ----------------------------------------------------------------

def _sources(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """(the entry's id or path, source) of every ``source`` that cites a clause."""
    if isinstance(node, dict):
        source = node.get("source")
        if isinstance(source, str) and (references(source) or DOCUMENT_NUMBER.search(source)):
            yield str(node.get("id") or ".".join(path) or "top"), source
        for key, value in node.items():
            yield from _sources(value, (*path, str(key)))
    elif isinstance(node, list):
        for value in node:
            yield from _sources(value, path)


# The clauses themselves, and the State Council's holiday notices (dates, not rules).
NOT_CITATIONS = {"clauses.yaml", "holidays.yaml"}


def data_sources() -> list[tuple[str, str]]:
    found = []
    for file in sorted(DATA.glob("*.yaml")):
        if file.name in NOT_CITATIONS:
            continue
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        found += [(f"{file.name}:{key}", source) for key, source in _sources(data)
                  if key != "plan_goals"]  # each goal's own figure: the test below
    return found


def _plan_goals() -> list[dict[str, Any]]:
    return yaml.safe_load((DATA / "luoping.yaml").read_text(encoding="utf-8"))["plan_goals"]


def _figure_forms(value: float) -> set[str]:
    """How the seeds write a figure: 54115, 10万, 6.7万, 90%, 2亿."""
    forms = {f"{value:g}", f"{value * 100:g}%", f"{value / 10_000:g}万", f"{value / 1e8:g}亿"}
    return {form for form in forms if form not in ("0%", "0万", "0亿")}


@pytest.mark.parametrize("goal", _plan_goals(), ids=lambda goal: goal["code"])
def test_a_plan_goal_names_a_clause_that_holds_its_figure(goal):
    cited = [ref for ref in references(goal["source"]) if ref.clause]
    assert cited, f"{goal['code']}: {goal['source']} names no clause on file"
    text = _squeezed("".join(ref.excerpt or "" for ref in cited))
    assert any(form in text for form in _figure_forms(goal["value"])), (
        f"{goal['code']}: {goal['source']} does not say {goal['value']}")


@pytest.mark.parametrize(("entry", "source"), data_sources())
def test_a_data_files_source_names_a_clause_that_says_it(entry, source):
    assert entry in SOURCE_WORDS, f"{entry}: add the words its clause must say to SOURCE_WORDS"
    assert problems(source, SOURCE_WORDS[entry]) == [], f"{entry}: {source}"


def test_the_walk_finds_the_sources_of_every_part_of_the_policy():
    entries = {entry for entry, _ in data_sources()}
    assert {"policy.yaml:same_occupation_level", "policy.yaml:settlement_rates.rules",
            "luoping.yaml:township_targets", "provincial_columns.yaml:top"} <= entries
    eligibility = yaml.safe_load((DATA / "policy.yaml").read_text(encoding="utf-8"))
    ids = {rule["id"] for rule in eligibility["eligibility"]["rules"]}
    assert {f"policy.yaml:{i}" for i in ids} <= entries


# --- the county's basis of the rules it adopts ---------------------------------------------

@pytest.mark.parametrize("rule_id", ADOPTED_RULES)
def test_an_adopted_rule_cites_the_countys_basis_and_a_model_that_says_it(rule_id):
    rule = adopted_rules()[rule_id]
    shown = rule.citation
    assert shown.startswith(rule.basis)
    # What the person reads never names another region's plan as the rule: only as the model
    # (参照) of a demo stand-in.
    for ref in references(shown):
        if not ref.document.binds_county:
            assert rule.is_demo and f"（演示：参照{ref.document.place}{ref.text}）" in shown
    if MODEL_WORDS[rule_id] is None:
        assert rule.modelled_on is None
        assert shown == (f"{rule.basis}（演示）" if rule.is_demo else rule.basis)
        return
    model = rule.modelled_on
    assert model is not None and model.excerpt is not None
    excerpt = _squeezed(model.excerpt)
    missing = [w for w in MODEL_WORDS[rule_id] if _squeezed(w) not in excerpt]
    assert missing == [], f"{model.text} does not say {missing}"


def test_dx2020_31_says_nothing_of_overlapping_courses():
    """Why no_overlapping_courses names no model: the clause it used to cite is silent on it."""
    excerpt = documents()["DX2020"].excerpt("三(一)") or ""
    assert "培训券" in excerpt
    assert not any(w in excerpt for w in ("重叠", "同一时间", "时间冲突", "同时参加"))


def test_a_live_basis_must_name_a_clause_we_hold():
    """Once the county names its notice (is_demo false), the notice's clause must be on file,
    and another county's plan cannot be the basis."""
    docs = documents()
    rules = [{"id": r, "title_zh": r, "title_en": r, "basis": "罗平县人社局培训券管理办法",
              "modelled_on": "东县府办发〔2020〕57号 三(一)"} for r in ADOPTED_RULES]
    assert parse_adopted_rules({"is_demo": True, "rules": rules}, docs)
    with pytest.raises(ValueError, match="course_open: no clause of 罗平县人社局培训券管理办法"):
        parse_adopted_rules({"is_demo": False, "rules": rules}, docs)
    live = [{**r, "basis": "罗政办发〔2021〕2号 五(一)"} for r in rules]
    assert parse_adopted_rules({"is_demo": False, "rules": live}, docs)["course_open"] \
        .citation == "罗政办发〔2021〕2号 五(一)"
    borrowed = [{**r, "basis": "东县府办发〔2020〕57号 三(一)"} for r in rules]
    with pytest.raises(ValueError, match="not another region's plan"):
        parse_adopted_rules({"is_demo": True, "rules": borrowed}, docs)
    unheld = [{**r, "modelled_on": "东县府办发〔2020〕57号 三(九)"} for r in rules]
    with pytest.raises(ValueError, match="modelled_on must name one clause"):
        parse_adopted_rules({"is_demo": True, "rules": unheld}, docs)
    with pytest.raises(ValueError, match=r"missing \['settle_by_voucher'\]"):
        parse_adopted_rules({"is_demo": True, "rules": [r for r in rules
                                                         if r["id"] != "settle_by_voucher"]},
                            docs)


# --- citations in the code -------------------------------------------------------------------

GETTEXT = {"_", "N_", "ngettext", "gettext", "lazy_gettext"}


def _citing_strings(file: Path) -> Iterator[tuple[str, str | None]]:
    """(text, the module constant it is assigned to or None) of every string in the file that
    cites a clause; docstrings and messages (checked in the catalogues) left out."""
    tree = ast.parse(file.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))
        if isinstance(node, ast.Call) and (getattr(node.func, "id", None) in GETTEXT
                                           or getattr(node.func, "attr", None) in GETTEXT):
            skip.update(id(n) for arg in node.args for n in ast.walk(arg))
    constants = {id(node.value): target.id for node in tree.body
                 if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                 for target in node.targets if isinstance(target, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in skip and (references(node.value)
                                              or DOCUMENT_NUMBER.search(node.value)):
            yield node.value, constants.get(id(node))


def code_citations() -> list[tuple[str, str, str | None]]:
    found = []
    for package in ("models", "bot", "webhooks"):
        for file in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(file.relative_to(ROOT).with_suffix("").parts)
            found += [(module, text, name) for text, name in _citing_strings(file)]
    return found


def test_a_citation_in_the_code_is_a_named_constant_whose_clause_says_it():
    found = code_citations()
    assert {f"{m}.{n}" for m, _, n in found if n} == set(CONSTANT_WORDS)
    for module, text, name in found:
        assert name, f"{module}: {text!r} cites a clause outside a module constant"
        assert problems(text, CONSTANT_WORDS[f"{module}.{name}"]) == [], f"{module}.{name}"


# --- citations in the messages ---------------------------------------------------------------

def message_citations() -> list[tuple[str, str]]:
    """(where, text) of every message id and every translation that cites a clause."""
    found = []
    for lang in ("zh_Hans_CN", "en"):
        with (ROOT / "locales" / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
            catalog = read_po(f)
        for message in catalog:
            for text in (*_texts(message.id), *_texts(message.string)):
                if references(text) or DOCUMENT_NUMBER.search(text):
                    found.append((f"{lang}: {_texts(message.id)[0][:50]}", text))
    return found


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(v for v in (value if isinstance(value, tuple) else (value,)) if v)


def test_every_clause_a_message_cites_says_it():
    found = message_citations()
    assert len(found) >= 10
    for where, text in found:
        cited = references(text)
        assert problems(text, None, cited) == [], where
        for ref in cited:
            words = MESSAGE_WORDS.get((ref.document.key, ref.clause))
            assert words, f"{where}: add the words {ref.text} must say to MESSAGE_WORDS"
            assert problems(ref.text, words, [ref]) == [], where
