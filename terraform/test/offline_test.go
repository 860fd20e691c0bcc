//go:build tftest

package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gruntwork-io/terratest/modules/terraform"
)

const (
	testProject = "demo-project-123"
	testZone    = "us-central1-a"
	iapRange    = "35.235.240.0/20"
)

// offlineOptions points terratest at the cached OpenTofu and at a CLI config
// whose only provider source is the local mirror holding the google TEST
// DOUBLE (both built by scripts/tools.sh).
func offlineOptions(t *testing.T, dir string, vars map[string]any) *terraform.Options {
	t.Helper()
	tools := os.Getenv("TOOLS_DIR") // as in scripts/tools.sh
	if tools == "" {
		tools = filepath.Join(repoRoot(t), ".cache", "tools")
	}
	tofu := os.Getenv("TOFU_BIN")
	if tofu == "" {
		tofu = filepath.Join(tools, "bin", "tofu")
	}
	rc := filepath.Join(tools, "tofurc")
	for _, f := range []string{tofu, rc} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s is missing: run `bash scripts/tools.sh` first (%v)", f, err)
		}
	}
	return &terraform.Options{
		TerraformBinary: tofu,
		TerraformDir:    dir,
		Vars:            vars,
		NoColor:         true,
		EnvVars: map[string]string{
			"TF_CLI_CONFIG_FILE": rc,
			"CHECKPOINT_DISABLE": "1",
			"TF_IN_AUTOMATION":   "1",
		},
	}
}

func TestInitAndValidate(t *testing.T) {
	opts := offlineOptions(t, stageForDouble(t), nil)
	out := terraform.InitAndValidate(t, opts)
	if !strings.Contains(out, "The configuration is valid") {
		t.Fatalf("validate did not report a valid configuration:\n%s", out)
	}
}

// resourcesOfType returns the planned values of every resource instance of
// the given type, keyed by address.
func resourcesOfType(plan *terraform.PlanStruct, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for addr, r := range plan.ResourcePlannedValuesMap {
		if r.Type == typ {
			out[addr] = r.AttributeValues
		}
	}
	return out
}

// strs turns a planned list/set of strings into a sorted []string.
func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, _ := e.(string)
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// blocks returns a planned nested block (a list of objects).
func blocks(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func TestPlannedValues(t *testing.T) {
	dir := stageForDouble(t)
	opts := offlineOptions(t, dir, map[string]any{"project_id": testProject, "zone": testZone})
	opts.PlanFilePath = filepath.Join(t.TempDir(), "plan.out")
	plan := terraform.InitAndPlanAndShowWithStruct(t, opts)

	t.Run("three VMs with distinct names in a valid zone", func(t *testing.T) {
		vms := resourcesOfType(plan, "google_compute_instance")
		if len(vms) != 3 {
			t.Fatalf("planned %d VMs, want 3: %v", len(vms), keys(vms))
		}
		names := map[string]bool{}
		zoneRE := regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+-[a-z]$`)
		for addr, vm := range vms {
			name, _ := vm["name"].(string)
			names[name] = true
			zone, _ := vm["zone"].(string)
			if zone != testZone || !zoneRE.MatchString(zone) {
				t.Errorf("%s: zone %q, want the zone %q", addr, zone, testZone)
			}
			for _, nic := range blocks(vm["network_interface"]) {
				if len(blocks(nic["access_config"])) != 0 {
					t.Errorf("%s has an external IP (access_config)", addr)
				}
			}
		}
		if len(names) != 3 {
			t.Errorf("VM names are not distinct: %v", names)
		}
	})

	t.Run("SSH only from IAP and Kafka never open to the internet", func(t *testing.T) {
		rules := resourcesOfType(plan, "google_compute_firewall")
		if len(rules) == 0 {
			t.Fatal("no firewall rules planned")
		}
		sawSSH, sawKafka := false, false
		for addr, fw := range rules {
			ranges := strs(fw["source_ranges"])
			for _, r := range ranges {
				// Only a deny rule may name every source.
				if r == "0.0.0.0/0" && len(blocks(fw["allow"])) != 0 {
					t.Errorf("%s admits 0.0.0.0/0", addr)
				}
			}
			for _, allow := range blocks(fw["allow"]) {
				ports := strs(allow["ports"])
				if len(ports) == 0 {
					t.Errorf("%s allows every port of %v", addr, allow["protocol"])
				}
				for _, p := range ports {
					switch p {
					case "22":
						sawSSH = true
						if strings.Join(ranges, ",") != iapRange || len(strs(fw["source_tags"])) != 0 {
							t.Errorf("%s opens SSH to %v (tags %v), want only IAP's %s", addr, ranges, strs(fw["source_tags"]), iapRange)
						}
					case "8080":
						if strings.Join(ranges, ",") != iapRange || len(strs(fw["source_tags"])) != 0 {
							t.Errorf("%s opens the dashboard to %v (tags %v), want only IAP's %s", addr, ranges, strs(fw["source_tags"]), iapRange)
						}
						if got := strings.Join(strs(fw["target_tags"]), ","); got != "turnstile-consumer" {
							t.Errorf("%s opens the dashboard port on %q, want only the consumer VMs", addr, got)
						}
					case "9092":
						sawKafka = true
						if len(ranges) != 0 || len(strs(fw["source_tags"])) != 0 {
							t.Errorf("%s opens Kafka to IP ranges %v or tags %v, want only the app VMs' service accounts", addr, ranges, strs(fw["source_tags"]))
						}
						want := "turnstile-consumer@" + testProject + ".iam.gserviceaccount.com,turnstile-producer@" + testProject + ".iam.gserviceaccount.com"
						if got := strings.Join(strs(fw["source_service_accounts"]), ","); got != want {
							t.Errorf("%s admits Kafka clients running as %q, want %q", addr, got, want)
						}
					default:
						t.Errorf("%s opens port %s, which nothing needs", addr, p)
					}
				}
			}
		}
		if !sawSSH || !sawKafka {
			t.Errorf("expected an IAP SSH rule and a Kafka rule (ssh=%v kafka=%v)", sawSSH, sawKafka)
		}
	})

	t.Run("only the consumer may write to the bucket", func(t *testing.T) {
		grants := resourcesOfType(plan, "google_storage_bucket_iam_member")
		if len(grants) != 1 {
			t.Fatalf("planned %d bucket IAM grants, want exactly 1 (the consumer's): %v", len(grants), keys(grants))
		}
		for addr, g := range grants {
			if want := "projects/" + testProject + "/roles/turnstile_lake_writer"; g["role"] != want {
				t.Errorf("%s: role %v, want %s", addr, g["role"], want)
			}
			want := "serviceAccount:turnstile-consumer@" + testProject + ".iam.gserviceaccount.com"
			if g["member"] != want {
				t.Errorf("%s: member %v, want %s", addr, g["member"], want)
			}
		}
		roles := resourcesOfType(plan, "google_project_iam_custom_role")
		for addr, r := range roles {
			if got := strings.Join(strs(r["permissions"]), ","); got != "storage.objects.create,storage.objects.delete,storage.objects.get" {
				t.Errorf("%s grants %s, want only storage.objects.create, storage.objects.delete and storage.objects.get", addr, got)
			}
		}
		if len(roles) != 1 {
			t.Errorf("planned %d custom roles, want 1 (the lake writer)", len(roles))
		}
		for addr, g := range resourcesOfType(plan, "google_project_iam_member") {
			if r := g["role"]; r != "roles/logging.logWriter" && r != "roles/monitoring.metricWriter" {
				t.Errorf("%s grants project role %v", addr, r)
			}
		}
	})

	t.Run("bucket enforces public access prevention", func(t *testing.T) {
		b := plan.ResourcePlannedValuesMap["google_storage_bucket.lake"]
		if b == nil {
			t.Fatal("google_storage_bucket.lake is not planned")
		}
		v := b.AttributeValues
		if v["public_access_prevention"] != "enforced" || v["uniform_bucket_level_access"] != true {
			t.Errorf("public_access_prevention=%v uniform_bucket_level_access=%v", v["public_access_prevention"], v["uniform_bucket_level_access"])
		}
		if vers := blocks(v["versioning"]); len(vers) != 1 || vers[0]["enabled"] != true {
			t.Errorf("versioning = %v, want enabled", v["versioning"])
		}
		noncurrentRules := 0
		for _, rule := range blocks(v["lifecycle_rule"]) {
			for _, a := range blocks(rule["action"]) {
				if a["type"] != "Delete" {
					continue
				}
				conds := blocks(rule["condition"])
				if len(conds) != 1 || conds[0]["with_state"] != "ARCHIVED" || conds[0]["days_since_noncurrent_time"] != float64(30) {
					t.Errorf("a Delete rule may touch only noncurrent versions, after lake_noncurrent_days (30): %v", rule)
					continue
				}
				noncurrentRules++
			}
		}
		if noncurrentRules != 1 {
			t.Errorf("want one rule that expires noncurrent versions, found %d", noncurrentRules)
		}
	})

	t.Run("Kafka data disk, attached by device name, mounted by the startup script", func(t *testing.T) {
		disk := plan.ResourcePlannedValuesMap["google_compute_disk.kafka_data[0]"]
		if disk == nil {
			t.Fatal("google_compute_disk.kafka_data[0] is not planned")
		}
		d := disk.AttributeValues
		if d["name"] != "turnstile-kafka-data" || d["zone"] != testZone || d["size"] != float64(50) || d["type"] != "pd-balanced" {
			t.Errorf("data disk name=%v zone=%v size=%v type=%v", d["name"], d["zone"], d["size"], d["type"])
		}
		for addr, vm := range resourcesOfType(plan, "google_compute_instance") {
			disks := blocks(vm["attached_disk"])
			isKafka := addr == `google_compute_instance.vm["kafka"]`
			switch {
			case isKafka && (len(disks) != 1 || disks[0]["device_name"] != "kafka-data" || disks[0]["mode"] != "READ_WRITE"):
				t.Errorf("%s attached_disk = %v, want the data disk as device kafka-data, read-write", addr, disks)
			case !isKafka && len(disks) != 0:
				t.Errorf("%s attaches %v; only Kafka has a data disk", addr, disks)
			}
			if vm["deletion_protection"] != isKafka {
				t.Errorf("%s deletion_protection = %v, want %v", addr, vm["deletion_protection"], isKafka)
			}
		}
		script := startupScript(t, plan, "kafka")
		for _, n := range []string{
			`/dev/disk/by-id/google-$DATA_DEVICE}" waited=0`,
			"readonly DATA_DEVICE='kafka-data'",
			`if ! blkid "$dev" >/dev/null 2>&1; then`,
			"RequiresMountsFor=$DATA_MOUNT",
			"KAFKA_DATA_DIR=/mnt/disks/kafka-data/kafka\n",
		} {
			if !strings.Contains(script, n) {
				t.Errorf("Kafka startup script lacks %q", n)
			}
		}
		// mkfs only inside the "no filesystem signature" branch.
		blank := strings.Index(script, `if ! blkid "$dev"`)
		mkfs := strings.Index(script, "mkfs.ext4")
		if blank < 0 || mkfs < blank || strings.Count(script, "mkfs.") != 1 {
			t.Errorf("mkfs must run once, and only when blkid finds no filesystem (blkid at %d, mkfs at %d)", blank, mkfs)
		}
	})

	t.Run("the data disk mount runs: formats only a blank disk, idempotent", func(t *testing.T) {
		testMountDataDisk(t, startupScript(t, plan, "kafka"))
	})

	t.Run("a failed Ops Agent install is logged, counted, and the boot goes on", func(t *testing.T) {
		for _, vm := range []string{"kafka", "consumer", "producer"} {
			testOpsAgentFailure(t, startupScript(t, plan, vm))
		}
	})

	t.Run("BigQuery external table over the lake", func(t *testing.T) {
		tbl := plan.ResourcePlannedValuesMap["google_bigquery_table.windows"]
		if tbl == nil {
			t.Fatal("google_bigquery_table.windows is not planned")
		}
		edc := blocks(tbl.AttributeValues["external_data_configuration"])
		if len(edc) != 1 {
			t.Fatalf("external_data_configuration = %v", tbl.AttributeValues["external_data_configuration"])
		}
		e := edc[0]
		if got := strs(e["source_uris"]); strings.Join(got, ",") != "gs://"+testProject+"-turnstile-lake/turnstile/*.csv.gz" {
			t.Errorf("source_uris = %v", got)
		}
		if e["source_format"] != "CSV" || e["compression"] != "GZIP" || e["autodetect"] != false {
			t.Errorf("source_format=%v compression=%v autodetect=%v, want CSV, GZIP, false", e["source_format"], e["compression"], e["autodetect"])
		}
		csv := blocks(e["csv_options"])
		if len(csv) != 1 || csv[0]["skip_leading_rows"] != float64(1) {
			t.Errorf("csv_options = %v, want skip_leading_rows 1", e["csv_options"])
		}
		var cols []struct{ Name, Type string }
		schema, _ := e["schema"].(string)
		if err := json.Unmarshal([]byte(schema), &cols); err != nil {
			t.Fatalf("schema %q: %v", schema, err)
		}
		if len(cols) != 12 || cols[0].Name != "idx" || cols[0].Type != "INTEGER" || cols[11].Name != "EXITS" {
			t.Errorf("schema columns %v: want idx (the index column) first, then the 11 file columns", cols)
		}
	})

	t.Run("alert policies and their thresholds", func(t *testing.T) {
		queries := map[string]string{}
		for addr, p := range resourcesOfType(plan, "google_monitoring_alert_policy") {
			for _, c := range blocks(p["conditions"]) {
				for _, q := range blocks(c["condition_prometheus_query_language"]) {
					queries[addr], _ = q["query"].(string)
				}
				for _, a := range blocks(c["condition_absent"]) {
					queries[addr], _ = a["filter"].(string)
				}
			}
			if chans := strs(p["notification_channels"]); len(chans) != 0 {
				t.Errorf("%s notifies %v although alert_email is empty", addr, chans)
			}
		}
		want := map[string][]string{
			`google_monitoring_alert_policy.promql["consumer_lag"]`:         {"turnstile_consumer_lag) > 10000", "delta(turnstile_consumer_lag[15m])"},
			`google_monitoring_alert_policy.promql["stalled"]`:              {"changes(turnstile_consumer_watermark_seconds[20m])) == 0", "rate(turnstile_consumer_records_in_total[20m])) > 0"},
			`google_monitoring_alert_policy.promql["rejected"]`:             {"rate(turnstile_consumer_records_rejected_total[10m])) > 1"},
			`google_monitoring_alert_policy.promql["write_errors"]`:         {"turnstile_consumer_sink_retries_total", "turnstile_consumer_commit_errors_total[10m])) > 5"},
			`google_monitoring_alert_policy.promql["app_down"]`:             {"max_over_time(turnstile_consumer_records_in_total[10m])", "max_over_time(turnstile_producer_sent_total[10m])"},
			`google_monitoring_alert_policy.promql["partitions_paused"]`:    {"max by (vm) (turnstile_consumer_partitions_paused) > 0"},
			`google_monitoring_alert_policy.promql["not_ready"]`:            {"logging_googleapis_com:user_turnstile_not_ready", "[5m])) >= 4"},
			`google_monitoring_alert_policy.promql["agent_install_failed"]`: {"logging_googleapis_com:user_turnstile_ops_agent_install_failed"},
			`google_monitoring_alert_policy.vm_down`:                        {"agent.googleapis.com/agent/uptime"},
		}
		if len(queries) != len(want) {
			t.Errorf("planned alert policies %v, want %d", keys(queries), len(want))
		}
		for addr, needles := range want {
			q, ok := queries[addr]
			if !ok {
				t.Errorf("%s is not planned", addr)
				continue
			}
			for _, n := range needles {
				if !strings.Contains(q, n) {
					t.Errorf("%s condition %q lacks %q", addr, q, n)
				}
			}
		}
		if n := len(resourcesOfType(plan, "google_monitoring_notification_channel")); n != 0 {
			t.Errorf("%d notification channels planned with alert_email empty", n)
		}
	})

	t.Run("startup scripts name the right compose file and pass shellcheck", func(t *testing.T) {
		// Every script: dpkg lock wait with bounded retries, a flock in
		// turnstile-up, the ready marker written last.
		for _, role := range []string{"kafka", "consumer", "producer"} {
			script := startupScript(t, plan, role)
			for _, n := range []string{"apt-get -o DPkg::Lock::Timeout=600", "for attempt in 1 2 3 4 5; do", `flock -w "$LOCK_TIMEOUT" 9`} {
				if !strings.Contains(script, n) {
					t.Errorf("%s startup script lacks %q", role, n)
				}
			}
			if !strings.HasSuffix(strings.TrimSpace(script), `cat /proc/sys/kernel/random/boot_id >"$READY_MARKER"`+"\n"+`log "done: wrote $READY_MARKER"`) {
				t.Errorf("%s startup script does not end by writing the ready marker", role)
			}
		}
		want := map[string][]string{
			"kafka":    {"readonly COMPOSE_FILE='compose.kafka.yaml'", "KAFKA_ADVERTISED_HOST=10.10.0.10"},
			"consumer": {"readonly COMPOSE_FILE='compose.apps.yaml'", "readonly COMPOSE_PROFILE='consumer'", "KAFKA_BOOTSTRAP=10.10.0.10:9092"},
			"producer": {"readonly COMPOSE_FILE='compose.apps.yaml'", "readonly COMPOSE_PROFILE='producer'", "KAFKA_BOOTSTRAP=10.10.0.10:9092"},
		}
		shellcheck, err := exec.LookPath("shellcheck")
		if err != nil {
			t.Fatal("shellcheck is not installed: run `bash scripts/tools.sh`")
		}
		out := t.TempDir()
		for role, needles := range want {
			vm := plan.ResourcePlannedValuesMap[`google_compute_instance.vm["`+role+`"]`]
			if vm == nil {
				t.Fatalf("no %s VM planned", role)
			}
			md, _ := vm.AttributeValues["metadata"].(map[string]any)
			script, _ := md["startup-script"].(string)
			for _, n := range needles {
				if !strings.Contains(script, n) {
					t.Errorf("%s startup script lacks %q", role, n)
				}
			}
			path := filepath.Join(out, role+"-startup.sh")
			if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			if res, err := exec.Command(shellcheck, "--shell=bash", path).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s startup script: %v\n%s", role, err, res)
			}
		}
	})
}

// startupScript is the planned startup-script metadata of the VM with key vm.
func startupScript(t *testing.T, plan *terraform.PlanStruct, vm string) string {
	t.Helper()
	r := plan.ResourcePlannedValuesMap[`google_compute_instance.vm["`+vm+`"]`]
	if r == nil {
		t.Fatalf("no %s VM planned", vm)
	}
	md, _ := r.AttributeValues["metadata"].(map[string]any)
	script, _ := md["startup-script"].(string)
	return script
}

// TestConsumerCount plans three consumers: three VMs in one group, each with
// its own instance ID, and a validation that fails the plan when the topic
// has fewer partitions than consumers.
func TestConsumerCount(t *testing.T) {
	dir := stageForDouble(t)
	opts := offlineOptions(t, dir, map[string]any{"project_id": testProject, "consumer_count": 3, "kafka_partitions": 3})
	opts.PlanFilePath = filepath.Join(t.TempDir(), "plan.out")
	plan := terraform.InitAndPlanAndShowWithStruct(t, opts)
	for _, name := range []string{"consumer", "consumer-1", "consumer-2"} {
		script := startupScript(t, plan, name)
		vmName := "turnstile-" + name
		for _, n := range []string{"CONSUMER_INSTANCE_ID=" + vmName + "\n", "CONSUMER_GROUP=turnstile-consumer\n"} {
			if !strings.Contains(script, n) {
				t.Errorf("%s startup script lacks %q", vmName, n)
			}
		}
	}
	if n := len(resourcesOfType(plan, "google_compute_instance")); n != 5 {
		t.Errorf("planned %d VMs, want 5 (kafka, producer, three consumers)", n)
	}

	bad := offlineOptions(t, dir, map[string]any{"project_id": testProject, "consumer_count": 4, "kafka_partitions": 3})
	out, err := terraform.PlanE(t, bad)
	if err == nil {
		t.Fatal("plan with consumer_count 4 and kafka_partitions 3 succeeded; want the kafka_partitions validation to fail it")
	}
	if !strings.Contains(out+err.Error(), "kafka_partitions must be at least consumer_count") {
		t.Errorf("plan failed, but not on the partitions validation:\n%s", out)
	}
}

// TestProviderPinnedExactly reads the real terraform/versions.tf: one exact
// 7.x.y release of hashicorp/google, no range.
func TestProviderPinnedExactly(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "terraform", "versions.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if !providerPin.Match(data) {
		t.Errorf("terraform/versions.tf must pin hashicorp/google with version = \"7.x.y\"")
	}
	if regexp.MustCompile(`(?m)^\s*version\s*=\s*"[~><!=]`).Match(data) {
		t.Errorf("terraform/versions.tf has a version range; pin one release")
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOutputsAfterFakeApply applies to a throw-away local state through the
// provider TEST DOUBLE (which fakes create in memory) and reads the outputs
// the deploy workflows depend on. It is also the first-apply test: the double
// behaves as an EMPTY project (tools/google-provider-double/emptyproject.go)
// and refuses an alert policy that Cloud Monitoring would refuse before any
// metric exists, so the apply fails on such a policy.
func TestOutputsAfterFakeApply(t *testing.T) {
	dir := stageForDouble(t)
	opts := offlineOptions(t, dir, map[string]any{"project_id": testProject, "zone": testZone})
	defer destroyKeepingDataDisk(t, opts)
	terraform.InitAndApply(t, opts)

	names := terraform.OutputMap(t, opts, "vm_names")
	wantNames := map[string]string{"kafka": "turnstile-kafka", "consumer": "turnstile-consumer", "producer": "turnstile-producer"}
	for role, name := range wantNames {
		if names[role] != name {
			t.Errorf("vm_names[%s] = %q, want %q", role, names[role], name)
		}
	}

	ips := terraform.OutputMap(t, opts, "internal_ips")
	if len(ips) != 3 || ips["kafka"] != "10.10.0.10" {
		t.Errorf("internal_ips = %v, want three entries with kafka at 10.10.0.10", ips)
	}

	if got := terraform.Output(t, opts, "registry"); got != "us-central1-docker.pkg.dev/"+testProject+"/turnstile" {
		t.Errorf("registry = %q", got)
	}
	if got := terraform.Output(t, opts, "bucket_name"); got != testProject+"-turnstile-lake" {
		t.Errorf("bucket_name = %q", got)
	}

	// The deploy workflows read repository variables named after the outputs
	// (upper case). Every `vars.NAME` they use must be one of them, except the
	// two that come from the one-time Workload Identity setup in docs/deploy.md.
	oneTimeSetup := map[string]bool{"WIF_PROVIDER": true, "DEPLOY_SERVICE_ACCOUNT": true}
	ghVars := terraform.OutputMap(t, opts, "github_variables")
	for name, out := range ghVars {
		if got := terraform.Output(t, opts, strings.ToLower(name)); got != out {
			t.Errorf("github_variables.%s = %q but output %s = %q", name, out, strings.ToLower(name), got)
		}
	}
	varRE := regexp.MustCompile(`\bvars\.([A-Za-z0-9_]+)`)
	for _, wf := range []string{"deploy-bitnami.yml", "deploy-apps.yml"} {
		data, err := os.ReadFile(filepath.Join(repoRoot(t), ".github", "workflows", wf))
		if err != nil {
			t.Fatalf("read workflow: %v", err)
		}
		used := varRE.FindAllStringSubmatch(string(data), -1)
		if len(used) == 0 {
			t.Errorf("%s reads no repository variables", wf)
		}
		for _, m := range used {
			if _, ok := ghVars[m[1]]; !ok && !oneTimeSetup[m[1]] {
				t.Errorf("%s reads vars.%s, which is not a Terraform output (have %v)", wf, m[1], keys(ghVars))
			}
		}
	}

	raw, _ := json.Marshal(ghVars)
	t.Logf("github_variables: %s", raw)
}

// destroyKeepingDataDisk checks that `destroy` refuses to delete the Kafka
// data disk (lifecycle.prevent_destroy), then does what docs/deploy.md tells
// an operator to do: forget the disk (state rm) and destroy the rest.
func destroyKeepingDataDisk(t *testing.T, opts *terraform.Options) {
	t.Helper()
	out, err := terraform.DestroyE(t, opts)
	if err == nil {
		t.Errorf("destroy succeeded; the Kafka data disk must be protected by prevent_destroy")
	} else if !strings.Contains(out+err.Error(), "google_compute_disk.kafka_data") || !strings.Contains(out+err.Error(), "prevent_destroy") {
		t.Errorf("destroy failed, but not on the data disk's prevent_destroy:\n%s", out)
	}
	terraform.RunTerraformCommand(t, opts, "state", "rm", "google_compute_disk.kafka_data")
	terraform.Destroy(t, opts)
}

// TestManagedBackendFakeApply applies kafka_backend = managed through the
// provider TEST DOUBLE: no Kafka VM, the managed bootstrap address, the
// repository variables the deploy workflows read (deploy-bitnami learns from
// KAFKA_BACKEND that it has nothing to do, so KAFKA_VM_NAME may be absent),
// and a destroy that stops at the cluster's prevent_destroy.
func TestManagedBackendFakeApply(t *testing.T) {
	dir := stageForDouble(t)
	opts := offlineOptions(t, dir, map[string]any{"project_id": testProject, "zone": testZone, "kafka_backend": "managed"})
	defer func() {
		out, err := terraform.DestroyE(t, opts)
		if err == nil {
			t.Errorf("destroy succeeded; the managed Kafka cluster must be protected by prevent_destroy")
		} else if !strings.Contains(out+err.Error(), "google_managed_kafka_cluster.this") || !strings.Contains(out+err.Error(), "prevent_destroy") {
			t.Errorf("destroy failed, but not on the cluster's prevent_destroy:\n%s", out)
		}
		terraform.RunTerraformCommand(t, opts, "state", "rm", "google_managed_kafka_cluster.this", "google_managed_kafka_topic.this")
		terraform.Destroy(t, opts)
	}()
	terraform.InitAndApply(t, opts)

	if names := terraform.OutputMap(t, opts, "vm_names"); len(names) != 2 || names["kafka"] != "" {
		t.Errorf("vm_names = %v, want the producer and the consumer only", names)
	}
	want := "bootstrap.turnstile-kafka.us-central1.managedkafka." + testProject + ".cloud.goog:9092"
	if got := terraform.Output(t, opts, "kafka_bootstrap"); got != want {
		t.Errorf("kafka_bootstrap = %q, want %q", got, want)
	}
	if got := terraform.Output(t, opts, "managed_kafka_cluster"); got == "" {
		t.Error("managed_kafka_cluster is empty after the apply")
	}

	ghVars := terraform.OutputMap(t, opts, "github_variables")
	if ghVars["KAFKA_BACKEND"] != "managed" {
		t.Errorf("github_variables.KAFKA_BACKEND = %q, want managed", ghVars["KAFKA_BACKEND"])
	}
	if _, ok := ghVars["KAFKA_VM_NAME"]; ok {
		t.Errorf("github_variables has KAFKA_VM_NAME without a Kafka VM: %v", ghVars)
	}
	data, err := os.ReadFile(filepath.Join(repoRoot(t), ".github", "workflows", "deploy-bitnami.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "vars.KAFKA_BACKEND") {
		t.Error("deploy-bitnami.yml does not read vars.KAFKA_BACKEND, so it cannot tell that there is nothing to deploy")
	}
}
