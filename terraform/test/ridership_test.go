//go:build tftest

package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gruntwork-io/terratest/modules/terraform"
)

// ridershipVars turns the ridership feed on (issue #25), with the hive
// layout so that both ridership tables are planned.
func ridershipVars() map[string]any {
	return map[string]any{
		"project_id":  testProject,
		"zone":        testZone,
		"lake_layout": "hive",
		"ridership":   map[string]any{"dataset": "5wq4-mkjj", "poll_interval": "5m"},
	}
}

// ridershipColumns is the ridership window file header (docs/lake.md) with
// the BigQuery type of each column.
var ridershipColumns = []string{
	"station_complex_id:STRING", "station_complex:STRING", "borough:STRING", "payment_method:STRING", "fare_class_category:STRING",
	"window_start:DATETIME", "window_end:DATETIME", "ridership:INT64", "transfers:INT64",
}

// secretValueKeys are the attributes through which a secret's value would
// reach a plan or a state (google_secret_manager_secret_version and its
// write-only variant).
var secretValueKeys = regexp.MustCompile(`"(secret_data|secret_data_wo|payload)"\s*:`)

// TestRidershipPlan plans the feed on: the BigQuery tables over ridership/
// (URIs, header row, gzip, schema names and types), the SODA secret and its
// one grant to the producer's account, no secret value anywhere in the plan,
// and startup scripts that pass shellcheck.
func TestRidershipPlan(t *testing.T) {
	dir := stageForDouble(t)
	opts := offlineOptions(t, dir, ridershipVars())
	opts.PlanFilePath = filepath.Join(t.TempDir(), "plan.out")
	plan := terraform.InitAndPlanAndShowWithStruct(t, opts)

	t.Run("BigQuery tables over ridership/", func(t *testing.T) {
		lake := "gs://" + testProject + "-turnstile-lake/ridership"
		for addr, want := range map[string]string{
			"google_bigquery_table.ridership[0]":        lake + "/*.csv.gz",
			"google_bigquery_table.ridership_by_day[0]": lake + "/dt=*",
		} {
			tbl := plan.ResourcePlannedValuesMap[addr]
			if tbl == nil {
				t.Errorf("%s is not planned", addr)
				continue
			}
			edc := blocks(tbl.AttributeValues["external_data_configuration"])
			if len(edc) != 1 {
				t.Fatalf("%s external_data_configuration = %v", addr, tbl.AttributeValues["external_data_configuration"])
			}
			e := edc[0]
			if got := strs(e["source_uris"]); len(got) != 1 || got[0] != want {
				t.Errorf("%s source_uris = %v, want [%s]", addr, got, want)
			}
			if e["source_format"] != "CSV" || e["compression"] != "GZIP" || e["autodetect"] != false {
				t.Errorf("%s: source_format=%v compression=%v autodetect=%v, want CSV, GZIP, false", addr, e["source_format"], e["compression"], e["autodetect"])
			}
			if csv := blocks(e["csv_options"]); len(csv) != 1 || csv[0]["skip_leading_rows"] != float64(1) {
				t.Errorf("%s csv_options = %v, want skip_leading_rows 1", addr, e["csv_options"])
			}
			var cols []struct{ Name, Type string }
			schema, _ := e["schema"].(string)
			if err := json.Unmarshal([]byte(schema), &cols); err != nil {
				t.Fatalf("%s schema %q: %v", addr, schema, err)
			}
			got := make([]string, len(cols))
			for i, c := range cols {
				got[i] = c.Name + ":" + c.Type
			}
			if strings.Join(got, ",") != strings.Join(ridershipColumns, ",") {
				t.Errorf("%s schema = %v\nwant %v", addr, got, ridershipColumns)
			}
		}
		hive := blocks(blocks(plan.ResourcePlannedValuesMap["google_bigquery_table.ridership_by_day[0]"].AttributeValues["external_data_configuration"])[0]["hive_partitioning_options"])
		if len(hive) != 1 || hive[0]["source_uri_prefix"] != "gs://"+testProject+"-turnstile-lake/ridership/{dt:DATE}" {
			t.Errorf("ridership_by_day hive_partitioning_options = %v", hive)
		}
	})

	t.Run("only the producer's account may read the SODA secret", func(t *testing.T) {
		grants := resourcesOfType(plan, "google_secret_manager_secret_iam_member")
		if len(grants) != 1 {
			t.Fatalf("secret grants %v, want exactly one", keys(grants))
		}
		g := grants["google_secret_manager_secret_iam_member.producer_soda_app_token[0]"]
		if g == nil {
			t.Fatalf("no producer_soda_app_token grant: %v", keys(grants))
		}
		if g["member"] != "serviceAccount:turnstile-producer@"+testProject+".iam.gserviceaccount.com" ||
			g["role"] != "roles/secretmanager.secretAccessor" ||
			g["secret_id"] != "projects/"+testProject+"/secrets/turnstile-soda-app-token" {
			t.Errorf("grant = member %v, role %v, secret %v; want the producer's account, secretAccessor, the SODA secret", g["member"], g["role"], g["secret_id"])
		}
		for addr, m := range resourcesOfType(plan, "google_project_iam_member") {
			if role, _ := m["role"].(string); strings.Contains(role, "secretmanager") {
				t.Errorf("%s grants %s on the whole project", addr, role)
			}
		}
	})

	t.Run("no secret value in the plan", func(t *testing.T) {
		for _, rc := range plan.RawPlan.ResourceChanges {
			if strings.Contains(rc.Type, "secret_version") {
				t.Errorf("%s: Terraform must create the secret only, never a version (its value would be in the state)", rc.Address)
			}
		}
		for name := range plan.RawPlan.Variables {
			if strings.Contains(strings.ToLower(name), "token") {
				t.Errorf("variable %s: the token must never pass through Terraform", name)
			}
		}
		raw, err := json.Marshal(plan.RawPlan)
		if err != nil {
			t.Fatal(err)
		}
		if m := secretValueKeys.Find(raw); m != nil {
			t.Errorf("the plan holds a secret value attribute: %s", m)
		}
		if !strings.Contains(startupScript(t, plan, "producer"), "readonly SODA_APP_TOKEN_SECRET='projects/"+testProject+"/secrets/turnstile-soda-app-token/versions/latest'\n") {
			t.Error("the producer's startup script does not name the token's secret version")
		}
	})

	t.Run("startup scripts with the feed pass shellcheck", func(t *testing.T) {
		shellcheck, err := exec.LookPath("shellcheck")
		if err != nil {
			t.Fatal("shellcheck is not installed: run `bash scripts/tools.sh`")
		}
		out := t.TempDir()
		for _, vm := range []string{"kafka", "consumer", "producer"} {
			path := filepath.Join(out, vm+"-startup.sh")
			must(t, os.WriteFile(path, []byte(startupScript(t, plan, vm)), 0o644))
			if res, err := exec.Command(shellcheck, "--shell=bash", path).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s startup script: %v\n%s", vm, err, res)
			}
		}
	})

	t.Run("the producer reads the token into a 0600 file at boot", func(t *testing.T) {
		testFetchSodaAppToken(t, startupScript(t, plan, "producer"))
	})

	t.Run("the Ops Agent scrapes the ridership apps too", func(t *testing.T) {
		for _, vm := range []string{"consumer", "producer"} {
			if s := startupScript(t, plan, vm); !strings.Contains(s, `- targets: ["localhost:$RIDERSHIP_METRICS_PORT"]`) || !strings.Contains(s, "readonly RIDERSHIP_METRICS_PORT='9091'") {
				t.Errorf("the %s VM's Ops Agent config does not scrape the ridership app on 9091", vm)
			}
		}
	})
}

// testFetchSodaAppToken runs fetch_soda_app_token, cut out of the rendered
// producer startup script, against a stub curl: the metadata server's
// access token goes to Secret Manager on curl's stdin, the token lands in
// STATE/secrets/soda-app-token with mode 0600 and the container's owner
// (chown is stubbed: it needs root), without its trailing newline, in a
// 0700 folder, and is never printed. A failure is logged, keeps the
// previous token and lets the boot go on.
func testFetchSodaAppToken(t *testing.T, script string) {
	fn := regexp.MustCompile(`(?ms)^fetch_soda_app_token\(\) \{\n.*?^\}\n`).FindString(script)
	if fn == "" {
		t.Fatal("no fetch_soda_app_token function in the producer startup script")
	}
	const secret = "projects/demo-project-123/secrets/turnstile-soda-app-token/versions/latest"
	const token = "SodaAppTok3n"
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	must(t, os.MkdirAll(bin, 0o755))
	stubs := map[string]string{
		"curl": `echo "curl $*" >>"$STUB_DIR/curl.log"
case "$*" in
*computeMetadata*/token*) echo '{"access_token": "tok-123", "expires_in": 3599}' ;;
*"/v1/` + secret + `:access"*)
  [ -n "$STUB_SECRET_FAIL" ] && { echo "curl: (22) The requested URL returned error: 404" >&2; exit 22; }
  grep -qx 'Authorization: Bearer tok-123' || { echo "no token on stdin" >&2; exit 22; }
  printf '{"name": "x", "payload": {"data": "%s"}}\n' "$(printf '%s\n' "$STUB_TOKEN" | base64)"
  ;;
*) exit 7 ;;
esac`,
		"chown": `echo "chown $*" >>"$STUB_DIR/chown.log"`,
	}
	for name, body := range stubs {
		must(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755))
	}
	driver := filepath.Join(dir, "run.sh")
	body := "set -euo pipefail\nlog() { echo \"log: $*\"; }\nSODA_APP_TOKEN_SECRET='" + secret + "' APP_UID=65532\n" +
		fn + "fetch_soda_app_token\necho after-token\n"
	must(t, os.WriteFile(driver, []byte(body), 0o644))
	state := filepath.Join(dir, "state")
	file := filepath.Join(state, "secrets", "soda-app-token")
	run := func(t *testing.T, tok string, fail bool) string {
		t.Helper()
		cmd := exec.Command("bash", driver)
		cmd.Env = []string{
			"PATH=" + bin + ":/usr/bin:/bin", "STUB_DIR=" + dir, "STUB_TOKEN=" + tok,
			"TURNSTILE_STATE_DIR=" + state, "TURNSTILE_SECRETMANAGER_URL=https://secretmanager.test",
		}
		if fail {
			cmd.Env = append(cmd.Env, "STUB_SECRET_FAIL=1")
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fetch_soda_app_token stopped the boot: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "after-token") {
			t.Errorf("the boot did not go on after fetch_soda_app_token:\n%s", out)
		}
		if strings.Contains(string(out), tok) {
			t.Errorf("the token was printed:\n%s", out)
		}
		return string(out)
	}

	t.Run("no version yet: logged, no file, the boot goes on", func(t *testing.T) {
		out := run(t, token, true)
		if !strings.Contains(out, "cannot read the SODA app token from Secret Manager ("+secret+")") || !strings.Contains(out, "gcloud secrets versions add") || !strings.Contains(out, "cannot start until the next boot") {
			t.Errorf("output does not say what to do:\n%s", out)
		}
		if _, err := os.Stat(file); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failed read (%v)", file, err)
		}
	})

	t.Run("read", func(t *testing.T) {
		out := run(t, token, false)
		if !strings.Contains(out, "read the SODA app token from "+secret) {
			t.Errorf("output does not say where the token came from:\n%s", out)
		}
		if got := readFile(t, file); got != token {
			t.Errorf("token file holds %q, want %q (no trailing newline)", got, token)
		}
		for path, want := range map[string]os.FileMode{file: 0o600, filepath.Dir(file): 0o700 | os.ModeDir, filepath.Join(state, "ridership"): 0o700 | os.ModeDir} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Errorf("%s: %v", path, err)
			} else if fi.Mode() != want {
				t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
			}
		}
		chowns := readFile(t, filepath.Join(dir, "chown.log"))
		for _, want := range []string{"chown 65532:65532 " + file + "\n", "chown 65532:65532 " + filepath.Join(state, "ridership") + "\n", "chown 65532:65532 " + filepath.Dir(file) + "\n"} {
			if !strings.Contains(chowns, want) {
				t.Errorf("chown calls lack %q:\n%s", want, chowns)
			}
		}
		if calls := readFile(t, filepath.Join(dir, "curl.log")); strings.Contains(calls, "tok-123") || strings.Contains(calls, token) {
			t.Errorf("a token was on curl's command line:\n%s", calls)
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".soda-app-token.*")); len(left) != 0 {
			t.Errorf("temporary files left behind: %v", left)
		}
	})

	t.Run("a rotated token is written in place", func(t *testing.T) {
		before, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		run(t, "R0tated", false)
		after, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, file); got != "R0tated" {
			t.Errorf("token file holds %q after the rotation", got)
		}
		if !os.SameFile(before, after) {
			t.Error("the token file was replaced, not rewritten: a running container's bind mount would keep the old file")
		}
	})

	t.Run("a failed read keeps the previous token", func(t *testing.T) {
		out := run(t, "never", true)
		if !strings.Contains(out, "keeps the previous token") {
			t.Errorf("output does not say the previous token stays:\n%s", out)
		}
		if got := readFile(t, file); got != "R0tated" {
			t.Errorf("token file holds %q after a failed read, want the previous token", got)
		}
	})
}

// TestRidershipFakeApply applies the feed through the provider TEST DOUBLE
// and reads the state: the secret exists, no secret value (no version, no
// secret_data or payload attribute) is in it, and the outputs name the
// secret, the ridership sink and both tables.
func TestRidershipFakeApply(t *testing.T) {
	dir := stageForDouble(t)
	opts := offlineOptions(t, dir, ridershipVars())
	defer destroyKeepingDataDisk(t, opts)
	terraform.InitAndApply(t, opts)

	state, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(state), `"type": "google_secret_manager_secret"`) {
		t.Error("the state holds no google_secret_manager_secret")
	}
	if strings.Contains(string(state), "google_secret_manager_secret_version") {
		t.Error("the state holds a secret version: the token must never pass through Terraform")
	}
	if m := secretValueKeys.Find(state); m != nil {
		t.Errorf("the state holds a secret value attribute: %s", m)
	}

	if got := terraform.Output(t, opts, "soda_app_token_secret"); got == "" {
		t.Error("soda_app_token_secret is empty after the apply")
	}
	if got, want := terraform.Output(t, opts, "ridership_lake_sink"), "gs://"+testProject+"-turnstile-lake/ridership?layout=hive"; got != want {
		t.Errorf("ridership_lake_sink = %q, want %q", got, want)
	}
	tables := strings.Join(terraform.OutputList(t, opts, "bigquery_tables"), " ")
	for _, want := range []string{testProject + ".turnstile.ridership_windows", testProject + ".turnstile.ridership_windows_by_day"} {
		if !strings.Contains(tables+" ", want+" ") {
			t.Errorf("bigquery_tables = %s, want %s among them", tables, want)
		}
	}
}

// ridershipVM prepares an app VM running both its apps (vm.env names the
// ridership app's port) and returns turnstile-up against a curl that answers
// /readyz on 9090 and 9091 with $STUB_READYZ_9090 and $STUB_READYZ_9091, and
// /metrics on PORT with the file PORT-N (N counts that port's scrapes).
func ridershipVM(t *testing.T) (dir string, run func(env map[string]string, args ...string) (string, error)) {
	app, run := appVM(t)
	dir = filepath.Dir(app)
	must(t, os.WriteFile(filepath.Join(app, "role.env"), []byte("ROLE=consumer\nCOMPOSE_FILE=compose.apps.yaml\nCOMPOSE_PROFILE=\"consumer consumer-ridership\"\nREGISTRY_HOST=\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(app, "vm.env"), []byte("KAFKA_BOOTSTRAP=10.10.0.10:9092\nRIDERSHIP_METRICS_PORT=9091\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(app, "images.env"), []byte("CONSUMER_IMAGE=r/consumer:aaa\n"), 0o644))
	curl := `#!/bin/bash
port=$(printf '%s\n' "$*" | sed -n 's#.*127\.0\.0\.1:\([0-9]*\)/.*#\1#p')
case "$*" in
*/readyz*) v="STUB_READYZ_$port"; exit "${!v:-0}" ;;
*/metrics*)
  n=$(( $(cat "$STUB_METRICS_DIR/$port-count" 2>/dev/null || echo 0) + 1 ))
  echo "$n" >"$STUB_METRICS_DIR/$port-count"
  cat "$STUB_METRICS_DIR/$port-$n"
  ;;
esac
`
	must(t, os.WriteFile(filepath.Join(dir, "bin", "curl"), []byte(curl), 0o755))
	return dir, run
}

// With the ridership feed on a VM, turnstile-up starts both profiles and
// counts the ridership app in health, probe and lag.
func TestTurnstileUpRidershipApps(t *testing.T) {
	t.Run("up starts both profiles", func(t *testing.T) {
		dir, run := ridershipVM(t)
		if out, err := run(nil, "up"); err != nil {
			t.Fatalf("up: %v\n%s", err, out)
		}
		if log := readFile(t, filepath.Join(dir, "docker.log")); !strings.Contains(log, "--profile consumer --profile consumer-ridership up -d") {
			t.Errorf("docker compose up without both profiles:\n%s", log)
		}
	})

	t.Run("health needs both apps ready", func(t *testing.T) {
		_, run := ridershipVM(t)
		if out, err := run(nil, "health", "0"); err != nil {
			t.Fatalf("health with both apps ready: %v\n%s", err, out)
		}
		out, err := run(map[string]string{"STUB_READYZ_9091": "7"}, "health", "0")
		if err == nil || !strings.Contains(out, "consumer not healthy") {
			t.Errorf("health with the ridership app not ready: err = %v, want not healthy\n%s", err, out)
		}
	})

	t.Run("probe reports the ridership app", func(t *testing.T) {
		dir, run := ridershipVM(t)
		log := filepath.Join(dir, "readyz.log")
		if out, err := run(map[string]string{"TURNSTILE_PROBE_LOG": log, "STUB_READYZ_9091": "7"}, "probe"); err != nil {
			t.Fatalf("probe: %v\n%s", err, out)
		}
		if got := readFile(t, log); !strings.Contains(got, " turnstile-readyz not-ready vm=") {
			t.Errorf("probe log %q, want not-ready while the ridership app is not ready", got)
		}
	})

	t.Run("lag sums both consumers", func(t *testing.T) {
		dir, run := ridershipVM(t)
		lag := func(n int) string { return "turnstile_consumer_lag{partition=\"0\"} " + strings.Repeat("9", n) + "\n" }
		for name, body := range map[string]string{"9090-1": lag(4), "9090-2": lag(4), "9091-1": lag(5), "9091-2": lag(4)} {
			must(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
		}
		out, err := run(nil, "lag", "0")
		if err != nil || !strings.Contains(out, "109998 -> 19998") {
			t.Errorf("lag: err = %v, want the sum over both apps falling (109998 -> 19998)\n%s", err, out)
		}
	})
}
