"""Reading an ask: which agent (with an honest confidence and the runners-up) and what it names."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.clock import SYSTEM_CLOCK, Clock
from core.intents.corpus import NONE
from core.intents.entities import Entities, extract
from core.intents.lexicon import Lexicon
from core.intents.model import IntentModel
from core.intents.training import trained_model
from core.inventory.fleet import load_fleet
from core.paths import SAMPLE_DATA_DIR

DEFAULT_MIN_CONFIDENCE = 0.55
MAX_ALTERNATIVES = 3


@dataclass(frozen=True)
class Alternative:
    agent: str
    confidence: float


@dataclass(frozen=True)
class Choice:
    """One reading offered back to the person ("Investigate an incident on payments (production)?")."""

    agent: str
    label: str
    confidence: float


@dataclass(frozen=True)
class Reading:
    agent: str  # an agent name, or "none" for something OpsPilot does not do
    confidence: float
    alternatives: tuple[Alternative, ...]  # the next most likely readings, most likely first
    entities: Entities
    min_confidence: float = DEFAULT_MIN_CONFIDENCE

    @property
    def clear(self) -> bool:
        return self.confidence >= self.min_confidence

    @property
    def out_of_scope(self) -> bool:
        return self.agent == NONE

    def likely_agents(self, limit: int = 3, floor: float = 0.08) -> list[Alternative]:
        """The agents worth offering when the reading is unclear: the top ones above ``floor``, "none" left out."""
        ranked = [Alternative(self.agent, self.confidence), *self.alternatives]
        return [a for a in ranked if a.agent != NONE and a.confidence >= floor][:limit]

    def to_document(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "confidence": round(self.confidence, 3),
            "alternatives": [{"agent": a.agent, "confidence": round(a.confidence, 3)} for a in self.alternatives],
            "entities": self.entities.to_document(),
        }


class IntentReader:
    def __init__(
        self,
        model: IntentModel,
        lexicon: Lexicon,
        *,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.model = model
        self.lexicon = lexicon
        self.min_confidence = min_confidence
        self.clock = clock

    def read(self, text: str, now: datetime | None = None) -> Reading:
        prediction = self.model.predict(text)
        alternatives = tuple(Alternative(label, p) for label, p in prediction.ranked[1 : 1 + MAX_ALTERNATIVES])
        return Reading(
            agent=prediction.label,
            confidence=prediction.confidence,
            alternatives=alternatives,
            entities=extract(text, self.lexicon, now or self.clock.now()),
            min_confidence=self.min_confidence,
        )

    def with_lexicon(self, lexicon: Lexicon) -> IntentReader:
        return IntentReader(self.model, lexicon, min_confidence=self.min_confidence, clock=self.clock)


def build_reader(
    extra_corpus: Sequence[Path] = (),
    *,
    lexicon: Lexicon | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    clock: Clock = SYSTEM_CLOCK,
) -> IntentReader:
    """Train (or reuse) the model for the shipped corpus plus ``extra_corpus``; CPU-bound, so run it off the loop."""
    return IntentReader(trained_model(extra_corpus), lexicon or sample_lexicon(), min_confidence=min_confidence, clock=clock)


@functools.cache
def sample_lexicon() -> Lexicon:
    """Names from the shipped sample data: what a reader knows before it is given the real inventory."""
    return Lexicon.build(load_fleet(SAMPLE_DATA_DIR / "fleet.yaml"), SAMPLE_DATA_DIR)


@functools.cache
def default_reader() -> IntentReader:
    return build_reader()
