package mta

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/gcstest"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

func TestExpandLocal(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"turnstile_230107.txt", "turnstile_230114.txt", "turnstile_230121.txt.gz", ".hidden", "notes.md"} {
		os.WriteFile(filepath.Join(dir, name), []byte(header), 0o644)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "turnstile_230128.txt"), []byte(header), 0o644)
	os.Mkdir(filepath.Join(dir, "empty"), 0o755)
	in := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, filepath.Join(dir, n))
		}
		return out
	}
	tests := []struct {
		spec    string
		want    []string
		wantErr string
	}{
		{spec: filepath.Join(dir, "notes.md"), want: in("notes.md")},
		{spec: dir, want: in("notes.md", "turnstile_230107.txt", "turnstile_230114.txt", "turnstile_230121.txt.gz")},
		{spec: filepath.Join(dir, "turnstile_*"), want: in("turnstile_230107.txt", "turnstile_230114.txt", "turnstile_230121.txt.gz")},
		{spec: filepath.Join(dir, "turnstile_2301[01]?.txt"), want: in("turnstile_230107.txt", "turnstile_230114.txt")},
		{spec: filepath.Join(dir, "*"), want: in("notes.md", "turnstile_230107.txt", "turnstile_230114.txt", "turnstile_230121.txt.gz")},
		{spec: filepath.Join(dir, "*", "*.txt"), want: in("sub/turnstile_230128.txt")},
		{spec: filepath.Join(dir, "turnstile_19*"), wantErr: "no file matches"},
		{spec: filepath.Join(dir, "turnstile_[*"), wantErr: "bad glob pattern"},
		{spec: filepath.Join(dir, "empty"), wantErr: "directory holds no file"},
		{spec: filepath.Join(dir, "missing.txt"), wantErr: "no such file"},
	}
	for _, tt := range tests {
		got, err := ExpandLocal(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ExpandLocal(%s) error = %v, want %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ExpandLocal(%s) = %q, %v; want %q", tt.spec, got, err, tt.want)
		}
	}
}

func TestParseGCS(t *testing.T) {
	tests := []struct{ spec, bucket, prefix, wantErr string }{
		{spec: "gs://mta-raw/turnstile/2023/", bucket: "mta-raw", prefix: "turnstile/2023/"},
		{spec: "gs://mta-raw", bucket: "mta-raw"},
		{spec: "gs://mta-raw/", bucket: "mta-raw"},
		{spec: "gs:///x", wantErr: "want gs://BUCKET/PREFIX"},
		{spec: "gs://MTA/x", wantErr: "not a GCS bucket name"},
	}
	for _, tt := range tests {
		b, p, err := ParseGCS(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseGCS(%s) error = %v, want %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil || b != tt.bucket || p != tt.prefix {
			t.Errorf("ParseGCS(%s) = %q, %q, %v", tt.spec, b, p, err)
		}
	}
}

// TestResolveGCS lists and reads weekly files from the fake GCS, through
// STORAGE_EMULATOR_HOST as the consumer does, and replays them as from disk.
func TestResolveGCS(t *testing.T) {
	srv := gcstest.New(t)
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Host())
	files := genArchive(3, 3, 8)
	ctx := t.Context()
	up, err := lake.NewGCSBucket(ctx, srv.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	dir := t.TempDir()
	for i, f := range files {
		name := filepath.Join(dir, "turnstile_"+string(rune('a'+i))+".txt")
		os.WriteFile(name, []byte(f), 0o644)
		if err := up.Put(ctx, "raw/turnstile/"+filepath.Base(name), []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	up.Put(ctx, "raw/turnstile/", nil) // a "folder" object
	up.Put(ctx, "raw/other/x.txt", []byte("not a turnstile file"))

	ins, err := Resolve(ctx, []string{"gs://" + srv.Bucket() + "/raw/turnstile/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	var names []string
	for _, in := range ins.List {
		names = append(names, in.Name)
	}
	want := []string{"gs://" + srv.Bucket() + "/raw/turnstile/turnstile_a.txt", "gs://" + srv.Bucket() + "/raw/turnstile/turnstile_b.txt",
		"gs://" + srv.Bucket() + "/raw/turnstile/turnstile_c.txt", "gs://" + srv.Bucket() + "/raw/turnstile/turnstile_d.txt"}
	if !slices.Equal(names, want) {
		t.Fatalf("inputs %q, want %q", names, want)
	}
	replay := func(ins []Input) []string {
		c, err := NewConverter()
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range ins {
			if err := c.ReadInput(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		var out []string
		for rec := range c.Finish().Records() {
			out = append(out, string(turnstile.AppendCSV(nil, rec)))
		}
		return out
	}
	fromDisk, err := Resolve(ctx, []string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := replay(ins.List), replay(fromDisk.List)
	if len(a) == 0 || !slices.Equal(a, b) {
		t.Errorf("the replay from GCS (%d messages) differs from the replay from disk (%d)", len(a), len(b))
	}

	if _, err := Resolve(ctx, []string{"gs://" + srv.Bucket() + "/nothing/"}, nil); err == nil || !strings.Contains(err.Error(), "no objects") {
		t.Errorf("an empty prefix: error = %v", err)
	}
	if _, err := Resolve(ctx, []string{"gs://no-such-bucket/x"}, nil); err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Errorf("a missing bucket: error = %v", err)
	}
}
