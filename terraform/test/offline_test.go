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
	opts := offlineOptions(t, stageConfig(t), nil)
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
	dir := stageConfig(t)
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
				if r == "0.0.0.0/0" {
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
					case "9092":
						sawKafka = true
						if len(ranges) != 0 {
							t.Errorf("%s opens Kafka to IP ranges %v, want only the app VMs' tags", addr, ranges)
						}
						if got := strings.Join(strs(fw["source_tags"]), ","); got != "turnstile-consumer,turnstile-producer" {
							t.Errorf("%s admits Kafka clients tagged %q", addr, got)
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
			if got := strings.Join(strs(r["permissions"]), ","); got != "storage.objects.create,storage.objects.delete" {
				t.Errorf("%s grants %s, want only storage.objects.create and storage.objects.delete", addr, got)
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
		for _, rule := range blocks(v["lifecycle_rule"]) {
			for _, a := range blocks(rule["action"]) {
				if a["type"] == "Delete" {
					t.Errorf("a lifecycle rule deletes lake files: %v", rule)
				}
			}
		}
	})

	t.Run("startup scripts name the right compose file and pass shellcheck", func(t *testing.T) {
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
// the deploy workflows depend on.
func TestOutputsAfterFakeApply(t *testing.T) {
	dir := stageConfig(t)
	opts := offlineOptions(t, dir, map[string]any{"project_id": testProject, "zone": testZone})
	defer terraform.Destroy(t, opts)
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
