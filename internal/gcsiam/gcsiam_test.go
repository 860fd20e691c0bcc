package gcsiam

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestRequired(t *testing.T) {
	multipartBody := "--B\r\nContent-Type: application/json\r\n\r\n{\"name\":\"dir/m.csv.gz\"}\r\n--B\r\nContent-Type: application/gzip\r\n\r\nDATA\r\n--B--\r\n"
	cases := []struct {
		name, method, target, ctype, body string
		want                              []string // permissions, in order
		insert                            *Insert
		xml, unknown                      bool
	}{
		{name: "JSON media read", method: "GET", target: "/storage/v1/b/lake/o/dir%2Fa.csv.gz?alt=media", want: []string{ObjectsGet}},
		{name: "JSON metadata", method: "GET", target: "/storage/v1/b/lake/o/dir%2Fa.csv.gz", want: []string{ObjectsGet}},
		{name: "XML read", method: "GET", target: "/lake/dir/a.csv.gz", want: []string{ObjectsGet}, xml: true},
		{name: "XML HEAD", method: "HEAD", target: "/lake/dir%2Fa.csv.gz", want: []string{ObjectsGet}, xml: true},
		{name: "download endpoint", method: "GET", target: "/download/storage/v1/b/lake/o/a", want: []string{ObjectsGet}},
		{name: "list", method: "GET", target: "/storage/v1/b/lake/o?prefix=dir%2F", want: []string{ObjectsList}},
		{name: "list, trailing slash", method: "GET", target: "/storage/v1/b/lake/o/", want: []string{ObjectsList}},
		{name: "XML list", method: "GET", target: "/lake", want: []string{ObjectsList}, xml: true},
		{name: "delete", method: "DELETE", target: "/storage/v1/b/lake/o/a", want: []string{ObjectsDelete}},
		{name: "patch", method: "PATCH", target: "/storage/v1/b/lake/o/a", want: []string{ObjectsUpdate}},
		{name: "multipart insert, name in query", method: "POST", target: "/upload/storage/v1/b/lake/o?uploadType=multipart&name=dir%2Fa.csv.gz",
			want: []string{ObjectsCreate}, insert: &Insert{Bucket: "lake", Object: "dir/a.csv.gz", IfGenerationMatch: -1}},
		{name: "create-only insert", method: "POST", target: "/upload/storage/v1/b/lake/o?uploadType=multipart&name=a&ifGenerationMatch=0",
			want: []string{ObjectsCreate}, insert: &Insert{Bucket: "lake", Object: "a", IfGenerationMatch: 0}},
		{name: "multipart insert, name in the metadata part", method: "POST", target: "/upload/storage/v1/b/lake/o/?uploadType=multipart",
			ctype: "multipart/related; boundary=B", body: multipartBody,
			want: []string{ObjectsCreate}, insert: &Insert{Bucket: "lake", Object: "dir/m.csv.gz", IfGenerationMatch: -1}},
		{name: "resumable start, name in the JSON body", method: "POST", target: "/upload/storage/v1/b/lake/o?uploadType=resumable",
			ctype: "application/json", body: `{"name":"r"}`,
			want: []string{ObjectsCreate}, insert: &Insert{Bucket: "lake", Object: "r", IfGenerationMatch: -1}},
		{name: "resumable session", method: "PUT", target: "/upload/storage/v1/b/lake/o?uploadType=resumable&upload_id=x"},
		{name: "rewrite", method: "POST", target: "/storage/v1/b/src/o/a/rewriteTo/b/dst/o/b%2Fc",
			want: []string{ObjectsGet, ObjectsCreate}, insert: &Insert{Bucket: "dst", Object: "b/c", IfGenerationMatch: -1}},
		{name: "compose", method: "POST", target: "/storage/v1/b/lake/o/c/compose?ifGenerationMatch=7",
			want: []string{ObjectsGet, ObjectsCreate}, insert: &Insert{Bucket: "lake", Object: "c", IfGenerationMatch: 7}},
		{name: "buckets list", method: "GET", target: "/storage/v1/b?project=p", want: []string{"storage.buckets.list"}},
		{name: "bucket get", method: "GET", target: "/storage/v1/b/lake", want: []string{"storage.buckets.get"}},
		{name: "object ACL", method: "GET", target: "/storage/v1/b/lake/o/a/acl", want: []string{"storage.objects.getIamPolicy"}},
		{name: "batch", method: "POST", target: "/batch/storage/v1", unknown: true},
		{name: "notifications", method: "POST", target: "/storage/v1/b/lake/notificationConfigs", unknown: true},
		{name: "root", method: "GET", target: "/", unknown: true},
		{name: "multipart insert without a name", method: "POST", target: "/upload/storage/v1/b/lake/o?uploadType=media", body: "DATA", unknown: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			req, err := Required(r)
			if tc.unknown {
				if err == nil {
					t.Fatalf("want an error for an unmapped request, got %+v", req)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range req.Checks {
				got = append(got, c.Permission)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("permissions %v, want %v", got, tc.want)
			}
			if (req.Insert == nil) != (tc.insert == nil) || req.Insert != nil && *req.Insert != *tc.insert {
				t.Errorf("insert %+v, want %+v", req.Insert, tc.insert)
			}
			if req.XML != tc.xml {
				t.Errorf("XML %v, want %v", req.XML, tc.xml)
			}
			if body, _ := io.ReadAll(r.Body); string(body) != tc.body {
				t.Errorf("body after Required %q, want it restored: %q", body, tc.body)
			}
		})
	}
}

type objects map[string]int64

func (o objects) Generation(bucket, name string) (int64, bool) {
	g, ok := o[bucket+"/"+name]
	return g, ok
}

// TestHandlerReplaceNeedsDelete: an insert over an existing object needs
// delete unless its precondition fails; what is denied never reaches the
// emulator.
func TestHandlerReplaceNeedsDelete(t *testing.T) {
	create := []string{ObjectsCreate}
	both := []string{ObjectsCreate, ObjectsDelete}
	cases := []struct {
		name, target string
		perms        []string
		wantCode     int
	}{
		{"new object, create", "name=new", create, 200},
		{"existing object, create only", "name=old", create, 403},
		{"existing object, create and delete", "name=old", both, 200},
		{"existing object, ifGenerationMatch=0: the emulator's 412, create only", "name=old&ifGenerationMatch=0", create, 200},
		{"existing object, ifGenerationMatch on its generation replaces", "name=old&ifGenerationMatch=5", create, 403},
		{"existing object, ifGenerationMatch on another generation", "name=old&ifGenerationMatch=4", create, 200},
		{"new object, nothing granted", "name=new", nil, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reached := false
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true })
			h := New(next, objects{"lake/old": 5}, &Policy{Principal: "sa@p.iam.gserviceaccount.com", Permissions: tc.perms})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("POST", "/upload/storage/v1/b/lake/o?uploadType=multipart&"+tc.target, nil))
			if w.Code != tc.wantCode || reached != (tc.wantCode == 200) {
				t.Fatalf("code %d, reached the emulator %v; want %d", w.Code, reached, tc.wantCode)
			}
			if w.Code != 403 {
				return
			}
			var body struct {
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
					Errors  []struct{ Message, Domain, Reason string }
				} `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			e := body.Error
			if e.Code != 403 || !strings.HasPrefix(e.Message, "sa@p.iam.gserviceaccount.com does not have storage.objects.") ||
				len(e.Errors) != 1 || e.Errors[0].Reason != "forbidden" || e.Errors[0].Message != e.Message {
				t.Errorf("403 body %s", w.Body)
			}
		})
	}
}

func TestParsePermissions(t *testing.T) {
	got, err := ParsePermissions("storage.objects.create, storage.objects.get,storage.objects.create")
	if err != nil || !slices.Equal(got, []string{"storage.objects.create", "storage.objects.get"}) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"objects.get", "storage.objects.get;", "roles/storage.objectViewer"} {
		if _, err := ParsePermissions(bad); err == nil {
			t.Errorf("ParsePermissions(%q): want an error", bad)
		}
	}
	if got, err := ParsePermissions(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v, %v", got, err)
	}
}

// TestHandlerPassesInternalAndOff: the emulator's own endpoints pass, and a
// nil policy enforces nothing.
func TestHandlerPassesInternalAndOff(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := New(next, objects{}, &Policy{})
	for _, tc := range []struct {
		target string
		off    bool
		want   int
	}{
		{"/_internal/healthcheck", false, 204},
		{"/storage/v1/b/lake/o", false, 403},
		{"/storage/v1/b/lake/o", true, 204},
	} {
		if tc.off {
			h.SetPolicy(nil)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", tc.target, nil))
		if w.Code != tc.want {
			t.Errorf("GET %s (off %v): %d, want %d", tc.target, tc.off, w.Code, tc.want)
		}
	}
}
