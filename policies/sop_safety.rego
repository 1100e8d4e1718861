# Standard operating procedures: destructive commands need a person to confirm, retries are bounded.
# Applies to any plan with payload.steps.
package opspilot.sop_safety

steps := object.get(input.plan, ["payload", "steps"], [])

max_retries := object.get(input, ["config", "max_step_retries"], 5)

# What makes a command destructive, by the name shown in the message.
destructive := {
	"rm -r": `(^|[\s;&|(])rm\s+(-[a-zA-Z]*[rRf]|--recursive|--force)`,
	"find -delete": `\bfind\b.*\s-delete\b`,
	"kill": `\b(kill|killall|pkill)\b`,
	"revoke": `(?i)\brevoke\b`,
	"DROP": `(?i)\bdrop\s+(table|database|schema|index)\b`,
	"TRUNCATE": `(?i)\btruncate\s+`,
	"DELETE without WHERE": `(?i)\bdelete\s+from\s+[\w."]+\s*(;|$)`,
	"mkfs": `\bmkfs(\.\w+)?\b`,
	"dd to a device": `\bdd\b.*\bof=/dev/`,
	"terraform destroy": `\bterraform\s+destroy\b`,
	"kubectl delete": `\bkubectl\s+delete\b`,
	"shutdown or reboot": `\b(shutdown|reboot|poweroff|halt)\b`,
	"cloud delete or terminate": `\b(aws|gcloud|az)\b.*\b(delete|terminate|rb)\b`,
}

destructive_kinds(step) := {kind |
	some kind, pattern in destructive
	regex.match(pattern, step.command)
}

confirmed(step) if step.requires_confirmation == true

confirmed(step) if {
	some name in object.get(step, "depends_on", [])
	some other in steps
	other.name == name
	other.requires_confirmation == true
}

deny contains msg if {
	some i, step in steps
	kinds := destructive_kinds(step)
	count(kinds) > 0
	not confirmed(step)
	msg := sprintf("Step %d '%s' runs a destructive command (%s) without a confirmation step: set requires_confirmation: true on it, or make it depend on a step that asks a person to confirm.", [i + 1, step.name, concat(", ", sort(kinds))])
}

deny contains msg if {
	some i, step in steps
	step.retries > max_retries
	msg := sprintf("Step %d '%s' retries %d times; at most %d retries are allowed. Lower retries, or fix what makes the step fail.", [i + 1, step.name, step.retries, max_retries])
}

warn contains msg if {
	some i, step in steps
	step.retries > 0
	not step.timeout
	msg := sprintf("Step %d '%s' retries without a timeout; set timeout so every attempt is bounded in time.", [i + 1, step.name])
}
