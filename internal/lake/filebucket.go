package lake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// FileBucket is a Bucket in a local folder: the object a/b.csv.gz is the file
// <root>/a/b.csv.gz.
//
// Put is atomic and durable: it writes a temporary file in the object's
// folder, fsyncs it, renames it over the object and fsyncs the folder, so a
// reader sees the previous complete file or the new complete file, never a
// part, and a crash leaves at most a temporary file behind. Temporary files
// are hidden: their names start with "." and end in ".tmp", and List skips
// every name whose last element starts with ".".
type FileBucket struct {
	root string
}

// NewFileBucket returns a FileBucket rooted at the folder root, which it
// creates when missing.
func NewFileBucket(root string) (*FileBucket, error) {
	if root == "" {
		return nil, errors.New("lake: file bucket: empty root folder")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("lake: file bucket %s: %w", root, err)
	}
	if err := mkdirAllSync(abs); err != nil {
		return nil, fmt.Errorf("lake: file bucket: create folder %s: %w", abs, err)
	}
	return &FileBucket{root: abs}, nil
}

// Root returns the absolute path of the bucket's folder.
func (b *FileBucket) Root() string { return b.root }

func (b *FileBucket) path(name string) string {
	return filepath.Join(b.root, filepath.FromSlash(name))
}

// Put atomically replaces the file of name with data, creating its folders.
func (b *FileBucket) Put(ctx context.Context, name string, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	p := b.path(name)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("lake: put %s: %w", p, err)
	}
	if err := b.locked(ctx, p, func() error { return b.put(p, data) }); err != nil {
		return fmt.Errorf("lake: put %s: %w", p, err)
	}
	return nil
}

// Create writes data to a hidden temporary file in the same folder, syncs
// it, and links it to the object's path: link fails when the path exists,
// so an existing file is never replaced, and a reader sees the complete file
// or none.
func (b *FileBucket) Create(ctx context.Context, name string, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	p := b.path(name)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("lake: create %s: %w", p, err)
	}
	if err := b.locked(ctx, p, func() error {
		return b.write(p, data, func(tmp string) error { return os.Link(tmp, p) })
	}); err != nil {
		return fmt.Errorf("lake: create %s: %w", p, err) // os.Link's error wraps fs.ErrExist
	}
	return nil
}

// Replace replaces the file of name with data unless a file is there for
// which replace is false. The read, the decision and the rename happen under
// an exclusive lock (flock) on the hidden file .lock of the object's folder,
// which Put and Create take too, so no other writer of this folder, in this
// process or another, lands in between. A writer that stops while it holds
// the lock (a process frozen by SIGSTOP) holds up the others until it
// resumes or dies: waiting is bounded by ctx.
func (b *FileBucket) Replace(ctx context.Context, name string, data []byte, replace func(current []byte) bool) error {
	if err := checkName(name); err != nil {
		return err
	}
	p := b.path(name)
	err := b.locked(ctx, p, func() error {
		cur, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case !replace(cur):
			return ErrRefused
		}
		return b.write(p, data, func(tmp string) error { return os.Rename(tmp, p) })
	})
	if err != nil {
		return fmt.Errorf("lake: replace %s: %w", p, err)
	}
	return nil
}

// locked runs do while it holds the lock of p's folder, waiting for it
// until ctx is done.
func (b *FileBucket) locked(ctx context.Context, p string, do func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := mkdirAllSync(dir); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close() // releases the lock
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		t := time.NewTimer(lockRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the lock %s: %w", f.Name(), ctx.Err())
		case <-t.C:
		}
	}
	return do()
}

// lockFile is the hidden file in each folder that FileBucket's writers lock;
// lockRetry is how often a writer tries again to take it.
const (
	lockFile  = ".lock"
	lockRetry = 5 * time.Millisecond
)

func (b *FileBucket) put(p string, data []byte) error {
	return b.write(p, data, func(tmp string) error { return os.Rename(tmp, p) })
}

// write writes data to a temporary file next to p, syncs it, and calls
// publish to make it p; the temporary file is gone afterwards.
func (b *FileBucket) write(p string, data []byte, publish func(tmp string) error) (err error) {
	dir := filepath.Dir(p)
	if err := mkdirAllSync(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(p)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := publish(tmp); err != nil {
		return err
	}
	_ = os.Remove(tmp) // after a link; a rename left nothing
	return syncDir(dir)
}

// Get reads the file of name.
func (b *FileBucket) Get(ctx context.Context, name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	p := b.path(name)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lake: get %s: %w", p, err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		// *PathError names the path and wraps fs.ErrNotExist when missing.
		return nil, fmt.Errorf("lake: get: %w", err)
	}
	return data, nil
}

// List walks the folder of prefix and returns the sorted names of the regular
// files that start with prefix, skipping hidden (temporary) files.
func (b *FileBucket) List(ctx context.Context, prefix string) ([]string, error) {
	// Walk only the deepest folder that holds every match.
	start := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = path.Clean(prefix[:i])
		if start == "." || strings.HasPrefix(start, "..") || path.IsAbs(start) {
			return nil, fmt.Errorf("lake: list %q: prefix must be a relative path", prefix)
		}
	}
	names := []string{}
	dir := filepath.Join(b.root, filepath.FromSlash(start))
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(b.root, p)
		if err != nil {
			return err
		}
		if name := filepath.ToSlash(rel); strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lake: list %s under %s: %w", prefix, b.root, err)
	}
	slices.Sort(names)
	return names, nil
}

// Close does nothing.
func (b *FileBucket) Close() error { return nil }

// mkdirAllSync creates dir and its missing parents, fsyncing the parent of
// each folder it creates so that the new entries survive a crash.
func mkdirAllSync(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a folder", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSync(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // created concurrently
		}
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync folder %s: %w", dir, err)
	}
	return nil
}
