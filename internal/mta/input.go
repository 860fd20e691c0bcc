package mta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
)

// Input is one turnstile file to read: a local file or a GCS object.
type Input struct {
	Name string // the path, or gs://BUCKET/OBJECT
	open func(ctx context.Context) (io.ReadCloser, error)
}

// Open opens the input for reading.
func (in Input) Open(ctx context.Context) (io.ReadCloser, error) { return in.open(ctx) }

// FileInput is the input of a local file.
func FileInput(path string) Input {
	return Input{Name: path, open: func(context.Context) (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open turnstile file: %w", err)
		}
		return f, nil
	}}
}

// ReadInput reads one input (see Read).
func (c *Converter) ReadInput(ctx context.Context, in Input) error {
	c.files++
	return c.readers[0].readInput(ctx, c.files-1, in)
}

// IsGCS reports whether an --input value names GCS objects (gs://...).
func IsGCS(spec string) bool { return strings.HasPrefix(spec, "gs://") }

// ExpandLocal expands one local --input value into file paths:
//   - a file is itself;
//   - a directory stands for the files in it (not in its subdirectories),
//     sorted by name, leaving out hidden files;
//   - a value with *, ? or [ is a glob (filepath.Match syntax), sorted by
//     name, leaving out directories, and hidden files unless the pattern's
//     last element starts with a dot.
//
// It is an error when the value matches no file.
func ExpandLocal(spec string) ([]string, error) {
	if strings.ContainsAny(spec, "*?[") {
		if _, err := os.Stat(spec); err != nil { // a file may have such a name
			matches, err := filepath.Glob(spec)
			if err != nil {
				return nil, fmt.Errorf("%s: bad glob pattern: %w", spec, err)
			}
			hidden := strings.HasPrefix(filepath.Base(spec), ".")
			var files []string
			for _, m := range matches {
				if !hidden && strings.HasPrefix(filepath.Base(m), ".") {
					continue // as a shell does
				}
				if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
					files = append(files, m)
				}
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("%s: no file matches", spec)
			}
			slices.Sort(files)
			return files, nil
		}
	}
	st, err := os.Stat(spec)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{spec}, nil
	}
	entries, err := os.ReadDir(spec)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(spec, e.Name())
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: directory holds no file", spec)
	}
	return files, nil // ReadDir sorts by name
}

// ParseGCS splits gs://BUCKET/PREFIX into bucket and prefix (which may be
// empty) and checks them.
func ParseGCS(spec string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(spec, "gs://")
	if !ok {
		return "", "", fmt.Errorf("%s: not a gs:// URL", spec)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%s: want gs://BUCKET/PREFIX", spec)
	}
	if strings.ContainsAny(bucket, "/?#*") || strings.ToLower(bucket) != bucket {
		return "", "", fmt.Errorf("%s: %q is not a GCS bucket name", spec, bucket)
	}
	return bucket, prefix, nil
}

// Inputs are the resolved --input values. Close releases the GCS clients.
type Inputs struct {
	List    []Input
	buckets []*lake.GCSBucket
}

// Close closes the GCS clients.
func (ins *Inputs) Close() error {
	var errs []error
	for _, b := range ins.buckets {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}

// Resolve turns --input values into inputs, in the order given. Local values
// go through ExpandLocal. gs://BUCKET/PREFIX stands for the objects whose
// name starts with PREFIX, sorted by name, leaving out "folder" objects whose
// name ends in /: they are listed and read through the lake's GCS client,
// which authenticates with Application Default Credentials or talks to
// STORAGE_EMULATOR_HOST, and retries transient failures. Each object is
// downloaded whole when it is read, one at a time.
func Resolve(ctx context.Context, specs []string, log *slog.Logger) (*Inputs, error) {
	ins := &Inputs{}
	byBucket := map[string]*lake.GCSBucket{}
	for _, spec := range specs {
		if !IsGCS(spec) {
			paths, err := ExpandLocal(spec)
			if err != nil {
				ins.Close()
				return nil, err
			}
			for _, p := range paths {
				ins.List = append(ins.List, FileInput(p))
			}
			continue
		}
		bucket, prefix, err := ParseGCS(spec)
		if err != nil {
			ins.Close()
			return nil, err
		}
		b := byBucket[bucket]
		if b == nil {
			if b, err = lake.NewGCSBucket(ctx, bucket, lake.Logger(log)); err != nil {
				ins.Close()
				return nil, err
			}
			byBucket[bucket] = b
			ins.buckets = append(ins.buckets, b)
		}
		names, err := b.List(ctx, prefix)
		if err != nil {
			ins.Close()
			return nil, err
		}
		names = slices.DeleteFunc(names, func(n string) bool { return strings.HasSuffix(n, "/") })
		if len(names) == 0 {
			ins.Close()
			return nil, fmt.Errorf("%s: no objects", spec)
		}
		for _, name := range names {
			ins.List = append(ins.List, Input{Name: "gs://" + bucket + "/" + name, open: func(ctx context.Context) (io.ReadCloser, error) {
				data, err := b.Get(ctx, name)
				if err != nil {
					return nil, err
				}
				return io.NopCloser(bytes.NewReader(data)), nil
			}})
		}
	}
	return ins, nil
}
