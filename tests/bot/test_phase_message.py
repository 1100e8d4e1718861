"""The thread's "Phase completed" line for drivers that act on hosts (ansible): counts per outcome, failed hosts."""

from __future__ import annotations

from bot.messages import phase_completed


def test_the_thread_line_shows_host_counts_and_failed_hosts() -> None:
    text = phase_completed(1, 3, "Wave 1", 3, {}, None, {"ok": 1, "changed": 2, "failed": 1}, ("web-3: failed: task 'X': boom",))

    assert "ok 1 · changed 2 · failed 1 · unreachable 0" in text
    assert text.endswith("\n• web-3: failed: task 'X': boom")


def test_without_host_outcomes_the_line_keeps_the_changed_count() -> None:
    assert "completed: 5 changed · error_rate 0.1%" in phase_completed(0, 2, "Canary", 5, {"error_rate": 0.1}, None)
