"""A loopback stub of the Prometheus HTTP API's instant query endpoint (``/api/v1/query``, GET or POST).

Answers are chosen per query by substring: ``answer("http_requests_total", 0.4)`` makes every query that
contains ``http_requests_total`` return a one-sample vector of 0.4. ``when`` may be a tuple of substrings
that must all occur. The most recently added matching answer wins; a query that matches nothing gets an
empty vector (no data) unless ``default`` is set. Every query is kept in ``queries``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

Samples = float | str | list[tuple[dict[str, str], float | str]] | None


@dataclass
class Answer:
    when: tuple[str, ...]
    samples: Samples = None  # None: empty vector; a number: one unlabelled sample; a list: labelled series
    scalar: bool = False  # answer with resultType scalar instead of vector
    result_type: str | None = None  # force another resultType, e.g. "matrix"
    error: tuple[str, str] | None = None  # (errorType, error): a Prometheus "status: error" body
    status: int = 200
    raw: str | None = None  # a body sent as is (e.g. not JSON)
    delay: float = 0.0

    def matches(self, query: str) -> bool:
        return all(part in query for part in self.when)


def _value(value: float | str) -> str:
    return value if isinstance(value, str) else repr(float(value))


@dataclass
class FakePrometheus(LoopbackServer):
    answers: list[Answer] = field(default_factory=list)
    default: Answer | None = None
    delay: float = 0.0
    queries: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)

    def answer(self, when: str | tuple[str, ...], samples: Samples = None, **options: Any) -> FakePrometheus:
        self.answers.append(Answer((when,) if isinstance(when, str) else tuple(when), samples, **options))
        return self

    def fail(
        self, when: str | tuple[str, ...] = "", error_type: str = "bad_data", error: str = "parse error", status: int = 400
    ) -> FakePrometheus:
        return self.answer(when, error=(error_type, error), status=status)

    def reset(self) -> None:
        self.answers.clear()
        self.queries.clear()
        self.methods.clear()

    def routes(self, app: web.Application) -> None:
        app.router.add_route("GET", "/api/v1/query", self._query)
        app.router.add_route("POST", "/api/v1/query", self._query)

    async def _query(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            params.update(await request.post())
        query = str(params.get("query", ""))
        self.queries.append(query)
        self.methods.append(request.method)
        answer = next((a for a in reversed(self.answers) if a.matches(query)), self.default) or Answer(())
        if self.delay or answer.delay:
            await asyncio.sleep(self.delay or answer.delay)
        if answer.raw is not None:
            return web.Response(status=answer.status, text=answer.raw)
        if not query:
            body: dict[str, Any] = {"status": "error", "errorType": "bad_data", "error": 'invalid parameter "query"'}
            return web.Response(status=400, text=json.dumps(body), content_type="application/json")
        if answer.error is not None:
            body = {"status": "error", "errorType": answer.error[0], "error": answer.error[1]}
            return web.Response(status=answer.status, text=json.dumps(body), content_type="application/json")
        now = time.time()
        if answer.scalar:
            data: dict[str, Any] = {"resultType": "scalar", "result": [now, _value(answer.samples)]}  # type: ignore[arg-type]
        else:
            if answer.samples is None:
                series: list[tuple[dict[str, str], float | str]] = []
            elif isinstance(answer.samples, list):
                series = answer.samples
            else:
                series = [({}, answer.samples)]
            data = {
                "resultType": answer.result_type or "vector",
                "result": [{"metric": labels, "value": [now, _value(v)]} for labels, v in series],
            }
        body = {"status": "success", "data": data}
        return web.Response(status=answer.status, text=json.dumps(body), content_type="application/json")
