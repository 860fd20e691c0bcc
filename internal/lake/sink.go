package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
)

// Sink couples a Bucket with the Layout of the window and side files.
type Sink struct {
	Bucket Bucket
	Layout Layout
}

// Accepted sink URLs, for error messages.
const acceptedURLs = "want file:///abs/dir/<prefix>, file://rel/dir/<prefix> or gs://<bucket>[/<folders>]/<prefix>, optionally with ?layout=hive"

// Open returns the Sink that a sink URL names:
//
//	file:///abs/dir/turnstile      folder /abs/dir, prefix turnstile
//	file://rel/dir/turnstile       folder rel/dir relative to the working directory, prefix turnstile
//	gs://bucket/turnstile          bucket "bucket", prefix turnstile
//	gs://bucket/a/b/turnstile      bucket "bucket", prefix a/b/turnstile
//
// The last path element is the prefix of the window files; what comes before
// it is the folder (file) or the folders inside the bucket (gs). A file URL
// has no host: in file://rel/dir/turnstile the "host" rel is read as the first
// element of a path relative to the process's working directory at Open
// (file://./x works too); use three slashes for an absolute path. The query
// ?layout=hive selects the hive layout (?layout=flat is the default). opts
// configure a GCS bucket (retries, hook, logger, client options) and are
// ignored for files.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Sink, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("lake: sink URL %q: %w (%s)", rawURL, err, acceptedURLs)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("lake: sink URL %q: %s (%s)", rawURL, fmt.Sprintf(format, args...), acceptedURLs)
	}
	if u.Opaque != "" {
		return nil, bad("missing // after %s:", u.Scheme)
	}
	if u.User != nil || u.Fragment != "" || u.Port() != "" {
		return nil, bad("user, port and fragment are not allowed")
	}
	var layout Layout
	for k, v := range u.Query() {
		switch {
		case k == "layout" && len(v) == 1 && v[0] == "hive":
			layout.Hive = true
		case k == "layout" && len(v) == 1 && v[0] == "flat":
		default:
			return nil, bad("unknown query %s=%s (only layout=flat or layout=hive)", k, strings.Join(v, ","))
		}
	}
	p := strings.TrimSuffix(u.Path, "/")
	switch u.Scheme {
	case "file":
		full := p
		if u.Host != "" {
			full = strings.TrimPrefix(u.Host+p, "/") // relative
		}
		dir, prefix := path.Split(full)
		if err := checkPrefix(prefix); err != nil {
			return nil, bad("%v", err)
		}
		if dir == "" {
			dir = "."
		}
		b, err := NewFileBucket(filepath.FromSlash(dir))
		if err != nil {
			return nil, fmt.Errorf("lake: sink URL %q: %w", rawURL, err)
		}
		layout.Prefix = prefix
		return &Sink{Bucket: b, Layout: layout}, nil
	case "gs":
		if u.Host == "" {
			return nil, bad("missing bucket")
		}
		if err := checkBucketName(u.Host); err != nil {
			return nil, bad("%v", err)
		}
		prefix := strings.TrimPrefix(p, "/")
		if prefix == "" {
			return nil, bad("missing prefix after the bucket")
		}
		for _, elem := range strings.Split(prefix, "/") {
			if err := checkPrefix(elem); err != nil {
				return nil, bad("%v", err)
			}
		}
		b, err := NewGCSBucket(ctx, u.Host, opts...)
		if err != nil {
			return nil, fmt.Errorf("lake: sink URL %q: %w", rawURL, err)
		}
		layout.Prefix = prefix
		return &Sink{Bucket: b, Layout: layout}, nil
	case "":
		return nil, bad("no scheme")
	default:
		return nil, bad("unknown scheme %q", u.Scheme)
	}
}

// checkPrefix checks one element of a prefix: not empty, no dot first, no
// glob characters.
func checkPrefix(elem string) error {
	switch {
	case elem == "":
		return errors.New("empty prefix")
	case elem[0] == '.':
		return fmt.Errorf("prefix element %q starts with a dot", elem)
	case strings.ContainsAny(elem, "*?[]\\\x00\r\n"):
		return fmt.Errorf("prefix element %q holds a glob character, a backslash or a control character", elem)
	}
	return nil
}

// PutWindows writes rows as the window file of the window that ends at end
// (EncodeWindows, with the pandas index column when index is true) and
// returns the object name and its size in bytes. source must pass CheckSource.
func (s *Sink) PutWindows(ctx context.Context, end time.Time, source string, rows []turnstile.WindowCount, index bool) (string, int, error) {
	if err := CheckSource(source); err != nil {
		return "", 0, err
	}
	name := s.Layout.WindowObject(end, source)
	var buf bytes.Buffer
	if err := EncodeWindows(&buf, rows, index); err != nil {
		return name, 0, err
	}
	return name, buf.Len(), s.Bucket.Put(ctx, name, buf.Bytes())
}

// WindowName is the object name of the window file of source that ends at
// end. source must pass CheckSource.
func (s *Sink) WindowName(end time.Time, source string) (string, error) {
	if err := CheckSource(source); err != nil {
		return "", err
	}
	return s.Layout.WindowObject(end, source), nil
}

// PutWindowData writes a window file already encoded by EncodeWindows under
// name (from WindowName): PutWindows in two steps, so that the encoding can
// run elsewhere.
func (s *Sink) PutWindowData(ctx context.Context, name string, data []byte) error {
	return s.Bucket.Put(ctx, name, data)
}

// ErrFenced is the error ReplaceWindowData wraps when the window file there
// was written by a newer owner of its partition.
var ErrFenced = errors.New("lake: fenced by a newer owner")

// ReplaceWindowData writes a window file encoded by EncodeWindowsEpoch with
// epoch, under name (from WindowName), unless the file there carries a newer
// epoch: a consumer that lost its partition to another (whose epoch is
// higher) never replaces that owner's file, even with a write in flight when
// it wakes (Bucket.Replace decides and writes in one step). The error then
// wraps ErrFenced. A file without an epoch, or one that does not decompress,
// counts as epoch 0.
func (s *Sink) ReplaceWindowData(ctx context.Context, name string, data []byte, epoch uint64) error {
	var stored uint64
	err := s.Bucket.Replace(ctx, name, data, func(cur []byte) bool {
		stored, _ = WindowEpoch(cur)
		return stored <= epoch
	})
	if errors.Is(err, ErrRefused) {
		return fmt.Errorf("lake: window file %s holds epoch %d, newer than this writer's %d: another consumer owns the partition now: %w", name, stored, epoch, ErrFenced)
	}
	return err
}

// CreateWindows is PutWindows that never replaces a window file. When a file
// exists under the name with the same CSV text, it counts as written (kept
// is false); when it holds other text, it is left as it is and kept is true.
// The consumer writes this way for a partition whose committed offset carries
// no usable metadata, where a replay may rebuild a window from part of its
// records.
func (s *Sink) CreateWindows(ctx context.Context, end time.Time, source string, rows []turnstile.WindowCount, index bool) (name string, size int, kept bool, err error) {
	if name, err = s.WindowName(end, source); err != nil {
		return "", 0, false, err
	}
	var buf bytes.Buffer
	if err := EncodeWindows(&buf, rows, index); err != nil {
		return name, 0, false, err
	}
	kept, err = s.CreateWindowData(ctx, name, buf.Bytes())
	if err != nil || kept {
		return name, 0, kept, err
	}
	return name, buf.Len(), false, nil
}

// CreateWindowData is CreateWindows for a window file already encoded by
// EncodeWindows, under name (from WindowName).
func (s *Sink) CreateWindowData(ctx context.Context, name string, data []byte) (kept bool, err error) {
	err = s.Bucket.Create(ctx, name, data)
	if !errors.Is(err, ErrExist) {
		return false, err
	}
	old, err := s.Bucket.Get(ctx, name)
	if err != nil {
		return false, fmt.Errorf("lake: window file %s exists, reading it to compare: %w", name, err)
	}
	return !sameText(old, data), nil
}

// sameText reports whether two gzip objects (window or side files) hold the
// same text. It compares the text, not the bytes, so that a file written by a
// release that compressed at another level (or with another gzip header)
// counts as the same; an object that does not decompress is never the same.
func sameText(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	ta, err := gunzip(a)
	if err != nil {
		return false
	}
	tb, err := gunzip(b)
	return err == nil && bytes.Equal(ta, tb)
}

// PutSide writes recs as a side file of kind whose first record has the offset
// firstOffset, and returns the object name and its size in bytes. source must
// pass CheckSource.
//
// A side object is never replaced: PutSide creates it only if absent
// (Bucket.Create). If an object of that name exists with the same text (a
// replay wrote the same batch again), PutSide is done and writes nothing. If
// it holds other text (a replay after a crash batched the records
// differently), PutSide writes a new object under the next free name
// (Layout.SideObjectN). So no record once written is lost; a record can be
// written twice, in two objects: side output is at least once, and a
// record's (source, offset) is its dedup key.
func (s *Sink) PutSide(ctx context.Context, kind SideKind, source string, firstOffset int64, recs []SideRecord) (string, int, error) {
	if err := CheckSource(source); err != nil {
		return "", 0, err
	}
	var buf bytes.Buffer
	if err := EncodeSide(&buf, recs); err != nil {
		return s.Layout.SideObject(kind, source, firstOffset), 0, err
	}
	data := buf.Bytes()
	for n := 0; n < maxSideVersions; n++ {
		name := s.Layout.SideObjectN(kind, source, firstOffset, n)
		err := s.Bucket.Create(ctx, name, data)
		if !errors.Is(err, ErrExist) {
			return name, len(data), err
		}
		old, err := s.Bucket.Get(ctx, name)
		if err != nil {
			return name, 0, fmt.Errorf("lake: side object %s exists, reading it to compare: %w", name, err)
		}
		if sameText(old, data) {
			return name, len(data), nil
		}
	}
	return "", 0, fmt.Errorf("lake: %d side objects of %s from offset %d already hold other records; not writing more",
		maxSideVersions, source, firstOffset)
}

// maxSideVersions bounds the side objects that share a first offset: each
// takes a replay whose batch differs from all the earlier ones.
const maxSideVersions = 1000

// Close closes the Bucket.
func (s *Sink) Close() error { return s.Bucket.Close() }
