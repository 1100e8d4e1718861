"""How fast OpsPilot answers Slack: the ack (Slack's limit is 3 s) and the time until the card is posted.

Runs the real bot (HTTP mode, Bolt) against the loopback Slack emulator on the embedded defaults, then
again with a fleet ten times larger, side by side in one run.

    .venv/bin/python bench/slack_latency.py [--asks 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.playground.emulator import APPROVER_1, APPROVER_2, OPS_CHANNEL, REQUESTER, SlackEmulator
from bot.server import start
from core.config import load_config
from core.paths import SAMPLE_DATA_DIR

SECRET, TOKEN = "bench-secret", "xoxb-bench"


def bigger_fleet(folder: Path, factor: int) -> Path:
    fleet = yaml.safe_load((SAMPLE_DATA_DIR / "fleet.yaml").read_text())
    assets = [{**a, "id": f"{a['id']}-{n}"} for n in range(factor) for a in fleet["assets"]]
    path = folder / f"fleet-x{factor}.yaml"
    path.write_text(yaml.safe_dump({"golden_images": fleet["golden_images"], "assets": assets}))
    return path


async def measure(folder: Path, fleet: Path, asks: int) -> dict[str, list[float]]:
    emulator = SlackEmulator(signing_secret=SECRET, bot_token=TOKEN)
    await emulator.start()
    config = load_config(
        env={
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": emulator.api_url,
            "DATABASE_URL": f"sqlite:///{folder / (fleet.stem + '.db')}",
        }
    )
    config.approvers = [APPROVER_1, APPROVER_2]
    config.inventory.path = fleet
    bot = await start(config, port=0, mode="http")
    emulator.bot_url = f"{bot.url}/slack/events"
    acks, cards = [], []
    try:
        for _ in range(asks):
            before = len(emulator.messages(OPS_CHANNEL))
            started = time.perf_counter()
            delivery = await emulator.send_slash_command(REQUESTER, OPS_CHANNEL, "/ops", "fix drift on prod web servers")
            acks.append(time.perf_counter() - started)
            assert delivery.status == 200
            await emulator.wait_for(lambda: len(emulator.messages(OPS_CHANNEL)) > before, timeout=30)
            cards.append(time.perf_counter() - started)
    finally:
        await bot.stop()
        await emulator.stop()
    return {"ack": acks, "card": cards}


def describe(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (
        f"{name:<5} p50 {statistics.median(values) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms"
    )


async def main(asks: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = {"sample fleet (84 assets)": SAMPLE_DATA_DIR / "fleet.yaml", "10x fleet (840 assets)": bigger_fleet(folder, 10)}
        results = {label: await measure(folder, path, asks) for label, path in runs.items()}
    for label, figures in results.items():
        print(f"{label}, {asks} asks of '/ops fix drift on prod web servers':")
        print("  " + describe("ack", figures["ack"]))
        print("  " + describe("card", figures["card"]))
    base, big = (statistics.median(r["card"]) for r in results.values())
    print(f"card time ratio 10x fleet / sample fleet: {big / base:.2f}")
    print("Slack's ack limit is 3000 ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--asks", type=int, default=30)
    asyncio.run(main(parser.parse_args().asks))
