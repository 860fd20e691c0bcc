package lake

import (
	"errors"
	"strings"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/gcsiam"
)

// TestGCSBucketUnderPermissions runs the bucket's operations against an
// emulator that enforces IAM permissions: each needs what docs/lake.md
// says, a 403 is not retried, and its error names the missing permission.
func TestGCSBucketUnderPermissions(t *testing.T) {
	const (
		create = gcsiam.ObjectsCreate
		del    = gcsiam.ObjectsDelete
		get    = gcsiam.ObjectsGet
		list   = gcsiam.ObjectsList
	)
	cases := []struct {
		name    string
		perms   []string
		op      func(b *GCSBucket) error
		missing string // "" when the operation must succeed
	}{
		{"Create of a new name: create", []string{create}, func(b *GCSBucket) error {
			return b.Create(t.Context(), "t/new.gz", []byte("n"))
		}, ""},
		{"Create of an existing name: ErrExist with create alone", []string{create}, func(b *GCSBucket) error {
			if err := b.Create(t.Context(), "t/old.gz", []byte("n")); !errors.Is(err, ErrExist) {
				return errors.New("want ErrExist, got " + errString(err))
			}
			return nil
		}, ""},
		{"Put over an existing object: create and delete", []string{create, del}, func(b *GCSBucket) error {
			return b.Put(t.Context(), "t/old.gz", []byte("n"))
		}, ""},
		{"Put over an existing object without delete", []string{create, get}, func(b *GCSBucket) error {
			return b.Put(t.Context(), "t/old.gz", []byte("n"))
		}, del},
		{"Get: get", []string{get}, func(b *GCSBucket) error {
			_, err := b.Get(t.Context(), "t/old.gz")
			return err
		}, ""},
		{"Get without get (the read-back after a 412)", []string{create, del}, func(b *GCSBucket) error {
			_, err := b.Get(t.Context(), "t/old.gz")
			return err
		}, get},
		{"List without list", []string{create, del, get}, func(b *GCSBucket) error {
			_, err := b.List(t.Context(), "t/")
			return err
		}, list},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, b, rec := newGCS(t)
			if err := b.Put(t.Context(), "t/old.gz", []byte("o")); err != nil {
				t.Fatal(err)
			}
			srv.SetPolicy(&gcsiam.Policy{Principal: "lake@p.iam.gserviceaccount.com", Permissions: tc.perms})
			err := tc.op(b)
			if tc.missing == "" {
				if err != nil {
					t.Fatalf("under %v: %v", tc.perms, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "permission denied (HTTP 403)") ||
				!strings.Contains(err.Error(), "does not have "+tc.missing+" access") {
				t.Fatalf("under %v: %v; want a 403 naming %s", tc.perms, err, tc.missing)
			}
			if rec.retries() != 0 || srv.Denied() != 1 {
				t.Errorf("%d retries and %d requests denied, want 0 and 1: a 403 is not retried", rec.retries(), srv.Denied())
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
