"""Local Slack workspace emulator for OpsPilot: the playground web page and the end-to-end test fixture.

See `bot.playground.emulator` for the API.
"""
