package lake

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// leftovers returns the files under root whose name marks a temporary file.
func leftovers(t *testing.T, root string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// The lock file of a folder (FileBucket.locked) stays; nothing else
		// hidden may.
		if strings.HasSuffix(d.Name(), ".tmp") || (strings.HasPrefix(d.Name(), ".") && p != root && d.Name() != lockFile) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestFileBucketReadersNeverSeePartialFiles overwrites one object with two
// large contents while readers read it: every read must be one content whole.
func TestFileBucketReadersNeverSeePartialFiles(t *testing.T) {
	root := t.TempDir()
	b, err := NewFileBucket(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const name = "turnstile/20240722T101500_p0.csv.gz"
	contents := [][]byte{bytes.Repeat([]byte("A"), 2<<20), bytes.Repeat([]byte("B"), 3<<20)}
	if err := b.Put(ctx, name, contents[0]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var reads int
	var readErr error
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
			if err != nil {
				readErr = err // the object must exist at every moment
				return
			}
			if !bytes.Equal(got, contents[0]) && !bytes.Equal(got, contents[1]) {
				readErr = errPartial(len(got))
				return
			}
			reads++
		}
	})
	for i := range 20 {
		if err := b.Put(ctx, name, contents[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
	if reads == 0 {
		t.Fatal("the reader never ran")
	}
	if got, _ := b.Get(ctx, name); !bytes.Equal(got, contents[1]) {
		t.Error("the last Put did not win")
	}
	if l := leftovers(t, root); len(l) != 0 {
		t.Errorf("temporary files left behind: %q", l)
	}
	if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(name))); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("object mode %v, %v: want 0644", fi.Mode(), err)
	}
}

type errPartial int

func (e errPartial) Error() string {
	return "read a partial or mixed file of " + strconv.Itoa(int(e)) + " bytes"
}

func TestFileBucketConcurrentPuts(t *testing.T) {
	root := t.TempDir()
	b, err := NewFileBucket(root)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 10 {
				name := "deep/new/folders/" + string(rune('a'+i)) + ".csv.gz"
				if err := b.Put(t.Context(), name, bytes.Repeat([]byte{byte(j)}, 1000)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	names, err := b.List(t.Context(), "deep/")
	if err != nil || len(names) != 8 {
		t.Errorf("List = %q, %v: want 8 names", names, err)
	}
	if l := leftovers(t, root); len(l) != 0 {
		t.Errorf("temporary files left behind: %q", l)
	}
}

func TestFileBucketFailedPutLeavesNothing(t *testing.T) {
	root := t.TempDir()
	b, err := NewFileBucket(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// The object's path is a folder: the rename fails after the temp file was
	// written.
	if err := os.MkdirAll(filepath.Join(root, "t", "dir.csv.gz"), 0o755); err != nil {
		t.Fatal(err)
	}
	err = b.Put(ctx, "t/dir.csv.gz", []byte("data"))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "t", "dir.csv.gz")) {
		t.Errorf("Put over a folder = %v, want an error naming the path", err)
	}
	// A parent is a file: the folder cannot be created.
	if err := b.Put(ctx, "f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "f/g", []byte("y")); err == nil {
		t.Error("Put under a file succeeded")
	}
	if l := leftovers(t, root); len(l) != 0 {
		t.Errorf("temporary files left behind: %q", l)
	}
	if got, _ := b.Get(ctx, "f"); string(got) != "x" {
		t.Errorf("the failed Put changed f: %q", got)
	}
}

func TestFileBucketListSkipsTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	b, err := NewFileBucket(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(t.Context(), "turnstile/a.csv.gz", []byte("a")); err != nil {
		t.Fatal(err)
	}
	// What a crash in the middle of a Put leaves behind.
	if err := os.WriteFile(filepath.Join(root, "turnstile", ".b.csv.gz.123.tmp"), []byte("part"), 0o600); err != nil {
		t.Fatal(err)
	}
	names, err := b.List(t.Context(), "turnstile/")
	if err != nil || !slices.Equal(names, []string{"turnstile/a.csv.gz"}) {
		t.Errorf("List = %q, %v", names, err)
	}
}

func TestNewFileBucketErrors(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"", f, filepath.Join(f, "sub")} {
		if _, err := NewFileBucket(root); err == nil {
			t.Errorf("NewFileBucket(%q) succeeded", root)
		}
	}
}
