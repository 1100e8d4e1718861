"""Log setup: text or JSON lines, the task/plan/run ids in context, and secrets masked.

    with bind(run_id=run.id):          # every record logged inside carries run_id
        add(plan_id=plan.id)           # more ids, undone when the enclosing bind() exits
        logger.info("phase %d started", 1)

``setup_logging(log_format, level)`` installs one stderr handler on the root logger: ``text``
(the default, ``%(asctime)s %(levelname)s %(name)s: %(message)s``) or ``json`` (one object per
line: ``time`` in ISO-8601 UTC, ``level``, ``logger``, ``message``, ``exception`` when there is
one, and ``task_id`` / ``plan_id`` / ``run_id`` when bound). Both formats pass through
``RedactionFilter``: Slack tokens, ``Bearer`` tokens, passwords in URLs and the values of the
secret environment variables never reach the output.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO

from core.errors import ConfigError

IDS = ("task_id", "plan_id", "run_id")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SECRET_ENV_VARS = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SMTP_PASSWORD",
    "OPSPILOT_WEBHOOK_SECRET",
    "ANTHROPIC_API_KEY",
)
MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words

_NO_IDS: Mapping[str, str] = MappingProxyType({})
_ids: ContextVar[Mapping[str, str]] = ContextVar("opspilot_log_ids", default=_NO_IDS)

# xoxb-/xoxp-/xoxa-/xoxe-/xoxe.xoxp- (rotating) and xapp- tokens: keep the prefix, drop the secret.
_SLACK_TOKEN = re.compile(r"\b(xox[a-z](?:\.xox[a-z])?-|xapp-)[A-Za-z0-9-]+")
_BEARER = re.compile(r"\b(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+@", re.IGNORECASE)


# -- ids in context ---------------------------------------------------------------------------


@contextmanager
def bind(**ids: str | None) -> Iterator[None]:
    """Records logged inside carry these ids (None values are skipped); restored on exit."""
    token = _ids.set({**_ids.get(), **_clean(ids)})
    try:
        yield
    finally:
        _ids.reset(token)


def add(**ids: str | None) -> None:
    """Add ids to the current context; an enclosing ``bind()`` removes them again when it exits."""
    _ids.set({**_ids.get(), **_clean(ids)})


def current_ids() -> dict[str, str]:
    return dict(_ids.get())


def _clean(ids: Mapping[str, str | None]) -> dict[str, str]:
    unknown = set(ids) - set(IDS)
    if unknown:
        raise TypeError(f"unknown log id(s) {', '.join(sorted(unknown))}; known: {', '.join(IDS)}")
    return {key: str(value) for key, value in ids.items() if value is not None}


class ContextFilter(logging.Filter):
    """Sets ``task_id``, ``plan_id`` and ``run_id`` on every record (None when not bound)."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _ids.get()
        for key in IDS:
            if getattr(record, key, None) is None:
                setattr(record, key, bound.get(key))
        return True


# -- secrets ----------------------------------------------------------------------------------


def secrets_from_env(env: Mapping[str, str]) -> list[str]:
    """Values of the secret variables, and the tokens of ``OPSPILOT_API_TOKENS`` (``token=USER,…``)."""
    values = [env.get(name) or "" for name in SECRET_ENV_VARS]
    for pair in (env.get("OPSPILOT_API_TOKENS") or "").split(","):
        values.append(pair.partition("=")[0].strip())
    return [v for v in values if len(v) >= MIN_SECRET_LENGTH]


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _SLACK_TOKEN.sub(lambda m: m.group(1) + MASK, text)
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
        return _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", text)


class RedactionFilter(logging.Filter):
    """Masks secrets in the formatted message and in the exception text, for every format."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format: let the handler report it as usual
            return True
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


# -- formats ----------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in IDS:
            value = getattr(record, key, None)
            if value is not None:
                document[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return json.dumps(document, ensure_ascii=False, default=str)


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


# -- setup ------------------------------------------------------------------------------------


def check_log_format(value: str | None) -> str:
    log_format = (value or "text").strip().lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {value!r}")
    return log_format


def check_log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL (or --log-level) must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (it may be swapped, e.g. by tests)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def setup_logging(
    log_format: str | None = None,
    level: str = "WARNING",
    *,
    env: Mapping[str, str] | None = None,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Install OpsPilot's handler on the root logger (replacing one installed before) and return it.

    Raises ConfigError for a ``log_format`` or ``level`` that is not one of the allowed values.
    """
    env = os.environ if env is None else env
    log_format = check_log_format(log_format)
    level = check_log_level(level)
    handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.set_name("opspilot")
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactionFilter(Redactor(secrets_from_env(env))))
    handler.setFormatter(formatter_for(log_format))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "opspilot"]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    return handler
