package lake

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// ShapeObject returns the name of the prefix's shape marker, <prefix>_shape:
// the object that records the window shape of every window file under the
// prefix (Sink.ClaimShape). Like the side folders it is a sibling of the
// window folder, so no pattern rooted at <prefix>/ (the BigQuery tables'
// <prefix>/*.csv.gz and <prefix>/dt=*) and no listing of WindowPrefix ever
// sees it.
func (l Layout) ShapeObject() string { return l.Prefix + "_shape" }

// ShapeError is ClaimShape's error when the prefix's shape marker records
// another window shape than the writer's: the prefix already holds windows
// of that shape, and windows of another shape must not join them.
type ShapeError struct {
	// Prefix is the prefix of the window files (Layout.Prefix).
	Prefix string
	// Object is the marker's name (Layout.ShapeObject).
	Object string
	// Stored is the marker's content without surrounding white space: a
	// window.Spec.Shape, or whatever else a person put there.
	Stored string
	// Wanted is the writer's window.Spec.Shape.
	Wanted string
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("lake prefix %s holds windows of %s (shape marker %s), but this consumer is configured with %s: "+
		"one lake prefix holds one window shape; to change the shape, start the consumer with a new consumer group "+
		"and a new lake prefix (docs/consumer.md, \"Changing the window shape\")",
		e.Prefix, describeShape(e.Stored), e.Object, describeShape(e.Wanted))
}

// describeShape names a shape for people (window.Spec.String), or quotes
// text that is not a shape.
func describeShape(shape string) string {
	if spec, err := window.ParseShape(shape); err == nil {
		return spec.String()
	}
	return fmt.Sprintf("%q (not a window shape)", shape)
}

// ClaimShape makes sure that the prefix holds window files of shape (a
// window.Spec.Shape, such as "300/300/0") only. When the prefix has no shape
// marker, ClaimShape creates it, holding shape and a line end, and reports
// created; it never replaces a marker (Bucket.Create), so of two writers
// that claim different shapes at once, one fails. When the marker holds
// shape, it returns nil. When it holds anything else, it returns a
// *ShapeError naming both, and writes nothing. A writer calls it before it
// writes anything under the prefix. It uses Create and Get only (no List).
func (s *Sink) ClaimShape(ctx context.Context, shape string) (created bool, err error) {
	if _, err := window.ParseShape(shape); err != nil {
		return false, fmt.Errorf("lake: claiming the window shape: %w", err)
	}
	name := s.Layout.ShapeObject()
	err = s.Bucket.Create(ctx, name, []byte(shape+"\n"))
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, ErrExist) {
		return false, fmt.Errorf("lake: writing the shape marker %s: %w", name, err)
	}
	data, err := s.Bucket.Get(ctx, name)
	if err != nil {
		return false, fmt.Errorf("lake: shape marker %s exists, reading it: %w", name, err)
	}
	if stored := strings.TrimSpace(string(data)); stored != shape {
		return false, &ShapeError{Prefix: s.Layout.Prefix, Object: name, Stored: stored, Wanted: shape}
	}
	return false, nil
}
