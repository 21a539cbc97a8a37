"""Confusable negatives for a wake phrase, found from espeak-ng's phonemes (`espeak-ng -x`).

A confusable shares most of the phrase's sounds without being it: one word swapped for a word a
phoneme or two away ("hey nano" -> "hey nana", "hey piano"), a word that rhymes with the phrase's
last word ("soprano"), or the phrase's sounds regrouped across word boundaries. Homophones of the
phrase ("hay nano": the same phonemes) are never negatives: `is_homophone` drops them.
"""

from __future__ import annotations

from keyword_spotting.tts_engines import EspeakEngine

# Short English words covering common English syllables; candidates for swaps and rhymes.
VOCABULARY = tuple(
    "a able ah all and any are at away baby back bay banana band bay be bean bed bee big bill bit "
    "boat body bonanza bottle boy bread bright bring brother bye cake can candy car case cat chain "
    "chair day deckden dinner do dog done door dough down either end every eye fan far feel few fine "
    "fly fold for game gay gate get go good guy hay hair hall hand hang happy has hate have he head "
    "hello hen her here hey hi high hill him hip his hit hold home honey hope how hug jay judge kay "
    "key kind king knee know lady land lane late lay lean let light lime lonely lay main make man "
    "mana mango manner many may me mean men mine moan money mono more name nan nana nanny nap narrow "
    "nay near neck need neighbor net new nice night nine no nod none nor north nose not note nothing "
    "now nun oh okay one open pay pen piano pie place plan play please pony radio rain ray right "
    "road said same say see sea shay show so soprano stay table take tale tell ten than that the "
    "then there they this though today tomato tornado tray way weigh well what when where which "
    "why will window with wonder yeah yes yo you volcano tobacco potato hello halo piano mono "
    "nano nanny banner planner scanner panel channel canal lasso cameo rodeo studio patio alex lexus relax "
    "taxi texas election lexicon jar jars harvest service nervous marvel garbage carve cars".split())


def _distance(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """Levenshtein distance over phoneme tokens."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def _flat(p: tuple[str, ...]) -> str:
    return " ".join(p)


def is_homophone(phrase: str, others: list[str], engine: EspeakEngine | None = None) -> list[bool]:
    """For each text in `others`: does it sound like `phrase` (the same phonemes, word breaks aside)?"""
    engine = engine or EspeakEngine()
    texts = [" ".join(t.lower().replace(",", " ").split()) or "-" for t in [phrase, *others]]
    ph = engine.phonemes(texts)
    return [_flat(p) == _flat(ph[0]) for p in ph[1:]]


def confusables(phrase: str, limit: int = 40, engine: EspeakEngine | None = None,
                vocabulary: tuple[str, ...] = VOCABULARY) -> list[str]:
    """Up to `limit` phrases that share most of `phrase`'s phonemes but are not it (nearest first)."""
    words = phrase.lower().replace(",", " ").split()
    if not words:
        raise ValueError("phrase must not be empty")
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    engine = engine or EspeakEngine()
    vocab = sorted(set(vocabulary) - set(words))
    ph = engine.phonemes(words + vocab + [" ".join(words)])
    word_ph, vocab_ph, whole = ph[:len(words)], dict(zip(vocab, ph[len(words):-1], strict=True)), ph[-1]
    scored: dict[str, float] = {}

    def add(text: str, score: float) -> None:
        if text != " ".join(words):
            scored[text] = min(score, scored.get(text, score))

    for i, wp in enumerate(word_ph):
        for v, vp in vocab_ph.items():
            d = _distance(wp, vp)
            if vp != wp and d <= max(1, len(wp) // 2):
                add(" ".join(words[:i] + [v] + words[i + 1:]), d / max(len(wp), 1))
    last = word_ph[-1]
    tail = last[-3:] if len(last) >= 3 else last
    for v, vp in vocab_ph.items():
        if vp != last and len(vp) >= len(tail) and vp[-len(tail):] == tail:
            add(" ".join(words[:-1] + [v]) if len(words) > 1 else v, 0.5 + 0.1 * abs(len(vp) - len(last)))
            add(v, 0.8 + 0.1 * abs(len(vp) - len(last)))
    # Vocabulary words that match a stretch of the phrase's sounds (+-1 phoneme): alone and in pairs.
    pieces = []
    for v, vp in vocab_ph.items():
        if len(vp) < 3:
            continue
        for n in (len(vp) - 1, len(vp), len(vp) + 1):
            starts = [s for s in range(0, len(whole) - n + 1) if _distance(vp, whole[s:s + n]) <= 1]
            if starts:
                pieces.append((starts[0], v))
                add(v, 1.0 + 0.1 * (len(whole) - n))
                break
    for (s1, a), (s2, b) in ((p, q) for p in sorted(pieces) for q in sorted(pieces)):
        if s2 > s1 and a != b:
            add(f"{a} {b}", 0.9)
    cands = sorted(scored, key=lambda t: (scored[t], t))
    if not cands:
        return []
    homo = is_homophone(" ".join(words), cands, engine)
    return [c for c, h in zip(cands, homo, strict=True) if not h][:limit]
