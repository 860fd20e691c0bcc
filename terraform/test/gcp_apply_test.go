//go:build gcp

package test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/terraform"
)

// TestApplyOnRealGCP creates the whole stack in a real, throw-away GCP
// project, checks the outputs, and destroys it. It costs money and takes
// about 10 minutes, so it needs both the `gcp` build tag and
// TURNSTILE_GCP_PROJECT, and it never runs in CI:
//
//	gcloud auth application-default login
//	cd terraform/test   # a Go module of its own
//	TURNSTILE_GCP_PROJECT=my-scratch-project \
//	  go test -tags gcp -run TestApplyOnRealGCP -timeout 40m -v .
//
// TERRAFORM_BIN picks the binary (default: terraform from PATH) and
// TURNSTILE_GCP_ZONE the zone (default us-central1-a). The real provider comes
// from the registry, so TF_CLI_CONFIG_FILE is cleared for this test.
func TestApplyOnRealGCP(t *testing.T) {
	project := os.Getenv("TURNSTILE_GCP_PROJECT")
	if project == "" {
		t.Fatal("set TURNSTILE_GCP_PROJECT to a throw-away GCP project to run this test (see the doc comment)")
	}
	zone := os.Getenv("TURNSTILE_GCP_ZONE")
	if zone == "" {
		zone = "us-central1-a"
	}
	region := zone[:strings.LastIndex(zone, "-")]
	bin := os.Getenv("TERRAFORM_BIN")
	if bin == "" {
		bin = "terraform"
	}
	prefix := fmt.Sprintf("tt%d", time.Now().Unix()%1_000_000)

	opts := &terraform.Options{
		TerraformBinary: bin,
		TerraformDir:    stageConfig(t),
		NoColor:         true,
		Vars: map[string]any{
			"project_id":           project,
			"region":               region,
			"zone":                 zone,
			"name_prefix":          prefix,
			"bucket_name":          prefix + "-" + project + "-lake",
			"registry_id":          prefix + "-apps",
			"bucket_force_destroy": true,
			// Throw-away stack: let destroy remove what is protected.
			"kafka_deletion_protection":    false,
			"bigquery_deletion_protection": false,
			"bigquery_dataset_id":          prefix + "_turnstile",
		},
		EnvVars: map[string]string{"TF_CLI_CONFIG_FILE": ""},
	}
	defer func() {
		// The data disk has prevent_destroy (no variable lifts it): forget it,
		// destroy the rest, delete it with gcloud, as docs/deploy.md says.
		terraform.RunTerraformCommand(t, opts, "state", "rm", "google_compute_disk.kafka_data")
		terraform.Destroy(t, opts)
		out, err := exec.Command("gcloud", "compute", "disks", "delete", prefix+"-kafka-data",
			"--project", project, "--zone", zone, "--quiet").CombinedOutput()
		if err != nil {
			t.Errorf("delete the data disk %s-kafka-data by hand: %v\n%s", prefix, err, out)
		}
	}()
	terraform.InitAndApply(t, opts)

	names := terraform.OutputMap(t, opts, "vm_names")
	for _, role := range []string{"kafka", "consumer", "producer"} {
		if names[role] != prefix+"-"+role {
			t.Errorf("vm_names[%s] = %q", role, names[role])
		}
	}
	ips := terraform.OutputMap(t, opts, "internal_ips")
	for role, ip := range ips {
		if ip == "" {
			t.Errorf("%s has no internal IP", role)
		}
	}
	if got := terraform.Output(t, opts, "bucket_name"); got != prefix+"-"+project+"-lake" {
		t.Errorf("bucket_name = %q", got)
	}
}
