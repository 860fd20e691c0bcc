package gcstest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"

	"github.com/turnstile-stream/turnstile-stream/internal/gcsiam"
)

// TestEnforceMapsClientRequests runs each operation the storage client makes
// against an emulator that enforces a set of permissions, and checks that it
// passes exactly when the set holds what GCS requires, and otherwise fails
// with GCS's 403 naming the missing permission.
func TestEnforceMapsClientRequests(t *testing.T) {
	const (
		pCreate = gcsiam.ObjectsCreate
		pDelete = gcsiam.ObjectsDelete
		pGet    = gcsiam.ObjectsGet
		pList   = gcsiam.ObjectsList
	)
	type op func(ctx context.Context, c *storage.Client, bucket string) error
	read := func(ctx context.Context, c *storage.Client, b string) error {
		got, err := get(ctx, c, b, "seeded.txt")
		if err == nil && string(got) != "seed" {
			return errors.New("read " + string(got))
		}
		return err
	}
	attrs := func(ctx context.Context, c *storage.Client, b string) error {
		_, err := c.Bucket(b).Object("seeded.txt").Attrs(ctx)
		return err
	}
	listAll := func(ctx context.Context, c *storage.Client, b string) error {
		it := c.Bucket(b).Objects(ctx, &storage.Query{Prefix: ""})
		for {
			if _, err := it.Next(); err != nil {
				if errors.Is(err, iterator.Done) {
					return nil
				}
				return err
			}
		}
	}
	putNew := func(ctx context.Context, c *storage.Client, b string) error {
		return put(ctx, c, b, "new.txt", []byte("new"))
	}
	replace := func(ctx context.Context, c *storage.Client, b string) error {
		return put(ctx, c, b, "seeded.txt", []byte("other"))
	}
	createOnlyNew := func(ctx context.Context, c *storage.Client, b string) error {
		return putCond(ctx, c.Bucket(b).Object("new.txt").If(storage.Conditions{DoesNotExist: true}), []byte("new"))
	}
	createOnlyExisting := func(ctx context.Context, c *storage.Client, b string) error {
		return putCond(ctx, c.Bucket(b).Object("seeded.txt").If(storage.Conditions{DoesNotExist: true}), []byte("other"))
	}
	remove := func(ctx context.Context, c *storage.Client, b string) error {
		return c.Bucket(b).Object("seeded.txt").Delete(ctx)
	}
	all := []string{pCreate, pDelete, pGet, pList}
	without := func(p string) []string {
		var out []string
		for _, q := range all {
			if q != p {
				out = append(out, q)
			}
		}
		return out
	}
	cases := []struct {
		name     string
		op       op
		perms    []string
		wantCode int    // 0: success
		missing  string // the permission the 403 names
		resource string
	}{
		{"read with get", read, []string{pGet}, 0, "", ""},
		{"read without get", read, without(pGet), 403, pGet, "object"},
		{"attrs with get", attrs, []string{pGet}, 0, "", ""},
		{"attrs without get", attrs, without(pGet), 403, pGet, "object"},
		{"list with list", listAll, []string{pList}, 0, "", ""},
		{"list without list", listAll, without(pList), 403, pList, "bucket"},
		{"upload new with create", putNew, []string{pCreate}, 0, "", ""},
		{"upload new without create", putNew, without(pCreate), 403, pCreate, "object"},
		{"replace with create and delete", replace, []string{pCreate, pDelete}, 0, "", ""},
		{"replace without delete", replace, []string{pCreate, pGet, pList}, 403, pDelete, "object"},
		{"create-only of a new name with create", createOnlyNew, []string{pCreate}, 0, "", ""},
		{"create-only of an existing name: 412 with create alone", createOnlyExisting, []string{pCreate}, 412, "", ""},
		{"create-only without create", createOnlyExisting, without(pCreate), 403, pCreate, "object"},
		{"delete with delete", remove, []string{pDelete}, 0, "", ""},
		{"delete without delete", remove, without(pDelete), 403, pDelete, "object"},
		{"nothing granted", read, nil, 403, pGet, "object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const who = "lake@p.iam.gserviceaccount.com"
			srv := New(t)
			c := client(t, srv)
			ctx := t.Context()
			if err := put(ctx, c, srv.Bucket(), "seeded.txt", []byte("seed")); err != nil {
				t.Fatal(err)
			}
			srv.SetPolicy(&gcsiam.Policy{Principal: who, Permissions: tc.perms})
			err := tc.op(ctx, c, srv.Bucket())
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("want success under %v, got %v", tc.perms, err)
				}
				for _, p := range tc.perms {
					if srv.Granted(p) == 0 {
						t.Errorf("Granted(%s) = 0 after a request that needs it", p)
					}
				}
				return
			}
			var ge *googleapi.Error
			if !errors.As(err, &ge) || ge.Code != tc.wantCode {
				t.Fatalf("want HTTP %d under %v, got %v", tc.wantCode, tc.perms, err)
			}
			if tc.wantCode != http.StatusForbidden {
				return
			}
			want := gcsiam.Message(who, gcsiam.Check{Permission: tc.missing, Resource: gcsiam.Resource(tc.resource)})
			switch {
			case ge.Message == "" && len(ge.Errors) == 0: // an XML-API read: the client keeps the body
				xmlWant := "<Code>AccessDenied</Code><Message>Access denied.</Message><Details>" + strings.ReplaceAll(want, "'", "&#39;") + "</Details>"
				if !strings.Contains(ge.Body, xmlWant) {
					t.Errorf("403 body %q, want it to hold %q", ge.Body, xmlWant)
				}
			case ge.Message != want:
				t.Errorf("403 message %q, want %q", ge.Message, want)
			case len(ge.Errors) != 1 || ge.Errors[0].Reason != "forbidden":
				t.Errorf("403 errors %+v, want one with reason forbidden", ge.Errors)
			}
			if srv.Denied() != 1 {
				t.Errorf("Denied() = %d, want 1", srv.Denied())
			}
			// A denied write or delete changed nothing.
			if got, err := srv.Object(srv.Bucket(), "seeded.txt"); err != nil || !bytes.Equal(got, []byte("seed")) {
				t.Errorf("seeded.txt after the denied request: %q, %v", got, err)
			}
			if _, err := srv.Object(srv.Bucket(), "new.txt"); err == nil {
				t.Errorf("new.txt exists after a denied request")
			}
		})
	}
}

// TestEnforceOffByDefault: without Enforce, everything passes.
func TestEnforceOffByDefault(t *testing.T) {
	srv := New(t)
	c := client(t, srv)
	ctx := t.Context()
	if err := put(ctx, c, srv.Bucket(), "a.txt", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := put(ctx, c, srv.Bucket(), "a.txt", []byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := get(ctx, c, srv.Bucket(), "a.txt"); err != nil {
		t.Fatal(err)
	}
	srv.SetPolicy(&gcsiam.Policy{})
	if _, err := get(ctx, c, srv.Bucket(), "a.txt"); err == nil || !strings.Contains(err.Error(), "storage.objects.get") {
		t.Fatalf("with an empty policy: %v, want a 403 on storage.objects.get", err)
	}
	srv.SetPolicy(nil)
	if _, err := get(ctx, c, srv.Bucket(), "a.txt"); err != nil {
		t.Fatalf("after SetPolicy(nil): %v", err)
	}
}

func putCond(ctx context.Context, obj *storage.ObjectHandle, data []byte) error {
	w := obj.NewWriter(ctx)
	w.ChunkSize = 0
	if _, err := w.Write(data); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}
