# Golden images: promote only images that passed validation and security scans, and never
# straight from the build into production.
# Applies to changes with action "promote" (image_plan). Evidence lives in change.details:
#   {"validation": "passed", "scan": "passed", "critical_vulnerabilities": 0, "source": "staging", "target": "production"}
package opspilot.image_safety

changes := object.get(input.plan, ["payload", "changes"], [])

promotions contains change if {
	some change in changes
	change.action in {"promote", "promote_image"}
}

image(change) := sprintf("%s %s", [object.get(change, "image", change.asset_id), object.get(change, "to_version", "(no version)")])

detail(change, key, default_value) := object.get(change, ["details", key], default_value)

target(change) := detail(change, "target", input.environment)

deny contains msg if {
	some change in promotions
	status := detail(change, "validation", "missing")
	status != "passed"
	msg := sprintf("Image %s has not passed validation (validation: %s); validate it, then promote it.", [image(change), status])
}

deny contains msg if {
	some change in promotions
	status := detail(change, "scan", "missing")
	status != "passed"
	msg := sprintf("Image %s has not passed its security scan (scan: %s); scan it and fix the findings before promoting.", [image(change), status])
}

deny contains msg if {
	some change in promotions
	critical := detail(change, "critical_vulnerabilities", 0)
	critical > 0
	msg := sprintf("Image %s has %d critical vulnerabilities; rebuild it with patched packages before promoting.", [image(change), critical])
}

deny contains msg if {
	some change in promotions
	target(change) in {"production", "all"}
	source := detail(change, "source", "build")
	source == "build"
	msg := sprintf("Image %s would go to production straight from the build; promote it to staging first and let it run there.", [image(change)])
}

warn contains msg if {
	some change in promotions
	target(change) in {"production", "all"}
	detail(change, "source", "build") == "development"
	msg := sprintf("Image %s goes to production from development, skipping staging.", [image(change)])
}
