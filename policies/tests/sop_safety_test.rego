package opspilot.sop_safety_test

import data.opspilot.sop_safety

sop(steps) := {"plan": {"type": "sop", "payload": {"summary": "s", "steps": steps}}, "config": {"max_step_retries": 3}}

test_destructive_step_without_confirmation_is_denied if {
	some msg in sop_safety.deny with input as sop([{"name": "wipe", "command": "rm -rf /var/cache/app"}])
	contains(msg, "destructive command (rm -r)")
}

test_destructive_step_with_confirmation_is_allowed if {
	count(sop_safety.deny) == 0 with input as sop([{"name": "wipe", "command": "rm -rf /var/cache/app", "requires_confirmation": true}])
}

test_confirmation_step_before_destructive_step_counts if {
	steps := [
		{"name": "confirm", "description": "Ask the on-call to confirm", "requires_confirmation": true},
		{"name": "drop", "command": "psql -c 'DROP TABLE sessions'", "depends_on": ["confirm"]},
	]
	count(sop_safety.deny) == 0 with input as sop(steps)
}

test_unbounded_retries_are_denied if {
	some msg in sop_safety.deny with input as sop([{"name": "poll", "command": "curl -f http://svc/health", "retries": 10, "timeout": "1m"}])
	contains(msg, "retries 10 times; at most 3")
}

test_retries_without_timeout_warn if {
	some msg in sop_safety.warn with input as sop([{"name": "poll", "command": "curl -f http://svc/health", "retries": 2}])
	contains(msg, "without a timeout")
}
