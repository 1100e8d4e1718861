"""Runs the emulator on its own: `python -m bot.playground --port 3333 --bot-url http://127.0.0.1:3000/slack/events`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os

from bot.playground.emulator import SlackEmulator

logger = logging.getLogger(__name__)


async def serve(host: str, port: int, bot_url: str | None) -> None:
    emulator = SlackEmulator(
        signing_secret=os.environ.get("SLACK_SIGNING_SECRET", "s3cret"),
        bot_token=os.environ.get("SLACK_BOT_TOKEN", "xoxb-playground"),
        bot_url=bot_url,
    )
    await emulator.start(host=host, port=port)
    logger.info("Playground page: %s/  Web API for the bot: %s", emulator.base_url, emulator.api_url)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.playground", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3333)
    parser.add_argument("--bot-url", default=os.environ.get("PLAYGROUND_BOT_URL"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.bot_url))


if __name__ == "__main__":
    main()
