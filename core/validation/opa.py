from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from core.errors import PolicyError
from core.validation.evaluator import ROOT_PACKAGE, PackageVerdict, PolicyEvaluator, verdicts_from_tree

logger = logging.getLogger(__name__)


class OpaEvaluator(PolicyEvaluator):
    """Evaluates against a remote OPA server: ``POST /v1/data/opspilot`` with ``{"input": …}``.

    The server holds the policies (load the same ``policies/`` directory into it). One request
    answers for every package; when OPA cannot answer, the whole evaluation fails and so denies.
    """

    def __init__(self, url: str, *, timeout_seconds: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.description = f"OPA at {self.url}"

    @property
    def endpoint(self) -> str:
        return f"{self.url}/v1/data/{ROOT_PACKAGE.replace('.', '/')}"

    async def evaluate(self, document: Mapping[str, Any]) -> list[PackageVerdict]:
        try:
            async with (
                aiohttp.ClientSession(timeout=self.timeout) as session,
                session.post(self.endpoint, json={"input": document}) as response,
            ):
                body = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise PolicyError(f"OPA at {self.url} did not answer: {exc or type(exc).__name__}") from exc
        if status != 200:
            detail = body.get("message") if isinstance(body, dict) else None
            raise PolicyError(f"OPA at {self.url} answered HTTP {status}: {detail or body}")
        if not isinstance(body, dict) or "result" not in body:
            raise PolicyError(
                f"OPA at {self.url} has no policies under data.{ROOT_PACKAGE}; load the policies/ directory into it"
            )
        verdicts = verdicts_from_tree(body["result"])
        if not verdicts:
            raise PolicyError(f"OPA at {self.url} has no package under data.{ROOT_PACKAGE} with deny or warn rules")
        return verdicts
