package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/gcsiam"
	"github.com/turnstile-stream/turnstile-stream/internal/gcstest"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
)

// inputReaderPermissions is what a gs:// --input needs: list the prefix,
// then read each object. The Terraform deployment runs the producer in
// synthetic mode (docker/compose.apps.yaml passes --turnstiles and --rate,
// no --input) and grants its service account nothing on any bucket; a
// producer that replays MTA files from a bucket needs these two on it
// (roles/storage.objectViewer holds them, and folder permissions besides).
var inputReaderPermissions = []string{gcsiam.ObjectsList, gcsiam.ObjectsGet}

// TestGCSInputPermissions replays a gs:// prefix from an emulator that
// enforces IAM permissions: it works with exactly inputReaderPermissions, and
// without either one the producer exits 1 with GCS's 403 naming it.
func TestGCSInputPermissions(t *testing.T) {
	const who = "turnstile-producer@p.iam.gserviceaccount.com"
	srv := sampleOnGCS(t)
	without := func(p string) []string {
		var out []string
		for _, q := range inputReaderPermissions {
			if q != p {
				out = append(out, q)
			}
		}
		return out
	}
	cases := []struct {
		name    string
		perms   []string
		missing string // "" when the replay must succeed
	}{
		{"list and get", inputReaderPermissions, ""},
		{"without list", without(gcsiam.ObjectsList), gcsiam.ObjectsList},
		{"without get", without(gcsiam.ObjectsGet), gcsiam.ObjectsGet},
		{"write permissions only", []string{gcsiam.ObjectsCreate, gcsiam.ObjectsDelete}, gcsiam.ObjectsList},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.SetPolicy(&gcsiam.Policy{Principal: who, Permissions: tc.perms})
			defer srv.SetPolicy(nil)
			code, out, stderr := runProducer(context.Background(), "--input", "gs://"+srv.Bucket()+"/raw/", "--out", "-")
			if tc.missing == "" {
				if code != exitOK || strings.Count(out, "\n") != 208 {
					t.Fatalf("under %v: exit %d, %d messages, want 0 and 208; stderr:\n%s", tc.perms, code, strings.Count(out, "\n"), stderr)
				}
				return
			}
			want := who + " does not have " + tc.missing + " access"
			if code != exitFailure || !strings.Contains(stderr, want) {
				t.Errorf("under %v: exit %d, want %d with %q; stderr:\n%s", tc.perms, code, exitFailure, want, stderr)
			}
		})
	}
}

// sampleOnGCS starts a GCS emulator for the test, points STORAGE_EMULATOR_HOST
// at it, and uploads the sample files under raw/.
func sampleOnGCS(t *testing.T) *gcstest.Server {
	t.Helper()
	srv := gcstest.New(t)
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Host())
	up, err := lake.NewGCSBucket(t.Context(), srv.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	for _, p := range sample {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := up.Put(t.Context(), "raw/"+filepath.Base(p), data); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}
