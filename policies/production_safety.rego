# Production changes roll out canary first, in small watched phases, inside change windows.
# Applies to plans for production (or "all" environments) that change assets in phases.
package opspilot.production_safety

max_phase_percent := 20

production if input.environment in {"production", "all"}

phases := object.get(input.plan, ["payload", "phases"], [])

affected := object.get(input.plan, ["payload", "affected_assets"], [])

report_only if input.plan.payload.report_only == true

rollout if {
	production
	not report_only
	count(phases) > 0
}

# A single asset is always a small enough phase, whatever the total.
largest_phase := max([1, floor((input.total_assets * max_phase_percent) / 100)])

deny contains msg if {
	production
	not report_only
	count(phases) == 0
	count(affected) > 0
	msg := sprintf("The plan changes %d production asset(s) without phases; roll out in phases, a small canary first.", [count(affected)])
}

deny contains msg if {
	rollout
	not canary(phases[0])
	msg := sprintf("Production changes must start with a canary phase; the first phase is '%s'. Add a small phase named 'Canary' first (at most 10%% of the assets).", [phases[0].name])
}

deny contains msg if {
	rollout
	some i, phase in phases
	count(phase.assets) > largest_phase
	msg := sprintf("Phase %d '%s' changes %d of %d assets (%d%%); a production phase may change at most %d%% (%d here). Split it into smaller waves.", [i + 1, phase.name, count(phase.assets), input.total_assets, round((count(phase.assets) * 100) / input.total_assets), max_phase_percent, largest_phase])
}

deny contains msg if {
	rollout
	some i, phase in phases
	count(object.get(phase, "health_checks", [])) == 0
	msg := sprintf("Phase %d '%s' has no health checks; add at least one (e.g. error_rate below 1%%) so a bad phase is caught before the next one.", [i + 1, phase.name])
}

deny contains msg if {
	rollout
	some i, phase in phases
	not has_rollback(phase)
	msg := sprintf("Phase %d '%s' has no rollback condition; set rollback_if, e.g. 'error_rate > 1%%'.", [i + 1, phase.name])
}

deny contains msg if {
	rollout
	input.stage == "run"
	outside_windows
	msg := sprintf("Production runs may only start inside a change window (%s); it is %s %s UTC. Ask again inside a window: an approved plan cannot be re-approved.", [window_labels, input.weekday, input.clock])
}

warn contains msg if {
	rollout
	input.stage == "plan"
	outside_windows
	msg := sprintf("It is outside every change window now (%s): a run approved before the window opens will refuse to start.", [window_labels])
}

canary(phase) if contains(lower(phase.name), "canary")

has_rollback(phase) if trim_space(object.get(phase, "rollback_if", "")) != ""

windows := object.get(input, ["config", "change_windows"], [])

window_labels := concat(", ", [w.label | some w in windows])

outside_windows if {
	count(windows) > 0
	not in_window
}

in_window if {
	some w in windows
	input.weekday in w.days
	within(w, input.minute_of_day)
}

within(w, minute) if {
	w.start_minute < w.end_minute
	minute >= w.start_minute
	minute < w.end_minute
}

within(w, minute) if {
	w.start_minute > w.end_minute
	minute >= w.start_minute
}

within(w, minute) if {
	w.start_minute > w.end_minute
	minute < w.end_minute
}
