package main

import "github.com/hashicorp/terraform-plugin-framework/resource/schema"

// resourceSchemas holds the resources terraform/ uses, each with the subset of
// the real hashicorp/google (v7) schema that matters here. Names and modes
// follow the provider's documentation; defaults, ForceNew and value
// validation are left to the real provider (run in GitHub Actions).
var resourceSchemas = map[string]func() schema.Schema{
	"google_project_service": func() schema.Schema {
		return resourceWith(attrs{
			"service":                               str(req),
			"project":                               str(optc),
			"disable_on_destroy":                    boolean(opt),
			"disable_dependent_services":            boolean(opt),
			"check_if_service_has_usage_on_destroy": boolean(opt),
		}, nil)
	},

	"google_compute_network": func() schema.Schema {
		return resourceWith(attrs{
			"name":                            str(req),
			"description":                     str(opt),
			"auto_create_subnetworks":         boolean(opt),
			"routing_mode":                    str(optc),
			"mtu":                             num(optc),
			"delete_default_routes_on_create": boolean(opt),
			"project":                         str(optc),
			"gateway_ipv4":                    str(comp),
			"network_id":                      str(comp),
			"numeric_id":                      str(comp),
			"self_link":                       str(comp),
		}, nil)
	},

	"google_compute_subnetwork": func() schema.Schema {
		return resourceWith(attrs{
			"name":                     str(req),
			"network":                  str(req),
			"ip_cidr_range":            str(optc),
			"region":                   str(optc),
			"project":                  str(optc),
			"description":              str(opt),
			"private_ip_google_access": boolean(optc),
			"purpose":                  str(optc),
			"stack_type":               str(optc),
			"gateway_address":          str(comp),
			"creation_timestamp":       str(comp),
			"self_link":                str(comp),
		}, blocks{
			"log_config": listBlock(0, 1, attrs{
				"aggregation_interval": str(opt),
				"flow_sampling":        float(opt),
				"metadata":             str(opt),
				"metadata_fields":      strSet(opt),
				"filter_expr":          str(opt),
			}, nil),
		})
	},

	"google_compute_router": func() schema.Schema {
		return resourceWith(attrs{
			"name":               str(req),
			"network":            str(req),
			"region":             str(optc),
			"project":            str(optc),
			"description":        str(opt),
			"creation_timestamp": str(comp),
			"self_link":          str(comp),
		}, nil)
	},

	"google_compute_router_nat": func() schema.Schema {
		return resourceWith(attrs{
			"name":                                str(req),
			"router":                              str(req),
			"source_subnetwork_ip_ranges_to_nat":  str(req),
			"nat_ip_allocate_option":              str(opt),
			"nat_ips":                             strSet(opt),
			"region":                              str(optc),
			"project":                             str(optc),
			"min_ports_per_vm":                    num(optc),
			"enable_endpoint_independent_mapping": boolean(optc),
		}, blocks{
			"log_config": listBlock(0, 1, attrs{
				"enable": boolean(req),
				"filter": str(req),
			}, nil),
			"subnetwork": setBlock(0, many, attrs{
				"name":                     str(req),
				"source_ip_ranges_to_nat":  strSet(req),
				"secondary_ip_range_names": strSet(opt),
			}, nil),
		})
	},

	"google_compute_address": func() schema.Schema {
		return resourceWith(attrs{
			"name":               str(req),
			"address":            str(optc),
			"address_type":       str(opt),
			"subnetwork":         str(optc),
			"purpose":            str(optc),
			"network_tier":       str(optc),
			"region":             str(optc),
			"project":            str(optc),
			"description":        str(opt),
			"labels":             strMap(opt),
			"effective_labels":   strMap(comp),
			"terraform_labels":   strMap(comp),
			"users":              strList(comp),
			"creation_timestamp": str(comp),
			"self_link":          str(comp),
		}, nil)
	},

	"google_compute_firewall": func() schema.Schema {
		rule := attrs{
			"protocol": str(req),
			"ports":    strList(opt),
		}
		return resourceWith(attrs{
			"name":                    str(req),
			"network":                 str(req),
			"description":             str(opt),
			"direction":               str(optc),
			"priority":                num(opt),
			"disabled":                boolean(opt),
			"source_ranges":           strSet(opt),
			"source_tags":             strSet(opt),
			"source_service_accounts": strSet(opt),
			"destination_ranges":      strSet(optc),
			"target_tags":             strSet(opt),
			"target_service_accounts": strSet(opt),
			"project":                 str(optc),
			"creation_timestamp":      str(comp),
			"self_link":               str(comp),
		}, blocks{
			"allow":      setBlock(0, many, rule, nil),
			"deny":       setBlock(0, many, rule, nil),
			"log_config": listBlock(0, 1, attrs{"metadata": str(req)}, nil),
		})
	},

	"google_service_account": func() schema.Schema {
		return resourceWith(attrs{
			"account_id":                   str(req),
			"display_name":                 str(opt),
			"description":                  str(opt),
			"disabled":                     boolean(opt),
			"create_ignore_already_exists": boolean(opt),
			"project":                      str(optc),
			"email":                        str(comp),
			"member":                       str(comp),
			"name":                         str(comp),
			"unique_id":                    str(comp),
		}, nil)
	},

	"google_project_iam_member": func() schema.Schema {
		return resourceWith(attrs{
			"project": str(req),
			"role":    str(req),
			"member":  str(req),
			"etag":    str(comp),
		}, blocks{"condition": iamCondition()})
	},

	"google_project_iam_custom_role": func() schema.Schema {
		return resourceWith(attrs{
			"role_id":     str(req),
			"title":       str(req),
			"permissions": strSet(req),
			"project":     str(optc),
			"description": str(opt),
			"stage":       str(opt),
			"name":        str(comp),
			"deleted":     boolean(comp),
		}, nil)
	},

	"google_storage_bucket": func() schema.Schema {
		return resourceWith(attrs{
			"name":                        str(req),
			"location":                    str(req),
			"project":                     str(optc),
			"storage_class":               str(opt),
			"force_destroy":               boolean(opt),
			"uniform_bucket_level_access": boolean(optc),
			"public_access_prevention":    str(optc),
			"default_event_based_hold":    boolean(opt),
			"requester_pays":              boolean(opt),
			"labels":                      strMap(opt),
			"effective_labels":            strMap(comp),
			"terraform_labels":            strMap(comp),
			"self_link":                   str(comp),
			"url":                         str(comp),
		}, blocks{
			"versioning": listBlock(0, 1, attrs{"enabled": boolean(req)}, nil),
			"soft_delete_policy": listBlock(0, 1, attrs{
				"retention_duration_seconds": num(optc),
				"effective_time":             str(comp),
			}, nil),
			"lifecycle_rule": listBlock(0, 100, nil, blocks{
				"action": setBlock(1, 1, attrs{
					"type":          str(req),
					"storage_class": str(opt),
				}, nil),
				"condition": setBlock(1, 1, attrs{
					"age":                        num(opt),
					"created_before":             str(opt),
					"with_state":                 str(opt),
					"matches_storage_class":      strList(opt),
					"matches_prefix":             strList(opt),
					"matches_suffix":             strList(opt),
					"num_newer_versions":         num(opt),
					"days_since_noncurrent_time": num(opt),
					"send_age_if_zero":           boolean(opt),
				}, nil),
			}),
		})
	},

	"google_storage_bucket_iam_member": func() schema.Schema {
		return resourceWith(attrs{
			"bucket": str(req),
			"role":   str(req),
			"member": str(req),
			"etag":   str(comp),
		}, blocks{"condition": iamCondition()})
	},

	"google_artifact_registry_repository": func() schema.Schema {
		return resourceWith(attrs{
			"repository_id":          str(req),
			"format":                 str(req),
			"location":               str(optc),
			"project":                str(optc),
			"description":            str(opt),
			"mode":                   str(opt),
			"cleanup_policy_dry_run": boolean(opt),
			"labels":                 strMap(opt),
			"effective_labels":       strMap(comp),
			"terraform_labels":       strMap(comp),
			"name":                   str(comp),
			"create_time":            str(comp),
			"update_time":            str(comp),
		}, blocks{
			"docker_config": listBlock(0, 1, attrs{"immutable_tags": boolean(opt)}, nil),
			// Only the Docker branch of the real block (mode = REMOTE_REPOSITORY).
			"remote_repository_config": listBlock(0, 1, attrs{
				"description":                 str(opt),
				"disable_upstream_validation": boolean(opt),
			}, blocks{
				"docker_repository": listBlock(0, 1, attrs{
					"public_repository": str(opt),
				}, blocks{
					"custom_repository": listBlock(0, 1, attrs{"uri": str(opt)}, nil),
				}),
				"upstream_credentials": listBlock(0, 1, nil, blocks{
					"username_password_credentials": listBlock(0, 1, attrs{
						"username":                str(opt),
						"password_secret_version": str(opt),
					}, nil),
				}),
			}),
			"cleanup_policies": setBlock(0, many, attrs{
				"id":     str(req),
				"action": str(opt),
			}, blocks{
				"condition": listBlock(0, 1, attrs{
					"tag_state":             str(opt),
					"tag_prefixes":          strList(opt),
					"version_name_prefixes": strList(opt),
					"package_name_prefixes": strList(opt),
					"older_than":            str(opt),
					"newer_than":            str(opt),
				}, nil),
				"most_recent_versions": listBlock(0, 1, attrs{
					"package_name_prefixes": strList(opt),
					"keep_count":            num(opt),
				}, nil),
			}),
		})
	},

	"google_artifact_registry_repository_iam_member": func() schema.Schema {
		return resourceWith(attrs{
			"repository": str(req),
			"role":       str(req),
			"member":     str(req),
			"location":   str(optc),
			"project":    str(optc),
			"etag":       str(comp),
		}, blocks{"condition": iamCondition()})
	},

	"google_compute_instance": func() schema.Schema {
		return resourceWith(attrs{
			"name":                      str(req),
			"machine_type":              str(req),
			"zone":                      str(optc),
			"project":                   str(optc),
			"description":               str(opt),
			"hostname":                  str(opt),
			"tags":                      strSet(opt),
			"labels":                    strMap(opt),
			"metadata":                  strMap(opt),
			"metadata_startup_script":   str(opt),
			"allow_stopping_for_update": boolean(opt),
			"deletion_protection":       boolean(opt),
			"can_ip_forward":            boolean(opt),
			"desired_status":            str(opt),
			"enable_display":            boolean(opt),
			"min_cpu_platform":          str(optc),
			"effective_labels":          strMap(comp),
			"terraform_labels":          strMap(comp),
			"cpu_platform":              str(comp),
			"current_status":            str(comp),
			"instance_id":               str(comp),
			"label_fingerprint":         str(comp),
			"metadata_fingerprint":      str(comp),
			"tags_fingerprint":          str(comp),
			"self_link":                 str(comp),
		}, blocks{
			"boot_disk": listBlock(1, 1, attrs{
				"auto_delete":             boolean(opt),
				"device_name":             str(optc),
				"mode":                    str(opt),
				"source":                  str(optc),
				"kms_key_self_link":       str(optc),
				"disk_encryption_key_raw": sensitiveStr(opt),
			}, blocks{
				"initialize_params": listBlock(0, 1, attrs{
					"image":                 str(optc),
					"size":                  num(optc),
					"type":                  str(optc),
					"labels":                strMap(opt),
					"resource_manager_tags": strMap(opt),
				}, nil),
			}),
			"network_interface": listBlock(1, many, attrs{
				"network":            str(optc),
				"subnetwork":         str(optc),
				"subnetwork_project": str(optc),
				"network_ip":         str(optc),
				"nic_type":           str(opt),
				"stack_type":         str(optc),
				"queue_count":        num(opt),
				"name":               str(comp),
			}, blocks{
				"access_config": listBlock(0, many, attrs{
					"nat_ip":                 str(optc),
					"network_tier":           str(optc),
					"public_ptr_domain_name": str(opt),
				}, nil),
				"alias_ip_range": listBlock(0, many, attrs{
					"ip_cidr_range":         str(req),
					"subnetwork_range_name": str(opt),
				}, nil),
			}),
			"attached_disk": listBlock(0, many, attrs{
				"source":                  str(req),
				"device_name":             str(optc),
				"mode":                    str(opt),
				"disk_encryption_key_raw": sensitiveStr(opt),
				"kms_key_self_link":       str(optc),
			}, nil),
			"service_account": listBlock(0, 1, attrs{
				"email":  str(optc),
				"scopes": strSet(req),
			}, nil),
			"shielded_instance_config": listBlock(0, 1, attrs{
				"enable_secure_boot":          boolean(opt),
				"enable_vtpm":                 boolean(opt),
				"enable_integrity_monitoring": boolean(opt),
			}, nil),
			"scheduling": listBlock(0, 1, attrs{
				"preemptible":         boolean(opt),
				"automatic_restart":   boolean(opt),
				"on_host_maintenance": str(optc),
				"provisioning_model":  str(optc),
			}, nil),
		})
	},
}

// iamCondition is the optional IAM condition block of *_iam_member resources.
func iamCondition() schema.Block {
	return listBlock(0, 1, attrs{
		"expression":  str(req),
		"title":       str(req),
		"description": str(opt),
	}, nil)
}
