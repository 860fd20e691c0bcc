package lake

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/turnstile-stream/turnstile-stream/internal/gcstest"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

func TestOpen(t *testing.T) {
	srv := gcstest.New(t)
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Host())
	dir := t.TempDir()
	t.Chdir(dir)

	tests := []struct {
		url      string
		kind     string // "file", "gcs"; "" = want an error
		root     string // folder (file) or bucket (gcs)
		layout   Layout
		errParts []string
	}{
		{url: "file://" + dir + "/lake/turnstile", kind: "file", root: filepath.Join(dir, "lake"), layout: Layout{Prefix: "turnstile"}},
		{url: "file://" + dir + "/lake/turnstile/", kind: "file", root: filepath.Join(dir, "lake"), layout: Layout{Prefix: "turnstile"}},
		{url: "file://rel/dir/turnstile", kind: "file", root: filepath.Join(dir, "rel", "dir"), layout: Layout{Prefix: "turnstile"}},
		{url: "file://./out/turnstile?layout=hive", kind: "file", root: filepath.Join(dir, "out"), layout: Layout{Prefix: "turnstile", Hive: true}},
		{url: "file://turnstile", kind: "file", root: dir, layout: Layout{Prefix: "turnstile"}},
		{url: "gs://" + srv.Bucket() + "/turnstile", kind: "gcs", root: srv.Bucket(), layout: Layout{Prefix: "turnstile"}},
		{url: "gs://" + srv.Bucket() + "/a/b/turnstile", kind: "gcs", root: srv.Bucket(), layout: Layout{Prefix: "a/b/turnstile"}},
		{url: "gs://" + srv.Bucket() + "/turnstile?layout=hive", kind: "gcs", root: srv.Bucket(), layout: Layout{Prefix: "turnstile", Hive: true}},
		{url: "gs://" + srv.Bucket() + "/turnstile?layout=flat", kind: "gcs", root: srv.Bucket(), layout: Layout{Prefix: "turnstile"}},

		{url: "s3://bucket/turnstile", errParts: []string{`unknown scheme "s3"`, "gs://<bucket>"}},
		{url: "/tmp/lake/turnstile", errParts: []string{"no scheme", "file:///abs"}},
		{url: "gs:///turnstile", errParts: []string{"missing bucket"}},
		{url: "gs://" + srv.Bucket(), errParts: []string{"missing prefix"}},
		{url: "gs://" + srv.Bucket() + "/", errParts: []string{"missing prefix"}},
		{url: "gs://Bad_Bucket!/turnstile", errParts: []string{"bucket name"}},
		{url: "gs://b/turnstile", errParts: []string{"bucket name"}},
		{url: "gs://bucket/a//turnstile", errParts: []string{"empty prefix"}},
		{url: "gs://bucket/turn*stile", errParts: []string{"glob"}},
		{url: "gs://bucket:8080/turnstile", errParts: []string{"port"}},
		{url: "gs://bucket/turnstile?layout=weird", errParts: []string{"layout=weird"}},
		{url: "gs://bucket/turnstile?x=1", errParts: []string{"unknown query"}},
		{url: "file:///", errParts: []string{"empty prefix"}},
		{url: "file:relative/turnstile", errParts: []string{"missing //"}},
		{url: "file:///tmp/.hidden", errParts: []string{"starts with a dot"}},
		{url: "%zz", errParts: []string{"%zz"}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			sink, err := Open(t.Context(), tt.url)
			if tt.kind == "" {
				if err == nil {
					sink.Close()
					t.Fatalf("Open succeeded, want an error")
				}
				for _, p := range append(tt.errParts, tt.url) {
					if !strings.Contains(err.Error(), p) {
						t.Errorf("error %q does not mention %q", err, p)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			if sink.Layout != tt.layout {
				t.Errorf("Layout = %+v, want %+v", sink.Layout, tt.layout)
			}
			switch b := sink.Bucket.(type) {
			case *FileBucket:
				if tt.kind != "file" || b.Root() != tt.root {
					t.Errorf("got file bucket at %s, want %s %s", b.Root(), tt.kind, tt.root)
				}
				if fi, err := os.Stat(tt.root); err != nil || !fi.IsDir() {
					t.Errorf("folder %s not created: %v", tt.root, err)
				}
			case *GCSBucket:
				if tt.kind != "gcs" || b.name != tt.root {
					t.Errorf("got GCS bucket %s, want %s %s", b.name, tt.kind, tt.root)
				}
			default:
				t.Fatalf("unexpected bucket %T", b)
			}
			// The sink works end to end.
			end := time.Date(2024, 7, 22, 10, 15, 0, 0, time.UTC)
			name, _, err := sink.PutWindows(t.Context(), end, "p0", sampleRows()[:2], true)
			if err != nil {
				t.Fatal(err)
			}
			data, err := sink.Bucket.Get(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			if rows, err := DecodeWindows(data); err != nil || len(rows) != 2 {
				t.Errorf("DecodeWindows = %d rows, %v", len(rows), err)
			}
		})
	}
}

func TestSinkPutSide(t *testing.T) {
	sink := &Sink{Bucket: NewMemBucket(), Layout: Layout{Prefix: "turnstile"}}
	recs := []SideRecord{{Reason: "late", Source: "p1", Offset: 7, Value: "v", WindowEnd: "2024-07-22T10:15:00Z"}}
	name, size, err := sink.PutSide(t.Context(), Late, "p1", 7, recs)
	if err != nil {
		t.Fatal(err)
	}
	if name != "turnstile_late/p1_00000000000000000007.jsonl.gz" {
		t.Errorf("name = %s", name)
	}
	if stored, _ := sink.Bucket.Get(t.Context(), name); size != len(stored) {
		t.Errorf("PutSide reported %d bytes, stored %d", size, len(stored))
	}
	if _, _, err := sink.PutSide(t.Context(), Late, "p1/x", 7, recs); err == nil {
		t.Error("PutSide accepted the source p1/x")
	}
	if _, _, err := sink.PutWindows(t.Context(), time.Now(), "", nil, true); err == nil {
		t.Error("PutWindows accepted an empty source")
	}
	data, _ := sink.Bucket.Get(t.Context(), name)
	got, err := DecodeSide(data)
	if err != nil || len(got) != 1 || got[0] != recs[0] {
		t.Errorf("DecodeSide = %+v, %v", got, err)
	}
}

// TestSinkCreateWindows checks that CreateWindows never replaces a window
// file: the same bytes count as written, other bytes are kept as they were.
func TestSinkCreateWindows(t *testing.T) {
	ctx := t.Context()
	s := &Sink{Bucket: NewMemBucket(), Layout: Layout{Prefix: "turnstile"}}
	end := time.Date(2024, 7, 22, 10, 5, 0, 0, time.UTC)
	full := []turnstile.WindowCount{{Key: turnstile.Key{CA: "A002", Unit: "R051", SCP: "01"}, End: end.Unix(), Entries: 10, Exits: 4}}
	partial := []turnstile.WindowCount{{Key: turnstile.Key{CA: "A002", Unit: "R051", SCP: "01"}, End: end.Unix(), Entries: 3, Exits: 1}}
	name, _, kept, err := s.CreateWindows(ctx, end, "p0", full, true)
	if err != nil || kept {
		t.Fatalf("first create: kept %v, %v", kept, err)
	}
	written, _ := s.Bucket.Get(ctx, name)
	for _, tc := range []struct {
		name     string
		rows     []turnstile.WindowCount
		wantKept bool
	}{{"same rows", full, false}, {"partial rows", partial, true}} {
		_, _, kept, err := s.CreateWindows(ctx, end, "p0", tc.rows, true)
		if err != nil || kept != tc.wantKept {
			t.Errorf("%s: kept %v, %v; want kept %v", tc.name, kept, err, tc.wantKept)
		}
		if now, _ := s.Bucket.Get(ctx, name); !bytes.Equal(now, written) {
			t.Errorf("%s: the window file was replaced", tc.name)
		}
	}
}

// TestSinkCreateWindowsAcrossCompressionLevels: a window file that an older
// release compressed at another deflate level holds the same rows, so
// rewriting it create-only counts as written, not as a kept partial window.
func TestSinkCreateWindowsAcrossCompressionLevels(t *testing.T) {
	ctx := t.Context()
	s := &Sink{Bucket: NewMemBucket(), Layout: Layout{Prefix: "turnstile"}}
	end := time.Date(2024, 7, 22, 10, 5, 0, 0, time.UTC)
	var rows []turnstile.WindowCount
	for i := range 200 {
		rows = append(rows, turnstile.WindowCount{Key: turnstile.Key{CA: "A002", Unit: "R051", SCP: fmt.Sprintf("%02d", i)}, End: end.Unix(), Entries: int64(i), Exits: 4})
	}
	var csv bytes.Buffer
	if err := EncodeWindows(&csv, rows, true); err != nil {
		t.Fatal(err)
	}
	text, err := gunzip(csv.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, level := range []int{gzip.BestCompression, gzip.DefaultCompression, gzip.NoCompression} {
		var old bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&old, level)
		zw.Write(text)
		zw.Close()
		if bytes.Equal(old.Bytes(), csv.Bytes()) {
			t.Fatalf("level %d: the old file has the same bytes; the test needs other bytes", level)
		}
		name, _ := s.WindowName(end, "p0")
		if err := s.Bucket.Put(ctx, name, old.Bytes()); err != nil {
			t.Fatal(err)
		}
		if _, _, kept, err := s.CreateWindows(ctx, end, "p0", rows, true); err != nil || kept {
			t.Errorf("level %d: kept %v, %v; want the same rows counted as written", level, kept, err)
		}
		if now, _ := s.Bucket.Get(ctx, name); !bytes.Equal(now, old.Bytes()) {
			t.Errorf("level %d: the window file was replaced", level)
		}
	}

	// The same holds for a side object: a replay of the same batch writes no
	// second object.
	recs := []SideRecord{{Source: "p0", Offset: 7, Reason: "field_count", Value: "a,b"}}
	var side bytes.Buffer
	if err := EncodeSide(&side, recs); err != nil {
		t.Fatal(err)
	}
	text, err = gunzip(side.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var old bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&old, gzip.BestCompression)
	zw.Write(text)
	zw.Close()
	first := s.Layout.SideObject(Rejected, "p0", 7)
	if err := s.Bucket.Put(ctx, first, old.Bytes()); err != nil {
		t.Fatal(err)
	}
	if name, _, err := s.PutSide(ctx, Rejected, "p0", 7, recs); err != nil || name != first {
		t.Errorf("side replay wrote %s, %v; want the existing %s counted as written", name, err, first)
	}
}

// TestSinkReplaceWindowDataFences checks the fencing rule of window files: a
// writer replaces a file of an epoch not higher than its own (a retry, a
// replay by the same or a newer owner, a file of an earlier release without
// an epoch), and never one of a higher epoch, which stays whole.
func TestSinkReplaceWindowDataFences(t *testing.T) {
	ctx := t.Context()
	s := &Sink{Bucket: NewMemBucket(), Layout: Layout{Prefix: "turnstile"}}
	end := time.Date(2024, 7, 22, 10, 15, 0, 0, time.UTC)
	name, _ := s.WindowName(end, "p0")
	encode := func(entries int64, epoch uint64) []byte {
		var buf bytes.Buffer
		rows := []turnstile.WindowCount{{Key: turnstile.Key{CA: "A002", Unit: "R051", SCP: "02-00-00", Station: "59 ST",
			LineName: "NQR456W", Division: "BMT", Desc: "REGULAR"}, End: end.Unix(), Entries: entries, Exits: 1}}
		if err := EncodeWindowsEpoch(&buf, rows, true, epoch); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	if err := s.PutWindowData(ctx, name, encode(1, 0)); err != nil { // an earlier release's file
		t.Fatal(err)
	}
	steps := []struct {
		entries int64
		epoch   uint64
		fenced  bool
	}{
		{2, 1, false}, // a file without an epoch is epoch 0
		{3, 1, false}, // the same owner again
		{4, 3, false}, // a newer owner
		{5, 2, true},  // an older owner: fenced
		{6, 0, true},
		{7, 3, false},
	}
	stored := int64(1)
	for _, st := range steps {
		err := s.ReplaceWindowData(ctx, name, encode(st.entries, st.epoch), st.epoch)
		if st.fenced != errors.Is(err, ErrFenced) || (!st.fenced && err != nil) {
			t.Fatalf("epoch %d over a file of entries %d: %v, want fenced %v", st.epoch, stored, err, st.fenced)
		}
		if !st.fenced {
			stored = st.entries
		}
		data, _ := s.Bucket.Get(ctx, name)
		rows, err := DecodeWindows(data)
		if err != nil || rows[0].Entries != stored {
			t.Fatalf("after epoch %d: the file holds %+v, %v; want entries %d", st.epoch, rows, err, stored)
		}
	}
	data, _ := s.Bucket.Get(ctx, name)
	if epoch, err := WindowEpoch(data); err != nil || epoch != 3 {
		t.Errorf("WindowEpoch = %d, %v; want 3", epoch, err)
	}
}
