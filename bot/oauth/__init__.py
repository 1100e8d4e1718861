"""Slack OAuth mode (many workspaces): Bolt's install flow over OpsPilot's own database (docs/slack-oauth.md)."""
