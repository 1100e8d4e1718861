"""OpsPilot's domain: intake, planning engine, agents, tools, validation, approvals, execution, audit.

Nothing in this package knows about Slack; fronts (the Slack bot, the CLI, the REST API)
call :class:`core.service.OpsPilot` and subscribe to :mod:`core.events`.
"""
