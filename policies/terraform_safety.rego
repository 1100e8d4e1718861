# Infrastructure changes: never destroy stateful resources; large plans need a person's approval.
# Applies to changes whose details name a Terraform resource:
#   {"resource_type": "aws_db_instance", "address": "aws_db_instance.main", "actions": ["delete", "create"]}
# (actions as in `terraform show -json`; without them the change's action is used).
package opspilot.terraform_safety

stateful_types := {
	"aws_db_instance", "aws_rds_cluster", "aws_rds_cluster_instance", "aws_dynamodb_table", "aws_s3_bucket",
	"aws_ebs_volume", "aws_efs_file_system", "aws_elasticache_cluster", "aws_elasticache_replication_group",
	"aws_elasticsearch_domain", "aws_opensearch_domain", "aws_kinesis_stream", "aws_sqs_queue", "aws_msk_cluster",
	"google_sql_database_instance", "google_storage_bucket", "google_compute_disk", "google_bigquery_dataset",
	"google_spanner_instance", "azurerm_postgresql_server", "azurerm_postgresql_flexible_server",
	"azurerm_mssql_database", "azurerm_storage_account", "azurerm_managed_disk", "azurerm_cosmosdb_account",
	"kubernetes_persistent_volume", "kubernetes_persistent_volume_claim",
}

destroying_actions := {"delete", "destroy", "replace"}

resource_changes contains item if {
	some change in object.get(input.plan, ["payload", "changes"], [])
	resource_type := change.details.resource_type
	item := {
		"type": resource_type,
		"address": object.get(change.details, "address", change.asset_id),
		"actions": {a | some a in object.get(change.details, "actions", [change.action])},
	}
}

max_changes := object.get(input, ["config", "max_resource_changes"], 20)

changing := [item | some item in resource_changes; item.actions != {"no-op"}; item.actions != {"read"}]

deny contains msg if {
	some item in resource_changes
	item.type in stateful_types
	count(item.actions & destroying_actions) > 0
	msg := sprintf("Terraform would destroy %s, a stateful %s: its data would be lost. Change the plan so it updates in place (add lifecycle { prevent_destroy = true }), or migrate the data and remove it by hand.", [item.address, item.type])
}

require_approval contains msg if {
	count(changing) > max_changes
	msg := sprintf("the Terraform plan changes %d resources, more than %d (policies.max_resource_changes).", [count(changing), max_changes])
}
