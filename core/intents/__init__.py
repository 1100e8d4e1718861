"""Understanding asks without a language model: an intent model learnt from a corpus of labelled asks, and the
entities an ask names (environment, services, regions, CVE ids, images, time ranges...)."""

from core.intents.corpus import AGENTS, LABELS, NONE, Corpus, load_corpus
from core.intents.entities import Entities, TimeRange, extract
from core.intents.lexicon import Lexicon
from core.intents.reader import Alternative, Choice, IntentReader, Reading, build_reader, default_reader

__all__ = [
    "AGENTS",
    "LABELS",
    "NONE",
    "Alternative",
    "Choice",
    "Corpus",
    "Entities",
    "IntentReader",
    "Lexicon",
    "Reading",
    "TimeRange",
    "build_reader",
    "default_reader",
    "extract",
    "load_corpus",
]
