package main

import (
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// More resources of terraform/: the Kafka data disk, the managed Kafka
// cluster and topics, the external cluster's secret grant, BigQuery, Cloud
// Monitoring alerting and the optional GitHub deployer identity. As in
// schemas.go, names, modes and block nesting follow the provider's
// documentation (hashicorp/google v7); defaults, ForceNew and value validation
// are left to the real provider.
func init() {
	for name, s := range moreSchemas {
		resourceSchemas[name] = s
	}
}

var moreSchemas = map[string]func() schema.Schema{
	"google_compute_disk": func() schema.Schema {
		return resourceWith(attrs{
			"name":                      str(req),
			"zone":                      str(optc),
			"project":                   str(optc),
			"description":               str(opt),
			"type":                      str(opt),
			"size":                      num(optc),
			"image":                     str(opt),
			"snapshot":                  str(opt),
			"labels":                    strMap(opt),
			"physical_block_size_bytes": num(optc),
			"provisioned_iops":          num(optc),
			"provisioned_throughput":    num(optc),
			"effective_labels":          strMap(comp),
			"terraform_labels":          strMap(comp),
			"label_fingerprint":         str(comp),
			"creation_timestamp":        str(comp),
			"last_attach_timestamp":     str(comp),
			"last_detach_timestamp":     str(comp),
			"disk_id":                   str(comp),
			"users":                     strList(comp),
			"self_link":                 str(comp),
		}, nil)
	},

	// Managed Service for Apache Kafka (kafka_backend = managed). capacity's
	// numbers are strings in the provider (TypeString), as here.
	"google_managed_kafka_cluster": func() schema.Schema {
		return resourceWith(attrs{
			"cluster_id":       str(req),
			"location":         str(req),
			"project":          str(optc),
			"labels":           strMap(opt),
			"name":             str(comp),
			"create_time":      str(comp),
			"update_time":      str(comp),
			"state":            str(comp),
			"effective_labels": strMap(comp),
			"terraform_labels": strMap(comp),
		}, blocks{
			"capacity_config": listBlock(1, 1, attrs{
				"vcpu_count":   str(req),
				"memory_bytes": str(req),
			}, nil),
			"gcp_config": listBlock(1, 1, attrs{
				"kms_key": str(opt),
			}, blocks{
				"access_config": listBlock(1, 1, nil, blocks{
					"network_configs": listBlock(1, many, attrs{"subnet": str(req)}, nil),
				}),
			}),
			"broker_capacity_config": listBlock(0, 1, attrs{"disk_size_gib": str(optc)}, nil),
			"rebalance_config":       listBlock(0, 1, attrs{"mode": str(opt)}, nil),
		})
	},

	"google_managed_kafka_topic": func() schema.Schema {
		return resourceWith(attrs{
			"cluster":            str(req),
			"location":           str(req),
			"topic_id":           str(req),
			"replication_factor": num(req),
			"partition_count":    num(optc),
			"configs":            strMap(optc),
			"project":            str(optc),
			"name":               str(comp),
		}, nil)
	},

	"google_secret_manager_secret_iam_member": func() schema.Schema {
		return resourceWith(attrs{
			"secret_id": str(req),
			"role":      str(req),
			"member":    str(req),
			"project":   str(optc),
			"etag":      str(comp),
		}, blocks{"condition": iamCondition()})
	},

	// The SODA app token's secret (terraform/ridership.tf). Terraform creates
	// the secret only, never a version: no google_secret_manager_secret_version
	// schema here, so a configuration that would put a value in the state
	// fails offline. replication holds exactly one of auto and user_managed,
	// as the provider's ExactlyOneOf demands.
	"google_secret_manager_secret": func() schema.Schema {
		cmek := listBlock(0, 1, attrs{"kms_key_name": str(req)}, nil)
		replication := listBlock(1, 1, nil, blocks{
			"auto": listBlock(0, 1, nil, blocks{"customer_managed_encryption": cmek}),
			"user_managed": listBlock(0, 1, nil, blocks{
				"replicas": listBlock(1, many, attrs{"location": str(req)}, blocks{"customer_managed_encryption": cmek}),
			}),
		})
		replication = withObjectValidator(replication, exactlyOneBlock{"auto", "user_managed"})
		return resourceWith(attrs{
			"secret_id":             str(req),
			"labels":                strMap(opt),
			"annotations":           strMap(opt),
			"version_aliases":       strMap(opt),
			"version_destroy_ttl":   str(opt),
			"expire_time":           str(optc),
			"ttl":                   str(opt),
			"tags":                  strMap(opt),
			"deletion_protection":   boolean(opt),
			"project":               str(optc),
			"name":                  str(comp),
			"create_time":           str(comp),
			"effective_labels":      strMap(comp),
			"terraform_labels":      strMap(comp),
			"effective_annotations": strMap(comp),
		}, blocks{
			"replication": replication,
			"topics":      listBlock(0, many, attrs{"name": str(req)}, nil),
			"rotation": listBlock(0, 1, attrs{
				"next_rotation_time": str(opt),
				"rotation_period":    str(opt),
			}, nil),
		})
	},

	"google_compute_instance_iam_member": func() schema.Schema {
		return resourceWith(attrs{
			"instance_name": str(req),
			"role":          str(req),
			"member":        str(req),
			"zone":          str(optc),
			"project":       str(optc),
			"etag":          str(comp),
		}, blocks{"condition": iamCondition()})
	},

	"google_iap_tunnel_instance_iam_member": func() schema.Schema {
		return resourceWith(attrs{
			"instance": str(req),
			"role":     str(req),
			"member":   str(req),
			"zone":     str(optc),
			"project":  str(optc),
			"etag":     str(comp),
		}, blocks{"condition": iamCondition()})
	},

	"google_service_account_iam_member": func() schema.Schema {
		return resourceWith(attrs{
			"service_account_id": str(req),
			"role":               str(req),
			"member":             str(req),
			"etag":               str(comp),
		}, blocks{"condition": iamCondition()})
	},

	"google_iam_workload_identity_pool": func() schema.Schema {
		return resourceWith(attrs{
			"workload_identity_pool_id": str(req),
			"display_name":              str(opt),
			"description":               str(opt),
			"disabled":                  boolean(opt),
			"project":                   str(optc),
			"name":                      str(comp),
			"state":                     str(comp),
		}, nil)
	},

	"google_iam_workload_identity_pool_provider": func() schema.Schema {
		return resourceWith(attrs{
			"workload_identity_pool_id":          str(req),
			"workload_identity_pool_provider_id": str(req),
			"display_name":                       str(opt),
			"description":                        str(opt),
			"disabled":                           boolean(opt),
			"attribute_mapping":                  strMap(opt),
			"attribute_condition":                str(opt),
			"project":                            str(optc),
			"name":                               str(comp),
			"state":                              str(comp),
		}, blocks{
			"oidc": listBlock(0, 1, attrs{
				"issuer_uri":        str(req),
				"allowed_audiences": strList(opt),
				"jwks_json":         str(opt),
			}, nil),
		})
	},

	"google_bigquery_dataset": func() schema.Schema {
		return resourceWith(attrs{
			"dataset_id":                      str(req),
			"location":                        str(opt),
			"project":                         str(optc),
			"friendly_name":                   str(opt),
			"description":                     str(opt),
			"labels":                          strMap(opt),
			"default_table_expiration_ms":     num(opt),
			"default_partition_expiration_ms": num(opt),
			"delete_contents_on_destroy":      boolean(opt),
			"max_time_travel_hours":           str(optc),
			"effective_labels":                strMap(comp),
			"terraform_labels":                strMap(comp),
			"creation_time":                   num(comp),
			"last_modified_time":              num(comp),
			"etag":                            str(comp),
			"self_link":                       str(comp),
		}, nil)
	},

	"google_bigquery_table": func() schema.Schema {
		return resourceWith(attrs{
			"dataset_id":          str(req),
			"table_id":            str(req),
			"project":             str(optc),
			"description":         str(opt),
			"friendly_name":       str(opt),
			"labels":              strMap(opt),
			"deletion_protection": boolean(opt),
			"expiration_time":     num(optc),
			"schema":              str(optc),
			"clustering":          strList(opt),
			"effective_labels":    strMap(comp),
			"terraform_labels":    strMap(comp),
			"creation_time":       num(comp),
			"last_modified_time":  num(comp),
			"etag":                str(comp),
			"location":            str(comp),
			"num_bytes":           num(comp),
			"num_long_term_bytes": num(comp),
			"num_rows":            num(comp),
			"self_link":           str(comp),
			"type":                str(comp),
		}, blocks{
			"external_data_configuration": listBlock(0, 1, attrs{
				"autodetect":                boolean(req),
				"source_uris":               strList(req),
				"source_format":             str(opt),
				"compression":               str(opt),
				"connection_id":             str(opt),
				"ignore_unknown_values":     boolean(opt),
				"max_bad_records":           num(opt),
				"schema":                    str(optc),
				"reference_file_schema_uri": str(opt),
				"metadata_cache_mode":       str(opt),
				"object_metadata":           str(opt),
			}, blocks{
				"csv_options": listBlock(0, 1, attrs{
					"quote":                 str(req),
					"allow_jagged_rows":     boolean(opt),
					"allow_quoted_newlines": boolean(opt),
					"encoding":              str(opt),
					"field_delimiter":       str(opt),
					"skip_leading_rows":     num(opt),
				}, nil),
				"hive_partitioning_options": listBlock(0, 1, attrs{
					"mode":                     str(opt),
					"require_partition_filter": boolean(opt),
					"source_uri_prefix":        str(opt),
				}, nil),
			}),
		})
	},

	"google_logging_metric": func() schema.Schema {
		return resourceWith(attrs{
			"name":             str(req),
			"filter":           str(req),
			"description":      str(opt),
			"disabled":         boolean(opt),
			"bucket_name":      str(opt),
			"value_extractor":  str(opt),
			"label_extractors": strMap(opt),
			"project":          str(optc),
		}, blocks{
			"metric_descriptor": listBlock(0, 1, attrs{
				"metric_kind":  str(req),
				"value_type":   str(req),
				"unit":         str(opt),
				"display_name": str(opt),
			}, blocks{
				"labels": setBlock(0, many, attrs{
					"key":         str(req),
					"value_type":  str(opt),
					"description": str(opt),
				}, nil),
			}),
			"bucket_options": listBlock(0, 1, nil, blocks{
				"linear_buckets": listBlock(0, 1, attrs{
					"num_finite_buckets": num(opt),
					"width":              float(opt),
					"offset":             float(opt),
				}, nil),
				"exponential_buckets": listBlock(0, 1, attrs{
					"num_finite_buckets": num(opt),
					"growth_factor":      float(opt),
					"scale":              float(opt),
				}, nil),
				"explicit_buckets": listBlock(0, 1, attrs{
					"bounds": schema.ListAttribute{Required: true, ElementType: types.Float64Type},
				}, nil),
			}),
		})
	},

	"google_monitoring_notification_channel": func() schema.Schema {
		return resourceWith(attrs{
			"type":                str(req),
			"display_name":        str(opt),
			"description":         str(opt),
			"labels":              strMap(opt),
			"user_labels":         strMap(opt),
			"enabled":             boolean(opt),
			"force_delete":        boolean(opt),
			"project":             str(optc),
			"name":                str(comp),
			"verification_status": str(comp),
		}, blocks{
			"sensitive_labels": listBlock(0, 1, attrs{
				"auth_token":  sensitiveStr(opt),
				"password":    sensitiveStr(opt),
				"service_key": sensitiveStr(opt),
			}, nil),
		})
	},

	"google_monitoring_alert_policy": func() schema.Schema {
		aggregations := listBlock(0, many, attrs{
			"alignment_period":     str(opt),
			"per_series_aligner":   str(opt),
			"cross_series_reducer": str(opt),
			"group_by_fields":      strList(opt),
		}, nil)
		trigger := listBlock(0, 1, attrs{
			"count":   num(opt),
			"percent": float(opt),
		}, nil)
		return resourceWith(attrs{
			"display_name":          str(req),
			"combiner":              str(req),
			"enabled":               boolean(opt),
			"notification_channels": strList(opt),
			"severity":              str(opt),
			"user_labels":           strMap(opt),
			"project":               str(optc),
			"name":                  str(comp),
		}, blocks{
			"conditions": listBlock(1, many, attrs{
				"display_name": str(req),
				"name":         str(comp),
			}, blocks{
				"condition_threshold": listBlock(0, 1, attrs{
					"filter":                  str(opt),
					"comparison":              str(req),
					"threshold_value":         float(opt),
					"duration":                str(req),
					"denominator_filter":      str(opt),
					"evaluation_missing_data": str(opt),
				}, blocks{"aggregations": aggregations, "trigger": trigger}),
				"condition_absent": listBlock(0, 1, attrs{
					"filter":   str(opt),
					"duration": str(req),
				}, blocks{"aggregations": aggregations, "trigger": trigger}),
				"condition_prometheus_query_language": listBlock(0, 1, attrs{
					"query":                     str(req),
					"duration":                  str(opt),
					"evaluation_interval":       str(opt),
					"labels":                    strMap(opt),
					"rule_group":                str(opt),
					"alert_rule":                str(opt),
					"disable_metric_validation": boolean(opt),
				}, nil),
			}),
			"documentation": listBlock(0, 1, attrs{
				"content":   str(opt),
				"mime_type": str(opt),
				"subject":   str(opt),
			}, blocks{
				"links": listBlock(0, many, attrs{
					"display_name": str(opt),
					"url":          str(opt),
				}, nil),
			}),
			"alert_strategy": listBlock(0, 1, attrs{
				"auto_close":           str(opt),
				"notification_prompts": strList(opt),
			}, blocks{
				"notification_rate_limit": listBlock(0, 1, attrs{"period": str(opt)}, nil),
			}),
		})
	},
}
