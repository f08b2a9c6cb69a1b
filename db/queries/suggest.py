"""もしかして: corrected queries for a search that found nothing or almost nothing.

A mistyped word is usually one edit away from what the catalog holds: a wrong character
(a kanji of the same reading), a missing or extra one, or two swapped. Such a word still
shares long pieces with the right one, so the candidates come from the full-text index
itself, by reading as well as by writing (the readings are indexed with the titles): for
every place of the word, the works containing the pieces on either side of a one-character
hole (or of a swapped pair, or of a missing character) -- a few dozen index look-ups, each
cut short, with no vocabulary table to build or keep in step. The words of those works'
titles, readings and names are then measured against the typed word (Damerau-Levenshtein,
rapidfuzz) and the closest that make the whole query find something are offered, each with
its number of hits. All matching goes through db.search.normalise, so variants and kana
fold exactly as in the search itself. A word in Latin letters is also measured against the
romaji of the readings, by their keys (db.search.romaji_key: Hepburn and kunrei alike), and
the Hepburn spelling of the nearest words is offered: akutagwa → akutagawa.
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import jaconv
from rapidfuzz.distance import DamerauLevenshtein
from sqlalchemy import text
from sqlalchemy.engine import Connection

from db import search, search_cache
from db.catalog_write import SEP
from db.engine import cache_scope, replica_reads

__all__ = ["Suggestion", "suggest_queries"]

MAX_SUGGESTIONS = 3
MIN_WORD = 3  # shorter words have too many neighbours to guess from
MAX_WORD = 30  # longer ones are pasted text, not typed: no guessing (and no huge query)
MAX_WORDS_TRIED = 3
MAX_HOLES = 6  # index look-ups per word (12 found no more on the bench, at twice the cost)
CANDIDATES_PER_PIECE = 10
COUNT_CAP = 1000  # hits of a suggestion are counted up to this
MAX_RUN = 3  # words of a title joined into one suggestion at most
# Once one suggestion is found, a request spends at most about this long looking for more
# (no further word tried, no further fix counted): a query of several words with common
# pieces made dozens of index look-ups (20-100 ms at 100,000 works). Nothing found yet, it
# goes on: the look-ups are bounded in number (MAX_WORDS_TRIED, MAX_HOLES) rather than time.
ENOUGH_SECONDS = 0.015


@dataclass(frozen=True)
class Suggestion:
    query: str  # the query as it should be typed
    hits: int  # works it finds (at most COUNT_CAP)
    hits_is_lower_bound: bool


def _max_edits(length: int) -> int:
    return 1 if length <= 4 else 2


def _holes(term: str) -> list[tuple[str, ...]]:
    """The pieces around a one-character hole, a swapped pair or a missing character, for
    every place in `term`; pieces shorter than two characters say too little and are left
    out (the others still have to match)."""
    found: list[tuple[str, ...]] = []
    n = len(term)
    cuts = [(i, i + 1) for i in range(n)]  # wrong or extra character
    cuts += [(i, i + 2) for i in range(n - 1)]  # two characters swapped
    cuts += [(i, i) for i in range(1, n)]  # a character missing
    for start, end in cuts:
        pieces = tuple(p for p in (term[:start], term[end:]) if len(p) >= 2)
        if pieces and sum(map(len, pieces)) >= max(2, n - 3) and pieces not in found:
            found.append(pieces)
    # The longest pieces say the most and cost the least: a bounded number of look-ups.
    return sorted(found, key=lambda pieces: -min(map(len, pieces)))[:MAX_HOLES]


def _bigram_pairs(term: str) -> list[tuple[str, ...]]:
    """Two bigrams of `term` that do not overlap, the farthest apart first: the fallback when
    no piece matched, because a piece of a one-word query may not cross the word boundaries
    the index keeps (はしれめろ against はしれ|めろす) while two bigrams each stay inside one."""
    grams = [term[i : i + 2] for i in range(len(term) - 1)]
    pairs: list[tuple[str, ...]] = [
        (grams[i], grams[j]) for i in range(len(grams)) for j in range(i + 2, len(grams))
    ]
    unique = list(dict.fromkeys(pairs))
    return sorted(unique, key=lambda pair: -(grams.index(pair[1]) - grams.index(pair[0])))[
        :MAX_HOLES
    ]


def _condition(pg: bool, pieces: tuple[str, ...]) -> str:
    if pg:
        return " & ".join(search.tsquery_term(p) for p in pieces)
    return " AND ".join(search.fts5_term(p) for p in pieces)


def _source(pg: bool, bind: str) -> str:
    if pg:
        return (
            f"work_search s JOIN work w ON w.id = s.work_id WHERE s.tsv @@ CAST(:{bind} AS tsquery)"
        )
    return f"work_fts f JOIN work w ON w.id = f.rowid WHERE work_fts MATCH :{bind}"


@dataclass(frozen=True)
class _Candidate:
    values: list[tuple[str, str]]  # (value to measure, what to offer)
    readings: list[str]  # of the title and the names, for romaji


def _candidates(conn: Connection, pg: bool, conditions: list[str]) -> list[_Candidate]:
    """For each work matching any condition: (value to measure, what to offer) for its
    title, subtitle, series, names, and readings (a reading close to the typed word offers
    the title or name it reads, which finds the same works); and the readings."""
    binds = {f"m{n}": c for n, c in enumerate(conditions)}
    parts = [
        f"SELECT * FROM (SELECT w.id, w.title, w.subtitle, w.title_yomi, w.authors, "
        f"w.authors_yomi, w.series FROM {_source(pg, bind)} LIMIT {CANDIDATES_PER_PIECE}) AS c{n}"
        for n, bind in enumerate(binds)
    ]
    seen: set[int] = set()
    out = []
    for row in conn.execute(text(" UNION ALL ".join(parts)), binds):
        if row.id in seen:
            continue
        seen.add(row.id)
        names, readings = row.authors.split(SEP), row.authors_yomi.split(SEP)
        pairs = [(v, v) for v in (row.title, row.subtitle, row.series, *names)]
        pairs.append((row.title_yomi, row.title))
        if len(readings) == len(names):
            pairs += list(zip(readings, names, strict=True))
        values = [(value, offer) for value, offer in pairs if value and offer]
        out.append(_Candidate(values, [r for r in (row.title_yomi, *readings) if r]))
    return out


def _closest(term: str, value: str, offer: str) -> tuple[int, bool, str] | None:
    """(edits, whole, what to type) for the part of `value` nearest to `term`: `offer` when
    the value is close as a whole (a mistyped title or name), else its nearest stretch."""
    limit = _max_edits(len(term))
    whole = search.normalise(value)
    if not whole:
        return None
    edits = DamerauLevenshtein.distance(term, whole, score_cutoff=limit)
    if edits <= limit:
        typed = unicodedata.normalize("NFKC", offer).strip()
        if not any("a" <= ch <= "z" for ch in typed.casefold()):
            typed = "".join(typed.split())  # 夏目 漱石 typed as one word stays one word
        return edits, True, typed
    # Otherwise the nearest run of whole words (spaces and script changes bound them): a
    # stretch cut across words (文学おりん from 文学 | おりん…) would make no sense to offer.
    best: tuple[int, bool, str] | None = None
    best_rank = (limit + 1, 0)
    words = search.bounded_words(value)
    n = len(term)
    for start in range(len(words)):
        for stop in range(start + 1, min(start + MAX_RUN, len(words)) + 1):
            piece = "".join(words[start:stop])
            if abs(len(piece) - n) > limit:
                continue
            edits = DamerauLevenshtein.distance(term, piece, score_cutoff=limit)
            if (edits, abs(len(piece) - n)) < best_rank:
                best, best_rank = (edits, False, piece), (edits, abs(len(piece) - n))
    return best


@lru_cache(maxsize=4096)
def _romaji_words(reading: str) -> tuple[tuple[str, str], ...]:
    """(key, Hepburn) for each word of a kana reading: ナツメ ソウセキ → (natume, natsume),
    (soseki, souseki)."""
    hira = jaconv.kata2hira(unicodedata.normalize("NFKC", reading)).replace("ー", "")
    words = (search.normalise(jaconv.kana2alphabet(w)) for w in hira.split())
    return tuple((search.romaji_key(w), w) for w in words if w.isascii() and w.isalpha())


def _closest_romaji(term_key: str, reading: str) -> tuple[int, bool, str] | None:
    """(edits, False, Hepburn of those words) for the run of words of `reading` whose romaji
    key is nearest to `term_key` (a word typed in romaji), as `_closest` does for stretches."""
    limit = _max_edits(len(term_key))
    words = _romaji_words(reading)
    best: tuple[int, bool, str] | None = None
    best_rank = (limit + 1, 0)
    for start in range(len(words)):
        for stop in range(start + 1, min(start + MAX_RUN, len(words)) + 1):
            key = "".join(k for k, _ in words[start:stop])
            if abs(len(key) - len(term_key)) > limit:
                continue
            edits = DamerauLevenshtein.distance(term_key, key, score_cutoff=limit)
            rank = (edits, abs(len(key) - len(term_key)))
            if rank < best_rank:
                best, best_rank = (edits, False, "".join(h for _, h in words[start:stop])), rank
    return best


def _count(conn: Connection, pg: bool, terms: list[str]) -> int:
    condition = _condition(pg, tuple(terms))
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {_source(pg, 'q')} LIMIT :cap) AS hits"
    return int(conn.execute(text(sql), {"q": condition, "cap": COUNT_CAP}).scalar_one())


def suggest_queries(q: str) -> tuple[Suggestion, ...]:
    """Up to MAX_SUGGESTIONS queries, each one word of `q` corrected, that find works; none
    when no word of three or more characters is near anything in the catalog."""
    key = ("suggest", cache_scope(), q)
    cached = search_cache.get(key)
    if isinstance(cached, tuple):
        return cached
    found = _suggest(q)
    search_cache.put(key, found)  # kept like a ranked page (db.search_cache)
    return found


def _fixes(
    conn: Connection, pg: bool, term: str, looks: list[tuple[str, ...]]
) -> dict[str, tuple[bool, int, int]]:
    """What to type instead of `term` -> (a mere stretch, edits, length difference), from the
    works each look-up (pieces that must all match) finds: whole titles and names first,
    then the fewest edits, then a replaced character before a dropped one."""
    fixes: dict[str, tuple[bool, int, int]] = {}
    if not looks:
        return fixes
    term_key = search.romaji_key(term) if term.isascii() and term.isalpha() else ""
    for work in _candidates(conn, pg, [_condition(pg, pieces) for pieces in looks]):
        found_all = [_closest(term, value, offer) for value, offer in work.values]
        if term_key:
            found_all += [_closest_romaji(term_key, reading) for reading in work.readings]
        for found in found_all:
            if found is None or found[0] == 0:
                continue
            edits, whole, fix = found
            norm = search.normalise(fix)
            rank = (not whole, edits, abs(len(norm) - len(term)))
            if norm != term and rank < fixes.get(fix, (True, 99, 99)):
                fixes[fix] = rank
    return fixes


@replica_reads
def _suggest(conn: Connection, now: datetime, q: str) -> tuple[Suggestion, ...]:
    pg = conn.dialect.name == "postgresql"
    parsed = search.parse_query(q)
    if parsed.isbn13 or not parsed.terms:
        return ()
    words = [w for w in unicodedata.normalize("NFKC", q[: search.MAX_QUERY_CHARS]).split()]
    words = [w for w in words if search.normalise(w)][: search.MAX_TERMS]
    norms = [search.normalise(w) for w in words]
    scored: dict[str, tuple[int, int, int]] = {}  # query -> (edits, -hits, order found)
    started = time.monotonic()

    def enough() -> bool:
        return bool(scored) and time.monotonic() - started > ENOUGH_SECONDS

    tried = 0
    for k, term in enumerate(norms):
        if not MIN_WORD <= len(term) <= MAX_WORD:
            continue
        if enough():
            break
        tried += 1
        if tried > MAX_WORDS_TRIED:
            break
        everything_else = [t for j, t in enumerate(norms) if j != k]
        others = tuple(t for t in everything_else if len(t) >= 2)
        fixes = _fixes(conn, pg, term, [pieces + others for pieces in _holes(term)])
        if not fixes:
            fixes = _fixes(conn, pg, term, [pair + others for pair in _bigram_pairs(term)])
        taken: list[str] = []
        any_whole = any(not stretch for stretch, _, _ in fixes.values())
        for fix, (stretch, edits, _) in sorted(fixes.items(), key=lambda f: f[1]):
            norm = search.normalise(fix)
            if stretch and any_whole:
                break  # a whole title or name was found: stretches of others are noise
            # One suggestion per spelling; a stretch of a title already offered adds nothing.
            if any(norm in t for t in taken):
                continue
            if enough():
                break
            hits = _count(conn, pg, [norm, *everything_else])
            if hits:
                taken.append(norm)
                query = " ".join(fix if j == k else w for j, w in enumerate(words))
                scored.setdefault(query, (edits, -hits, len(scored)))
            if len(taken) >= MAX_SUGGESTIONS:
                break
    best = sorted(scored.items(), key=lambda s: s[1])[:MAX_SUGGESTIONS]
    return tuple(Suggestion(query, -score[1], -score[1] >= COUNT_CAP) for query, score in best)
