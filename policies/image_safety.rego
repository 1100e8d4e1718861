# Golden images: promote only images that passed validation and security scans, and never
# straight from the build into production.
# Applies to changes with action "promote" (image_plan). Evidence lives in change.details:
#   {"validation": "passed", "scan": "passed", "critical_vulnerabilities": 0, "source": "staging", "target": "production"}
# validation may also be the validate tool's result ({"passed": true, ...}) and scan its counts
# ({"critical": 0, "high": 0, ...}); source is where the version comes from: build, development or staging.
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
	status := validation_status(change)
	status != "passed"
	msg := sprintf("Image %s has not passed validation (validation: %s); validate it, then promote it.", [image(change), status])
}

deny contains msg if {
	some change in promotions
	status := scan_status(change)
	status != "passed"
	msg := sprintf("Image %s has not passed its security scan (scan: %s); scan it and fix the findings before promoting.", [image(change), status])
}

deny contains msg if {
	some change in promotions
	critical := critical_vulnerabilities(change)
	critical > 0
	msg := sprintf("Image %s has %d critical vulnerabilities; rebuild it with patched packages before promoting.", [image(change), critical])
}

# Evidence as a word ("passed"), as a tool's result ({"passed": true}), or missing.
status_of(value) := value if is_string(value)

status_of(value) := "passed" if value.passed == true

status_of(value) := "failed" if value.passed == false

validation_status(change) := status if {
	status := status_of(detail(change, "validation", "missing"))
} else := "unreadable"

# A scan result object passes with no critical and no high findings.
scan_status(change) := status if {
	scan := detail(change, "scan", "missing")
	is_string(scan)
	status := scan
} else := "passed" if {
	scan := detail(change, "scan", "missing")
	is_object(scan)
	object.get(scan, "critical", 0) + object.get(scan, "high", 0) == 0
} else := sprintf("%d critical, %d high", [object.get(scan, "critical", 0), object.get(scan, "high", 0)]) if {
	scan := detail(change, "scan", "missing")
	is_object(scan)
} else := "unreadable"

critical_vulnerabilities(change) := detail(change, "critical_vulnerabilities", 0) if {
	not is_object(detail(change, "scan", null))
} else := object.get(detail(change, "scan", {}), "critical", 0)

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
