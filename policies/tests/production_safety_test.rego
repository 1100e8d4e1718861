package opspilot.production_safety_test

import data.opspilot.production_safety

checks := [{"type": "error_rate", "threshold": "< 1%"}]

phase(name, assets) := {"name": name, "assets": assets, "health_checks": checks, "rollback_if": "error_rate > 1%"}

ten := [sprintf("web-%d", [i]) | some i in numbers.range(1, 10)]

plan(phases) := {"type": "drift_plan", "payload": {"summary": "s", "affected_assets": ten, "phases": phases}}

good_phases := [
	phase("Canary", array.slice(ten, 0, 1)),
	phase("Wave 1", array.slice(ten, 1, 3)),
	phase("Wave 2", array.slice(ten, 3, 5)),
	phase("Wave 3", array.slice(ten, 5, 7)),
	phase("Wave 4", array.slice(ten, 7, 9)),
	phase("Wave 5", array.slice(ten, 9, 10)),
]

production(phases) := {"plan": plan(phases), "environment": "production", "total_assets": 10, "stage": "plan", "config": {"change_windows": []}}

test_canary_first_small_watched_phases_are_allowed if {
	count(production_safety.deny) == 0 with input as production(good_phases)
}

test_first_phase_must_be_a_canary if {
	some msg in production_safety.deny with input as production(array.concat([phase("Wave 0", ["web-1"])], array.slice(good_phases, 1, 6)))
	contains(msg, "must start with a canary phase")
}

test_phase_over_twenty_percent_is_denied if {
	phases := [phase("Canary", ["web-1"]), phase("Big", array.slice(ten, 1, 10))]
	some msg in production_safety.deny with input as production(phases)
	contains(msg, "changes 9 of 10 assets")
}

test_single_asset_phases_are_always_small_enough if {
	three := {"plan": {"payload": {"summary": "s", "affected_assets": ["a", "b", "c"], "phases": [
		phase("Canary", ["a"]), phase("Wave 1", ["b"]), phase("Wave 2", ["c"]),
	]}}, "environment": "production", "total_assets": 3}
	count(production_safety.deny) == 0 with input as three
}

test_phase_without_health_checks_or_rollback_is_denied if {
	bare := {"name": "Wave 1", "assets": ["web-2"]}
	denials := production_safety.deny with input as production([phase("Canary", ["web-1"]), bare])
	some health in denials
	contains(health, "has no health checks")
	some rollback in denials
	contains(rollback, "has no rollback condition")
}

test_staging_is_not_held_to_production_rules if {
	staging := object.union(production([phase("Everything", ten)]), {"environment": "staging"})
	count(production_safety.deny) == 0 with input as staging
}

test_run_outside_change_window_is_denied if {
	windowed := object.union(production(good_phases), {
		"stage": "run", "weekday": "Tuesday", "minute_of_day": 600, "clock": "10:00",
		"config": {"change_windows": [{"label": "sat-sun 00:00-06:00 UTC", "days": ["Saturday", "Sunday"], "start_minute": 0, "end_minute": 360}]},
	})
	some msg in production_safety.deny with input as windowed
	contains(msg, "inside a change window")
}

test_run_inside_overnight_window_is_allowed if {
	windowed := object.union(production(good_phases), {
		"stage": "run", "weekday": "Saturday", "minute_of_day": 30, "clock": "00:30",
		"config": {"change_windows": [{"label": "sat 22:00-02:00 UTC", "days": ["Saturday"], "start_minute": 1320, "end_minute": 120}]},
	})
	count(production_safety.deny) == 0 with input as windowed
}
