"""Train the intent model at startup, once per corpus: cached in memory, and on disk keyed by the corpus digest.

The disk cache (``$OPSPILOT_CACHE_DIR``, else ``$XDG_CACHE_HOME/opspilot``, else ``~/.cache/opspilot``) saves the
second or so of training on every later start (``opspilot plan`` runs in a fresh process each time). A cache that
cannot be read or written is ignored: the model is trained again.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from core.intents.corpus import Corpus, load_corpus
from core.intents.model import FORMAT, IntentModel, TrainingSettings

logger = logging.getLogger(__name__)

SETTINGS = TrainingSettings(epochs=5, learning_rate=2.0, skip_below=0.01)
KEEP_CACHED = 3  # models kept in the disk cache (about 2 MB each)
_MEMORY: dict[str, IntentModel] = {}
_LOCK = threading.Lock()


def cache_dir() -> Path | None:
    explicit = os.environ.get("OPSPILOT_CACHE_DIR")
    if explicit is not None:
        return Path(explicit) if explicit.strip() else None  # an empty value turns the disk cache off
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "opspilot"


def model_key(corpus: Corpus) -> str:
    return f"{corpus.digest[:24]}-f{FORMAT}-e{SETTINGS.epochs}"


def trained_model(extra: Iterable[Path] = (), *, corpus: Corpus | None = None, use_disk: bool = True) -> IntentModel:
    """The model for the shipped corpus plus ``extra`` files; trains at most once per process per corpus."""
    corpus = corpus or load_corpus(extra)
    key = model_key(corpus)
    with _LOCK:
        cached = _MEMORY.get(key)
        if cached is not None:
            return cached
        folder = cache_dir() if use_disk else None
        model = _from_disk(folder, key) if folder is not None else None
        if model is None:
            started = time.perf_counter()
            model = IntentModel.train(corpus.pairs(), SETTINGS)
            logger.info(
                "intents: trained on %d asks (%d features) in %.2fs",
                len(corpus.examples),
                len(model.vocabulary),
                time.perf_counter() - started,
            )
            if folder is not None:
                _to_disk(folder, key, model)
        _MEMORY[key] = model
        return model


def _path(folder: Path, key: str) -> Path:
    return folder / f"intents-{key}.json"


def _from_disk(folder: Path, key: str) -> IntentModel | None:
    path = _path(folder, key)
    try:
        started = time.perf_counter()
        model = IntentModel.from_document(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("intents: ignoring the cached model %s (%s); training again", path, exc)
        return None
    logger.info("intents: model loaded from %s in %.2fs", path, time.perf_counter() - started)
    return model


def _to_disk(folder: Path, key: str, model: IntentModel) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False, encoding="utf-8") as handle:
            json.dump(model.to_document(), handle, separators=(",", ":"))
        Path(handle.name).replace(_path(folder, key))
        # Keep the few latest models (one per corpus a deployment went through), not one per corpus edit forever.
        older = sorted(folder.glob("intents-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP_CACHED:]
        for path in older:
            path.unlink(missing_ok=True)
    except OSError as exc:
        logger.info("intents: cannot cache the model in %s (%s); it is trained at each start", folder, exc)
