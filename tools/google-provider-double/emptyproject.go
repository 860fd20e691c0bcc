package main

import (
	"fmt"
	"regexp"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// The double applies against an EMPTY project, as a first `terraform apply`
// does: no VM has reported a metric yet, no app has been deployed, and no
// user-defined metric has a descriptor that Cloud Monitoring has already
// propagated. Cloud Monitoring checks, when it creates an alert policy, that
// the metrics its conditions name exist:
//
//   - a PromQL condition (condition_prometheus_query_language) is refused
//     unless disable_metric_validation = true (the provider's documentation
//     of the argument: "alerting policies to be defined on metrics that do
//     not yet exist");
//   - a threshold or absence condition on a metric type that only data or a
//     log-based metric creates (prometheus.googleapis.com/,
//     custom.googleapis.com/, workload.googleapis.com/,
//     logging.googleapis.com/user/) is refused ("Cannot find metric(s)").
//     Built-in types such as agent.googleapis.com/agent/uptime always exist.
//
// A policy the real API would refuse on a first apply fails to "create" here.

var userMetricType = regexp.MustCompile(`metric\.type\s*=\s*"((?:prometheus|custom|workload)\.googleapis\.com/[^"]*|logging\.googleapis\.com/user/[^"]*)"`)

// checkEmptyProject returns why creating a resource of typeName with the
// planned value v would fail on an empty project, or "".
func checkEmptyProject(typeName string, v tftypes.Value) (string, error) {
	if typeName != "google_monitoring_alert_policy" {
		return "", nil
	}
	var policy map[string]tftypes.Value
	if err := v.As(&policy); err != nil {
		return "", err
	}
	conditions, err := objects(policy["conditions"])
	if err != nil {
		return "", err
	}
	for i, c := range conditions {
		promql, err := objects(c["condition_prometheus_query_language"])
		if err != nil {
			return "", err
		}
		for _, p := range promql {
			var disabled *bool
			if err := p["disable_metric_validation"].As(&disabled); err != nil {
				return "", err
			}
			if disabled == nil || !*disabled {
				var query string
				_ = p["query"].As(&query)
				return fmt.Sprintf("conditions[%d]: Error 400: the PromQL query names metrics that do not exist in this project yet (%q); set disable_metric_validation = true to define a policy on metrics that do not yet exist", i, query), nil
			}
		}
		for _, kind := range []string{"condition_threshold", "condition_absent"} {
			blocks, err := objects(c[kind])
			if err != nil {
				return "", err
			}
			for _, b := range blocks {
				var filter *string
				if err := b["filter"].As(&filter); err != nil {
					return "", err
				}
				if filter != nil {
					if m := userMetricType.FindStringSubmatch(*filter); m != nil {
						return fmt.Sprintf("conditions[%d].%s: Error 404: Cannot find metric(s) that match type = %q", i, kind, m[1]), nil
					}
				}
			}
		}
	}
	return "", nil
}

// objects reads a list of nested blocks (possibly null) as attribute maps.
func objects(v tftypes.Value) ([]map[string]tftypes.Value, error) {
	if v.IsNull() || !v.IsKnown() {
		return nil, nil
	}
	var list []tftypes.Value
	if err := v.As(&list); err != nil {
		return nil, err
	}
	out := make([]map[string]tftypes.Value, 0, len(list))
	for _, e := range list {
		var m map[string]tftypes.Value
		if err := e.As(&m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
