"""Understanding people in their own words: a sentence, a course word, a typo, a voice
transcript, pinyin, read against the vocabulary of bot/data/synonyms.yaml and the occupations
of the open courses.

Three ways to find a phrase in a message, surest first:
- as written (jieba's segmentation keeps a short phrase from matching across words: 学时 is
  not in 开学时间);
- by sound (pypinyin, with the initials and finals people here mix up folded together), for
  the homophones a pinyin keyboard or speech recognition writes: 课成 is 课程, 补帖 is 补贴;
- nearly (rapidfuzz over the sounds), which is never taken as sure: the closest two or three
  meanings are offered as digits.
What is found by the first two ways is sure, unless two meanings compete. Whether a sure
meaning may act at once is not decided here (bot.conversation confirms any that would change
something)."""

from __future__ import annotations

import gc
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.intents import Intent

logger = logging.getLogger(__name__)

SYNONYMS_FILE = Path(__file__).parent / "data" / "synonyms.yaml"

# The intents a phrase may mean. Those in ACTING change something and are never taken from
# words alone (bot.conversation asks for a digit first). CHECKIN and REDEEM from words carry no
# scanned code, so they only say how to scan. Staff commands, bindings and the like are not
# here at all: they need their exact words or the menu.
SAFE = frozenset({
    "COURSES", "FREE_COURSES", "RECOMMEND", "CATEGORIES", "SUBSIDY", "REGISTER", "HUMAN",
    "MY_VOUCHERS", "CHECKIN", "REDEEM", "MY_ATTENDANCE", "JOBS", "PROFILE", "HELP", "LANGUAGE",
})
ACTING = frozenset({"CLAIM", "CANCEL_VOUCHER", "UNSUBSCRIBE", "SUBSCRIBE"})
ALLOWED = SAFE | ACTING

# A course word in the sentence wins over these: "我想报名电工培训" is the electrician course.
COURSE_FIRST = frozenset({"REGISTER", "CLAIM", "COURSES", "FREE_COURSES", "RECOMMEND",
                          "CATEGORIES", "HELP", "JOBS", "LANGUAGE"})

# One character that may follow a word in the same token without changing what it means.
WORD_SUFFIXES = frozenset("证班课们")

# Fuzzy scores (0-100, rapidfuzz) from which a phrase is close enough to be offered.
NEAR_SCORE = 80
# Longer messages with no phrase in them are not searched for near ones (characters).
NEAR_MAX_LENGTH = 24
# Words every question has: a phrase sounds near another only by what is left without them
# (怎么签 is not near 怎么样).
FUNCTION_WORDS = frozenset({
    "怎么", "怎么样", "咋个", "怎样", "如何", "什么", "哪样", "啥子", "哪里", "哪点", "哪个",
    "多少", "几个", "有没有", "是不是", "能不能", "可以", "可不可以", "我们", "你们", "我", "你",
    "他", "她", "想", "要", "想要", "一下", "今天", "明天", "昨天", "现在", "时候", "一个",
    "这个", "那个", "的", "了", "吗", "呢", "啊", "吧", "嘛", "呀", "哦", "嗯", "请问", "好",
})
MAX_OPTIONS = 3

_BREAKS = re.compile(r"[\s\W_]+")
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Reading:
    """What a message means: ``intent`` when sure; else ``options``, the closest meanings to
    offer as digits (empty: nothing close)."""

    intent: Intent | None = None
    options: tuple[Intent, ...] = ()
    how: str = "none"  # "words", "sound", "near" or "none": for the benchmark


@dataclass(frozen=True)
class Phrase:
    text: str
    meaning: Intent
    sound: tuple[str, ...]  # folded pinyin, one syllable a character (CJK phrases only)

    @property
    def is_cjk(self) -> bool:
        return bool(self.sound)


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    phrase: Phrase
    by_sound: bool

    def overlaps(self, other: Hit) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Vocabulary:
    phrases: tuple[Phrase, ...]
    background: frozenset[str]


class VocabularyError(ValueError):
    """The synonyms file is wrong; the message names the entry."""


# --- the vocabulary ------------------------------------------------------------------------

def load_vocabulary(path: Path = SYNONYMS_FILE) -> Vocabulary:
    with path.open(encoding="utf-8") as f:
        document = yaml.safe_load(f) or {}
    phrases: list[Phrase] = []
    for name, words in (document.get("intents") or {}).items():
        if name not in ALLOWED:
            raise VocabularyError(f"{path.name}: intent {name} is not one words may mean; "
                                  f"allowed: {', '.join(sorted(ALLOWED))}")
        phrases += [phrase(w, Intent(name)) for w in _words(path, name, words)]
    for term, words in (document.get("courses") or {}).items():
        phrases += [phrase(w, Intent("SEARCH", str(term))) for w in
                    _words(path, term, [term, *words])]
    background = frozenset(document.get("background") or ())
    unknown = background - ALLOWED
    if unknown:
        raise VocabularyError(f"{path.name}: background names unknown intents {unknown}")
    return Vocabulary(phrases=tuple(_unique(phrases)), background=background)


def _words(path: Path, key: str, words) -> list[str]:
    if not isinstance(words, list) or not all(isinstance(w, str | int) for w in words):
        raise VocabularyError(f"{path.name}: {key} must be a list of phrases")
    return [fold_text(str(w)) for w in words if fold_text(str(w))]


def _unique(phrases: list[Phrase]) -> list[Phrase]:
    seen: dict[str, Phrase] = {}
    for p in phrases:
        seen.setdefault(p.text, p)  # the first meaning listed wins
    return list(seen.values())


def phrase(text: str, meaning: Intent) -> Phrase:
    text = fold_text(text)
    return Phrase(text=text, meaning=meaning,
                  sound=sounds(text) if _CJK.search(text) else ())


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    return load_vocabulary()


@lru_cache(maxsize=64)
def _course_phrases(words: tuple[str, ...]) -> tuple[Phrase, ...]:
    """The occupations of the open courses, as phrases that search for themselves."""
    known = {p.text for p in vocabulary().phrases}
    found = []
    for word in words:
        text = fold_text(word)
        if len(text) >= 2 and text not in known:
            found.append(phrase(text, Intent("SEARCH", word)))
    return tuple(found)


# --- sounds --------------------------------------------------------------------------------

def _fold_syllable(syllable: str) -> str:
    """Sounds that speech recognition and people here mix up count as one: zh/z, ch/c, sh/s,
    l/n at the start, -ng/-n at the end (but -ong stays)."""
    for retroflex in ("zh", "ch", "sh"):
        if syllable.startswith(retroflex):
            syllable = syllable[0] + syllable[2:]
    if syllable.startswith("l"):
        syllable = "n" + syllable[1:]
    if syllable.endswith("ng") and not syllable.endswith("ong"):
        syllable = syllable[:-1]
    return syllable


@lru_cache(maxsize=4096)
def sounds(text: str) -> tuple[str, ...]:
    """One folded pinyin syllable for each character (other characters stand for
    themselves)."""
    from pypinyin import lazy_pinyin  # imported on first use: most messages never need it

    syllables = lazy_pinyin(text, errors=lambda chars: list(chars))
    if len(syllables) != len(text):  # never expected; keep positions aligned regardless
        return tuple(text)
    return tuple(_fold_syllable(s) for s in syllables)


@lru_cache(maxsize=1024)
def _spelled(text: str) -> str:
    """The pinyin of a phrase written together, for people who type pinyin: baoming."""
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text))


# --- segmentation --------------------------------------------------------------------------

_JIEBA_LOCK = threading.Lock()
_jieba = None


def _tokenizer():
    """jieba, made once a process on first use (about a second: its dictionary ships in the
    wheel and is cached in the temporary directory), with our phrases as words, quietly."""
    global _jieba
    if _jieba is None:
        with _JIEBA_LOCK:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                for p in vocabulary().phrases:
                    if p.is_cjk and len(p.text) > 1:
                        tokenizer.add_word(p.text)
                _jieba = tokenizer
    return _jieba


_WARMING_LOCK = threading.Lock()
_warming: threading.Thread | None = None


def warm_up(*, wait: bool = False) -> None:
    """Load pypinyin, jieba and the vocabulary in the background, once a process (the app
    calls it at start): a second or two, which the first message of a process should not
    spend out of WeChat's five."""
    global _warming
    with _WARMING_LOCK:
        if _warming is None:
            _warming = threading.Thread(target=_warm, name="understanding-warm-up",
                                        daemon=True)
            _warming.start()
    if wait:
        _warming.join()


def _warm() -> None:
    try:
        understand("预热一下")
    except Exception:  # the first message that needs it tries again, and says what broke
        logger.exception("understanding not warmed up")
    # What the process loaded at its start (the app, the catalogues, jieba's dictionary: some
    # 400,000 objects) lives as long as the process: out of the collector's sight, so that a
    # full collection no longer scans it all (170 ms, a stall every few thousand messages that
    # the queued requests all waited out; issue 19).
    gc.collect()
    gc.freeze()


@lru_cache(maxsize=2048)
def _boundaries(chunk: str) -> frozenset[int]:
    cuts, at = {0}, 0
    for token in _tokenizer().lcut(chunk, HMM=True):
        at += len(token)
        cuts.add(at)
    return frozenset(cuts)


# --- reading -------------------------------------------------------------------------------

def fold_text(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower().strip()


def chunks_of(text: str) -> list[str]:
    """The message cut at punctuation and spaces: no phrase spans a "。" or a pause."""
    return [c for c in _BREAKS.split(fold_text(text)) if c]


def understand(text: str, *, course_words: Iterable[str] = ()) -> Reading:
    """What a typed or spoken message means, from the synonyms file and the occupations of the
    open courses (``course_words``)."""
    index = _index(tuple(sorted(set(course_words))))
    chunks = chunks_of(text)
    if not chunks:
        return Reading()
    hits = _ascii_hits(text, index)
    for chunk in chunks:
        hits += _chunk_hits(chunk, index, whole=len(chunks) == 1)
    background = vocabulary().background
    if hits:
        return _decide(hits, background)
    if sum(len(c) for c in chunks) > NEAR_MAX_LENGTH:
        return Reading()  # a long message with no phrase in it is not a typo of one
    options = _near(chunks, index, background)
    return Reading(options=options, how="near" if options else "none")


@dataclass(frozen=True)
class Index:
    """The phrases by their text and by their sound, for lookups at each place of a message."""

    phrases: tuple[Phrase, ...]
    by_text: dict[str, Phrase]
    by_sound: dict[tuple[str, ...], list[Phrase]]
    lengths: tuple[int, ...]  # of the CJK phrases of two characters or more
    latin: tuple[Phrase, ...]  # English phrases
    by_spelling: dict[str, Phrase]  # CJK phrases by their pinyin written together
    near: tuple[Phrase, ...]  # what a typo may be near: phrases with two content characters
    near_sounds: tuple[str, ...]  # their sounds, as rapidfuzz compares them


@lru_cache(maxsize=16)
def _index(course_words: tuple[str, ...]) -> Index:
    phrases = vocabulary().phrases + _course_phrases(course_words)
    by_text: dict[str, Phrase] = {}
    by_sound: dict[tuple[str, ...], list[Phrase]] = {}
    by_spelling: dict[str, Phrase] = {}
    for p in phrases:
        if p.is_cjk:
            by_text.setdefault(p.text, p)
            if len(p.sound) >= 2:
                by_sound.setdefault(p.sound, []).append(p)
                by_spelling.setdefault(_spelled(p.text), p)
    lengths = tuple(sorted({len(p.text) for p in phrases if p.is_cjk and len(p.text) >= 2}))
    near = tuple(p for p in phrases if p.is_cjk and len(_content(p.text)) >= 2)
    return Index(phrases=phrases, by_text=by_text, by_sound=by_sound, lengths=lengths,
                 latin=tuple(p for p in phrases if not p.is_cjk), by_spelling=by_spelling,
                 near=near, near_sounds=tuple(" ".join(p.sound) for p in near))


def _chunk_hits(chunk: str, index: Index, *, whole: bool) -> list[Hit]:
    if whole and len(chunk) == 1 and chunk in index.by_text:
        # One character means something only as the whole message: 焊.
        return [Hit(0, 1, index.by_text[chunk], by_sound=False)]
    heard = sounds(chunk) if _CJK.search(chunk) else ()
    found: list[Hit] = []
    for start in range(len(chunk)):
        for n in index.lengths:
            end = start + n
            if end > len(chunk):
                break
            written = index.by_text.get(chunk[start:end])
            if written is not None:
                found.append(Hit(start, end, written, by_sound=False))
            for p in index.by_sound.get(heard[start:end], ()) if heard else ():
                found.append(Hit(start, end, p, by_sound=True))
    return _longest_first([h for h in found if _fits(chunk, h)], chunk)


def _fits(chunk: str, hit: Hit) -> bool:
    """A phrase of two characters must be a word of the sentence, not the end of one word and
    the start of the next; longer phrases are specific enough as they are."""
    return hit.end - hit.start >= 3 or _is_word(chunk, hit)


def _is_word(chunk: str, hit: Hit) -> bool:
    cuts = _boundaries(chunk)
    if hit.start not in cuts:
        return False
    if hit.end in cuts:
        return True
    # A word with a suffix of its kind is still that word: 电工证, 焊工班, 厨师们.
    token_end = min(c for c in cuts if c > hit.end)
    return token_end - hit.end == 1 and chunk[hit.end] in WORD_SUFFIXES


def _longest_first(hits: list[Hit], chunk: str) -> list[Hit]:
    """Non-overlapping hits. Where two overlap, the one that is a word of the sentence wins
    (举报这个 is 举报, not 报这个), then the longer one (改电话, my details, is not 电话, a person
    to talk to), then the one as written."""
    kept: list[Hit] = []
    ranked = sorted(hits, key=lambda h: (not _is_word(chunk, h), -(h.end - h.start),
                                         h.by_sound, h.start))
    for hit in ranked:
        if not any(hit.overlaps(k) for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: h.start)


def _ascii_hits(text: str, index: Index) -> list[Hit]:
    """English words and typed pinyin, as whole words of the message."""
    words = fold_text(text)
    if not re.search(r"[a-z]", words):
        return []
    latin = " ".join(re.findall(r"[a-z0-9'-]+", words))
    found = [Hit(-1, -1, p, by_sound=False) for p in index.latin
             if re.search(rf"(?<![a-z]){re.escape(p.text)}s?(?![a-z])", latin)]
    spelled = index.by_spelling.get(latin.replace(" ", ""))
    if spelled is not None:
        found.append(Hit(-1, -1, spelled, by_sound=True))
    return found


def _decide(hits: list[Hit], background: frozenset[str]) -> Reading:
    how = "sound" if all(h.by_sound for h in hits) else "words"
    by_length = sorted(hits, key=lambda h: -(len(h.phrase.text)))
    meanings = list(dict.fromkeys(h.phrase.meaning for h in by_length))
    courses = [m for m in meanings if m.name == "SEARCH"]
    others = [m for m in meanings if m.name != "SEARCH"]
    if courses:
        if len(courses) > 1:
            return Reading(options=tuple(courses[:MAX_OPTIONS]), how=how)
        rest = [m for m in others if m.name not in COURSE_FIRST]
        if not rest:
            return Reading(intent=courses[0], how=how)
        if len(rest) == 1:
            if rest[0].name == "SUBSIDY":  # 电工有补贴吗: the subsidies of that course
                return Reading(intent=Intent("SUBSIDY", courses[0].arg), how=how)
            return Reading(intent=rest[0], how=how)
        return Reading(options=tuple([*rest, courses[0]][:MAX_OPTIONS]), how=how)
    strong = [m for m in others if m.name not in background] or others
    if len(strong) == 1:
        return Reading(intent=strong[0], how=how)
    return Reading(options=tuple(strong[:MAX_OPTIONS]), how=how)


def _near(chunks: list[str], index: Index, background: frozenset[str]) -> tuple[Intent, ...]:
    """The meanings whose phrases sound most like a part of the message, best first."""
    from rapidfuzz import fuzz, process

    best: dict[Intent, float] = {}
    for query in _queries(chunks):
        for _, score, at in process.extract(query, index.near_sounds, scorer=fuzz.ratio,
                                            score_cutoff=NEAR_SCORE, limit=5):
            meaning = index.near[at].meaning
            best[meaning] = max(best.get(meaning, 0.0), score)
    ranked = sorted(best, key=lambda m: (-best[m], m.name in background))
    return tuple(ranked[:MAX_OPTIONS])


@lru_cache(maxsize=2048)
def _content(text: str) -> str:
    """A phrase less its function words: what it is about."""
    for word in sorted(FUNCTION_WORDS, key=len, reverse=True):
        text = text.replace(word, "")
    return text


def _queries(chunks: list[str]) -> list[str]:
    """What may be a misspelt phrase, as folded sounds: the words of the message that are no
    words of the dictionary (天气 is the weather, not a typo of 电气; 领卷 is a typo), and each
    short chunk whole."""
    tokenizer = _tokenizer()
    queries = []
    for chunk in chunks:
        if not _CJK.search(chunk):
            continue
        parts = tokenizer.lcut(chunk, HMM=True)
        if len(chunk) <= 4 and len(parts) > 1:
            parts.append(chunk)
        queries += [" ".join(sounds(p)) for p in parts
                    if len(p) >= 2 and p not in FUNCTION_WORDS and not tokenizer.FREQ.get(p)]
    return list(dict.fromkeys(queries))
