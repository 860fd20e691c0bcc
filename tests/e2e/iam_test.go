package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/gcsiam"
)

// consumerPrincipal is the service account the 403s of the GCS emulator
// name: the consumer's, as terraform/iam.tf makes it for name_prefix
// "turnstile".
const consumerPrincipal = "turnstile-consumer@e2e-project.iam.gserviceaccount.com"

// lakeWriterPolicy returns the permissions the consumer holds on the lake
// in a Terraform deployment: the permissions list of the custom role
// google_project_iam_custom_role.lake_writer, read from terraform/iam.tf at
// every run (never a copy), so that the GCS cases fail when the code needs a
// permission the Terraform does not grant.
func lakeWriterPolicy(t testing.TB) gcsiam.Policy {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "terraform", "iam.tf")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	perms, err := rolePermissions(string(src), "google_project_iam_custom_role", "lake_writer")
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return gcsiam.Policy{Principal: consumerPrincipal, Permissions: perms}
}

var (
	hclComment  = regexp.MustCompile(`(?m)(#|//).*$`)
	hclListBody = regexp.MustCompile(`(?s)\bpermissions\s*=\s*\[(.*?)\]`)
	hclString   = regexp.MustCompile(`"([^"\\]*)"`)
)

// rolePermissions reads the `permissions = [...]` attribute of the block
// `resource "TYPE" "NAME" { ... }` in the HCL text src. It understands what
// terraform/iam.tf writes: a list of literal strings, on one line or many,
// with # or // comments. Anything else in the list (a variable, a function
// call, a concatenation) is an error, as is a missing block or attribute, or
// a permission that is not storage.RESOURCE.VERB: a list this helper cannot
// read exactly must not turn into a smaller or larger one in the tests.
func rolePermissions(src, typ, name string) ([]string, error) {
	head := regexp.MustCompile(`(?m)^resource\s+"` + regexp.QuoteMeta(typ) + `"\s+"` + regexp.QuoteMeta(name) + `"\s*\{`)
	loc := head.FindStringIndex(src)
	if loc == nil {
		return nil, fmt.Errorf("no resource %q %q", typ, name)
	}
	// The block ends at the brace that balances its opening one; braces of
	// ${...} interpolations balance too.
	depth, end := 0, -1
	for i := loc[1] - 1; i < len(src) && end < 0; i++ {
		switch src[i] {
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				end = i
			}
		}
	}
	if end < 0 {
		return nil, fmt.Errorf("resource %q %q: unbalanced braces", typ, name)
	}
	block := hclComment.ReplaceAllString(src[loc[1]:end], "")
	lists := hclListBody.FindAllStringSubmatch(block, -1)
	if len(lists) != 1 {
		return nil, fmt.Errorf("resource %q %q: want one `permissions = [...]`, found %d", typ, name, len(lists))
	}
	body := lists[0][1]
	if leftover := strings.TrimSpace(strings.ReplaceAll(hclString.ReplaceAllString(body, ""), ",", "")); leftover != "" {
		return nil, fmt.Errorf("resource %q %q: permissions hold more than literal strings: %q", typ, name, strings.TrimSpace(body))
	}
	var quoted []string
	for _, m := range hclString.FindAllStringSubmatch(body, -1) {
		quoted = append(quoted, m[1])
	}
	perms, err := gcsiam.ParsePermissions(strings.Join(quoted, ","))
	if err != nil {
		return nil, fmt.Errorf("resource %q %q: %w", typ, name, err)
	}
	if len(perms) != len(quoted) {
		return nil, fmt.Errorf("resource %q %q: permissions %q repeat one", typ, name, quoted)
	}
	return perms, nil
}

func TestRolePermissionsParser(t *testing.T) {
	const role = `resource "google_project_iam_custom_role" "lake_writer" {`
	cases := []struct {
		name, src string
		want      string // comma-joined, or "error"
	}{
		{"one line", role + `
  count   = var.x == null ? 1 : 0
  role_id = "${replace(var.name_prefix, "-", "_")}_lake_writer"
  permissions = ["storage.objects.create", "storage.objects.delete"]
}`, "storage.objects.create,storage.objects.delete"},
		{"many lines and comments", role + `
  permissions = [
    "storage.objects.create", # write
    "storage.objects.get",    // read back
    # "storage.objects.list", commented out
  ]
}`, "storage.objects.create,storage.objects.get"},
		{"another resource's list is not read", `resource "google_project_iam_custom_role" "other" {
  permissions = ["storage.objects.list"]
}
` + role + `
  permissions = ["storage.objects.get"]
}
resource "x" "y" { permissions = ["storage.buckets.list"] }`, "storage.objects.get"},
		{"empty list", role + "\n  permissions = []\n}", ""},
		{"no such resource", `resource "google_project_iam_custom_role" "other" { permissions = [] }`, "error"},
		{"no permissions", role + "\n  title = \"t\"\n}", "error"},
		{"a variable in the list", role + "\n  permissions = concat([\"storage.objects.get\"], var.extra)\n}", "error"},
		{"a reference among strings", role + "\n  permissions = [\"storage.objects.get\", local.more]\n}", "error"},
		{"not a permission", role + "\n  permissions = [\"roles/storage.objectViewer\"]\n}", "error"},
		{"repeated", role + "\n  permissions = [\"storage.objects.get\", \"storage.objects.get\"]\n}", "error"},
		{"unbalanced", role + "\n  permissions = [\"storage.objects.get\"]\n", "error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rolePermissions(tc.src, "google_project_iam_custom_role", "lake_writer")
			if tc.want == "error" {
				if err == nil {
					t.Fatalf("want an error, got %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.Join(got, ","); s != tc.want {
				t.Errorf("got %q, want %q", s, tc.want)
			}
		})
	}
}

// TestRolePermissionsOfTheTerraform reads the real terraform/iam.tf: the
// lake role is readable and holds at least the create that every write
// needs (what else it must hold is for the GCS cases to find out).
func TestRolePermissionsOfTheTerraform(t *testing.T) {
	p := lakeWriterPolicy(t)
	if !p.Has(gcsiam.ObjectsCreate) {
		t.Errorf("lake_writer grants %v, without %s", p.Permissions, gcsiam.ObjectsCreate)
	}
	t.Logf("terraform/iam.tf: lake_writer grants %v", p.Permissions)
}
