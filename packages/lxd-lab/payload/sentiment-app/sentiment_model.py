"""Lexicon-based sentiment model (VADER-like), python3 standard library only.

The lexicon maps lowercase words to a valence in [-4, +4]. Scoring walks the tokens and, for
each lexicon word, applies the rules people expect from VADER:
  * boosters/dampeners in the 3 preceding tokens ("very good", "slightly bad"),
  * negation in the 3 preceding tokens flips and damps the valence ("not good"),
  * ALL-CAPS emphasis when the text is not entirely upper case ("this is GREAT"),
  * "but" shifts weight to the clause after it ("good but slow"),
  * exclamation marks amplify the overall direction.
The sum is normalised to a compound score in (-1, 1): compound = s / sqrt(s^2 + alpha).
"""

import math
import os
import re

ALPHA = 15.0
BOOST = 0.293
CAPS_BOOST = 0.733
NEGATION_SCALAR = -0.74
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05

NEGATIONS = frozenset(
    """not no never none nobody nothing neither nor nowhere cannot cant dont doesnt didnt isnt
    arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent hadnt aint shant mustnt neednt
    without hardly
    barely rarely seldom""".split()
)

BOOSTERS = {
    # increase intensity
    "absolutely": BOOST, "amazingly": BOOST, "completely": BOOST, "deeply": BOOST,
    "enormously": BOOST, "entirely": BOOST, "especially": BOOST, "exceptionally": BOOST,
    "extremely": BOOST, "fully": BOOST, "greatly": BOOST, "highly": BOOST, "hugely": BOOST,
    "incredibly": BOOST, "insanely": BOOST, "intensely": BOOST, "majorly": BOOST, "more": BOOST,
    "most": BOOST, "particularly": BOOST, "purely": BOOST, "quite": BOOST, "really": BOOST,
    "remarkably": BOOST, "so": BOOST, "substantially": BOOST, "thoroughly": BOOST,
    "totally": BOOST, "tremendously": BOOST, "truly": BOOST, "unbelievably": BOOST,
    "utterly": BOOST, "very": BOOST, "super": BOOST, "too": BOOST,
    # decrease intensity
    "almost": -BOOST, "barely": -BOOST, "hardly": -BOOST, "kinda": -BOOST, "less": -BOOST,
    "little": -BOOST, "marginally": -BOOST, "occasionally": -BOOST, "partly": -BOOST,
    "slightly": -BOOST, "somewhat": -BOOST, "sorta": -BOOST, "fairly": -BOOST,
    "mildly": -BOOST, "rather": -BOOST,
}

_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z'\-]*|[!?]")


def load_lexicon(path=None):
    """Reads `word<TAB>valence` lines; '#' starts a comment line."""
    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lexicon.txt")
    lexicon = {}
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 2:
                raise ValueError("%s:%d: expected 'word<TAB>valence', got %r" % (path, number, line))
            lexicon[parts[0].lower()] = float(parts[1])
    return lexicon


def _normalise(word):
    word = word.lower().replace("\u2019", "'")
    if word.endswith("n't"):
        return word.replace("'", "")
    return word.strip("'-")


class SentimentModel:
    def __init__(self, lexicon=None):
        self.lexicon = lexicon if lexicon is not None else load_lexicon()

    def analyse(self, text):
        raw_tokens = _TOKEN_RE.findall(text)
        words = [t for t in raw_tokens if t not in ("!", "?")]
        exclamations = min(raw_tokens.count("!"), 4)
        lowered = [_normalise(w) for w in words]
        letters = [c for c in text if c.isalpha()]
        mixed_case = bool(letters) and not all(c.isupper() for c in letters)

        valences = []
        matched = []
        for i, word in enumerate(lowered):
            valence = self.lexicon.get(word)
            if valence is None or word in BOOSTERS:
                valences.append(0.0)
                continue
            if mixed_case and words[i].isupper() and len(words[i]) > 1:
                valence += CAPS_BOOST if valence > 0 else -CAPS_BOOST
            for distance in (1, 2, 3):
                j = i - distance
                if j < 0:
                    break
                scalar = BOOSTERS.get(lowered[j])
                if scalar is not None:
                    scalar *= (1.0, 0.95, 0.9)[distance - 1]
                    valence += scalar if valence > 0 else -scalar
            if any(self._negates(lowered[j]) for j in range(max(0, i - 3), i)):
                valence *= NEGATION_SCALAR
            valences.append(valence)
            matched.append({"word": word, "valence": round(valence, 3)})

        if "but" in lowered:
            pivot = lowered.index("but")
            valences = [v * (0.5 if k < pivot else 1.5 if k > pivot else 1.0) for k, v in enumerate(valences)]

        total = sum(valences)
        if total and exclamations:
            total += exclamations * 0.292 * (1 if total > 0 else -1)
        compound = total / math.sqrt(total * total + ALPHA) if total else 0.0

        pos = sum(v + 1 for v in valences if v > 0)
        neg = sum(abs(v) + 1 for v in valences if v < 0)
        neu = sum(1 for w, v in zip(lowered, valences) if v == 0)
        whole = pos + neg + neu
        proportions = (pos / whole, neg / whole, neu / whole) if whole else (0.0, 0.0, 1.0)

        if compound >= POSITIVE_THRESHOLD:
            label = "positive"
        elif compound <= NEGATIVE_THRESHOLD:
            label = "negative"
        else:
            label = "neutral"
        return {
            "label": label,
            "score": round(compound, 4),
            "compound": round(compound, 4),
            "positive": round(proportions[0], 3),
            "negative": round(proportions[1], 3),
            "neutral": round(proportions[2], 3),
            "matched": matched,
        }

    @staticmethod
    def _negates(word):
        # _normalise turns "don't" into "dont", so contractions are plain set members.
        return word in NEGATIONS
