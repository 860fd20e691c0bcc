// Package gcsiam makes a GCS emulator answer as GCS does to a caller that
// holds only some IAM permissions: every request is mapped to the
// permissions GCS requires for it, and a request that lacks one is answered
// 403 with GCS's JSON error body, before it reaches the emulator.
//
// The mapping (Required) covers the JSON API, its upload endpoints and the
// XML-API object reads that cloud.google.com/go/storage makes:
//
//	GET/HEAD an object (metadata, alt=media, XML read)  storage.objects.get
//	GET the object list of a bucket                     storage.objects.list
//	insert (upload) an object                           storage.objects.create
//	  ... that replaces an existing object              + storage.objects.delete
//	DELETE an object                                    storage.objects.delete
//	PATCH/PUT an object's metadata                      storage.objects.update
//	copy, rewrite, compose                              get of the sources, create (+ delete) of the target
//	buckets: list, get, create, update, delete          storage.buckets.*
//	ACLs                                                storage.{objects,buckets}.{get,set}IamPolicy
//
// GCS needs storage.objects.delete to replace an object ("To replace an
// existing object, you need both storage.objects.create and
// storage.objects.delete", Cloud Storage IAM permissions). An insert whose
// ifGenerationMatch precondition fails (ifGenerationMatch=0 on an existing
// object) replaces nothing: it needs create only, and the emulator answers
// 412. Whether the object exists is asked of the emulator (Objects) when the
// request arrives, under a lock per object name that is held until the
// emulator has answered, so that two uploads of one name through this
// handler cannot both be judged creations. A resumable upload is judged when
// it is started: its later requests carry the session, which is the
// authorisation in GCS too.
//
// A request the mapping does not know (batch calls, notifications, HMAC
// keys, a path it cannot parse) is denied: the double is at least as strict
// as GCS, and a client that starts making a new kind of request is noticed.
// The emulator's own endpoints under /_internal/ pass (its health check).
package gcsiam

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The object and bucket permissions of GCS that the mapping uses.
const (
	ObjectsCreate = "storage.objects.create"
	ObjectsDelete = "storage.objects.delete"
	ObjectsGet    = "storage.objects.get"
	ObjectsList   = "storage.objects.list"
	ObjectsUpdate = "storage.objects.update"
)

// Policy is what one caller may do: its principal (the name GCS puts in its
// 403 messages, such as a service account's e-mail) and the permissions it
// holds, on every bucket of the emulator.
type Policy struct {
	Principal   string
	Permissions []string
}

// DefaultPrincipal names the caller in 403 messages when a Policy has none.
const DefaultPrincipal = "caller@gcs-emulator.iam.gserviceaccount.com"

var permissionRE = regexp.MustCompile(`^storage\.[a-zA-Z]+\.[a-zA-Z]+$`)

// ParsePermissions parses a comma- or space-separated list of permissions,
// such as "storage.objects.create,storage.objects.get". Each must look like
// storage.RESOURCE.VERB; duplicates are dropped. An empty list is valid (a
// caller that may do nothing).
func ParsePermissions(s string) ([]string, error) {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		if !permissionRE.MatchString(p) {
			return nil, fmt.Errorf("gcsiam: %q is not a Cloud Storage permission (want storage.RESOURCE.VERB, e.g. storage.objects.get)", p)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Has reports whether the policy grants perm.
func (p Policy) Has(perm string) bool { return slices.Contains(p.Permissions, perm) }

func (p Policy) principal() string {
	if p.Principal == "" {
		return DefaultPrincipal
	}
	return p.Principal
}

// Objects tells the enforcer whether an object exists, and its generation:
// the emulator's own view, to judge whether an insert replaces an object.
type Objects interface {
	Generation(bucket, name string) (gen int64, ok bool)
}

// Handler enforces a policy in front of an emulator. Its zero value is not
// usable; make one with New. A Handler is safe for concurrent use; its
// policy can be changed or removed while it serves.
type Handler struct {
	next    http.Handler
	objects Objects

	mu      sync.RWMutex
	policy  *Policy // nil: enforce nothing
	denied  int
	granted map[string]int

	locks sync.Map // "bucket/name" -> *sync.Mutex
}

// New returns a handler that checks every request against the policy (none
// when p is nil: every request passes) and hands the allowed ones to next.
func New(next http.Handler, objects Objects, p *Policy) *Handler {
	h := &Handler{next: next, objects: objects}
	h.SetPolicy(p)
	return h
}

// SetPolicy replaces the policy; nil turns enforcement off.
func (h *Handler) SetPolicy(p *Policy) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p != nil {
		cp := *p
		cp.Permissions = slices.Clone(p.Permissions)
		p = &cp
	}
	h.policy = p
}

// Granted returns how many requests that needed perm were let through while
// a policy was enforced.
func (h *Handler) Granted(perm string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.granted[perm]
}

// Denied returns how many requests were answered 403.
func (h *Handler) Denied() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.denied
}

func (h *Handler) current() *Policy {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.policy
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := h.current()
	if p == nil || strings.HasPrefix(r.URL.Path, "/_internal/") {
		h.next.ServeHTTP(w, r)
		return
	}
	req, err := Required(r)
	if err != nil {
		h.deny(w, false, fmt.Sprintf("%s is not allowed to make this request: %v", p.principal(), err))
		return
	}
	if req.Insert != nil {
		key := req.Insert.Bucket + "/" + req.Insert.Object
		m, _ := h.locks.LoadOrStore(key, &sync.Mutex{})
		mu := m.(*sync.Mutex)
		mu.Lock()
		defer mu.Unlock()
		if gen, ok := h.objects.Generation(req.Insert.Bucket, req.Insert.Object); ok && req.Insert.replaces(gen) {
			req.Checks = append(req.Checks, Check{Permission: ObjectsDelete, Resource: Object})
		}
	}
	for _, c := range req.Checks {
		if !p.Has(c.Permission) {
			h.deny(w, req.XML, Message(p.principal(), c))
			return
		}
	}
	h.mu.Lock()
	if h.granted == nil {
		h.granted = map[string]int{}
	}
	for _, c := range req.Checks {
		h.granted[c.Permission]++
	}
	h.mu.Unlock()
	h.next.ServeHTTP(w, r)
}

// deny answers 403 with GCS's error body: JSON, or XML for the XML API
// (<Error><Code>AccessDenied</Code>...<Details>msg</Details></Error>).
func (h *Handler) deny(w http.ResponseWriter, xmlAPI bool, msg string) {
	h.mu.Lock()
	h.denied++
	h.mu.Unlock()
	if xmlAPI {
		var esc bytes.Buffer
		_ = xml.EscapeText(&esc, []byte(msg))
		w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code><Message>Access denied.</Message><Details>%s</Details></Error>", esc.String())
		return
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code":    http.StatusForbidden,
		"message": msg,
		"errors":  []map[string]string{{"message": msg, "domain": "global", "reason": "forbidden"}},
	}})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write(body)
}

// Resource is what a permission is checked on, as GCS names it in its 403
// messages.
type Resource string

// The resources of the messages.
const (
	Object  Resource = "object"
	Bucket  Resource = "bucket"
	Project Resource = "project"
)

// Check is one permission a request needs, on a resource.
type Check struct {
	Permission string
	Resource   Resource
}

// Message is GCS's 403 message for a principal that lacks c, for example
// "sa@p.iam.gserviceaccount.com does not have storage.objects.get access to
// the Google Cloud Storage object. Permission 'storage.objects.get' denied on
// resource (or it may not exist)."
func Message(principal string, c Check) string {
	return fmt.Sprintf("%s does not have %s access to the Google Cloud Storage %s. Permission '%s' denied on resource (or it may not exist).",
		principal, c.Permission, c.Resource, c.Permission)
}

// Request is what Required makes of an HTTP request: the permissions it
// needs whatever the bucket holds, and for an insert, the object it writes,
// which needs storage.objects.delete too when it replaces one.
type Request struct {
	Checks []Check
	Insert *Insert
	// XML is true for an XML-API request, which GCS answers with an XML
	// error body.
	XML bool
}

// Insert is the object an insert writes and its generation precondition.
type Insert struct {
	Bucket, Object string
	// IfGenerationMatch is the precondition's value, or -1 when the request
	// has none.
	IfGenerationMatch int64
}

// replaces reports whether the insert replaces the live object of
// generation gen: it does unless its precondition fails (then GCS answers
// 412 and changes nothing).
func (in *Insert) replaces(gen int64) bool {
	return in.IfGenerationMatch < 0 || in.IfGenerationMatch == gen
}

func checks(res Resource, perms ...string) []Check {
	out := make([]Check, len(perms))
	for i, p := range perms {
		out[i] = Check{Permission: p, Resource: res}
	}
	return out
}

// Required maps a request to the permissions GCS requires for it. It may
// read (and then restore) the body of an upload whose object name is not in
// the query. It returns an error for a request it does not know.
func Required(r *http.Request) (Request, error) {
	segs, err := segments(r)
	if err != nil {
		return Request{}, err
	}
	m := r.Method
	if o := r.Header.Get("X-HTTP-Method-Override"); m == http.MethodPost && o != "" {
		m = o
	}
	get := m == http.MethodGet || m == http.MethodHead
	n := len(segs)
	switch {
	case n >= 3 && segs[0] == "storage" && segs[1] == "v1":
		return jsonAPI(r, m, get, segs[2:])
	case n >= 1 && segs[0] == "upload":
		return upload(r, m, segs[1:])
	case n >= 1 && (segs[0] == "batch" || segs[0] == "_internal"):
		return Request{}, fmt.Errorf("%s /%s is not mapped to permissions", r.Method, strings.Join(segs, "/"))
	case n >= 6 && segs[0] == "download" && segs[1] == "storage" && segs[2] == "v1" && segs[3] == "b" && segs[5] == "o" && get:
		return Request{Checks: checks(Object, ObjectsGet)}, nil
	case n == 1 && segs[0] != "" && get: // XML API: list a bucket
		return Request{Checks: checks(Bucket, ObjectsList), XML: true}, nil
	case n >= 2: // XML API, path style: /BUCKET/OBJECT
		switch {
		case get:
			return Request{Checks: checks(Object, ObjectsGet), XML: true}, nil
		case m == http.MethodDelete:
			return Request{Checks: checks(Object, ObjectsDelete), XML: true}, nil
		case m == http.MethodPut || m == http.MethodPost:
			return Request{Checks: checks(Object, ObjectsCreate), XML: true, Insert: &Insert{Bucket: segs[0], Object: strings.Join(segs[1:], "/"),
				IfGenerationMatch: generation(r.Header.Get("X-Goog-If-Generation-Match"))}}, nil
		}
	}
	return Request{}, fmt.Errorf("%s %s is not mapped to permissions", r.Method, r.URL.Path)
}

// jsonAPI maps the requests under /storage/v1/.
func jsonAPI(r *http.Request, m string, get bool, s []string) (Request, error) {
	bad := fmt.Errorf("%s %s is not mapped to permissions", r.Method, r.URL.Path)
	if len(s) == 0 || s[0] != "b" {
		return Request{}, bad
	}
	s = s[1:]
	switch {
	case len(s) == 0: // /b
		switch m {
		case http.MethodGet:
			return Request{Checks: checks(Project, "storage.buckets.list")}, nil
		case http.MethodPost:
			return Request{Checks: checks(Project, "storage.buckets.create")}, nil
		}
	case len(s) == 1: // /b/BUCKET
		switch {
		case get:
			return Request{Checks: checks(Bucket, "storage.buckets.get")}, nil
		case m == http.MethodPatch || m == http.MethodPut:
			return Request{Checks: checks(Bucket, "storage.buckets.update")}, nil
		case m == http.MethodDelete:
			return Request{Checks: checks(Bucket, "storage.buckets.delete")}, nil
		}
	case s[1] == "acl" || s[1] == "iam" || s[1] == "defaultObjectAcl":
		if get {
			return Request{Checks: checks(Bucket, "storage.buckets.getIamPolicy")}, nil
		}
		return Request{Checks: checks(Bucket, "storage.buckets.setIamPolicy")}, nil
	case s[1] == "storageLayout" && get:
		return Request{Checks: checks(Bucket, "storage.buckets.get")}, nil
	case s[1] != "o":
		return Request{}, bad
	case len(s) == 2 || len(s) == 3 && s[2] == "": // /b/BUCKET/o or /b/BUCKET/o/
		if get {
			return Request{Checks: checks(Bucket, ObjectsList)}, nil
		}
		if m == http.MethodPost { // an insert through the metadata endpoint
			return insert(r, s[0])
		}
	default: // /b/BUCKET/o/OBJECT...
		return objectAPI(r, m, get, s[0], s[2:])
	}
	return Request{}, bad
}

// objectAPI maps /storage/v1/b/BUCKET/o/REST.
func objectAPI(r *http.Request, m string, get bool, bucket string, rest []string) (Request, error) {
	q := r.URL.Query()
	for i, seg := range rest {
		switch {
		case (seg == "rewriteTo" || seg == "copyTo") && m == http.MethodPost && len(rest) >= i+5 && rest[i+1] == "b" && rest[i+3] == "o":
			req := Request{Checks: append(checks(Object, ObjectsGet), checks(Object, ObjectsCreate)...),
				Insert: &Insert{Bucket: rest[i+2], Object: strings.Join(rest[i+4:], "/"), IfGenerationMatch: generation(q.Get("ifGenerationMatch"))}}
			return req, nil
		case seg == "compose" && i == len(rest)-1 && m == http.MethodPost:
			return Request{Checks: append(checks(Object, ObjectsGet), checks(Object, ObjectsCreate)...),
				Insert: &Insert{Bucket: bucket, Object: strings.Join(rest[:i], "/"), IfGenerationMatch: generation(q.Get("ifGenerationMatch"))}}, nil
		case seg == "acl" && i > 0:
			if get {
				return Request{Checks: checks(Object, "storage.objects.getIamPolicy")}, nil
			}
			return Request{Checks: checks(Object, "storage.objects.setIamPolicy")}, nil
		}
	}
	switch {
	case get:
		return Request{Checks: checks(Object, ObjectsGet)}, nil
	case m == http.MethodDelete:
		return Request{Checks: checks(Object, ObjectsDelete)}, nil
	case m == http.MethodPatch || m == http.MethodPut:
		return Request{Checks: checks(Object, ObjectsUpdate)}, nil
	}
	return Request{}, fmt.Errorf("%s %s is not mapped to permissions", r.Method, r.URL.Path)
}

// upload maps /upload/storage/v1/b/BUCKET/o and /upload/resumable/ID.
func upload(r *http.Request, m string, s []string) (Request, error) {
	if len(s) >= 1 && s[0] == "resumable" {
		return Request{}, nil // a started session: judged when it started
	}
	ok := len(s) >= 5 && s[0] == "storage" && s[1] == "v1" && s[2] == "b" && s[4] == "o" &&
		(len(s) == 5 || len(s) == 6 && s[5] == "")
	if !ok {
		return Request{}, fmt.Errorf("%s %s is not mapped to permissions", r.Method, r.URL.Path)
	}
	q := r.URL.Query()
	switch {
	case q.Has("upload_id"):
		return Request{}, nil // the later requests of a resumable session
	case m == http.MethodPost:
		return insert(r, s[3])
	}
	return Request{}, fmt.Errorf("%s %s is not mapped to permissions", r.Method, r.URL.Path)
}

// insert is an upload (or a resumable session's start) into bucket: create,
// and the object it names, to judge replacement.
func insert(r *http.Request, bucket string) (Request, error) {
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		var err error
		if name, err = bodyName(r); err != nil {
			return Request{}, fmt.Errorf("insert into bucket %s: %w", bucket, err)
		}
	}
	return Request{Checks: checks(Object, ObjectsCreate),
		Insert: &Insert{Bucket: bucket, Object: name, IfGenerationMatch: generation(q.Get("ifGenerationMatch"))}}, nil
}

// bodyName reads the object name from an upload's metadata: the JSON body
// of a resumable start or of a metadata insert, or the first part of a
// multipart upload. It restores the body.
func bodyName(r *http.Request) (string, error) {
	if r.Body == nil {
		return "", fmt.Errorf("no object name")
	}
	data, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("read the upload's metadata: %w", err)
	}
	meta := data
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && strings.HasPrefix(mt, "multipart/") {
		part, err := multipart.NewReader(bytes.NewReader(data), params["boundary"]).NextPart()
		if err != nil {
			return "", fmt.Errorf("read the metadata part of a multipart upload: %w", err)
		}
		if meta, err = io.ReadAll(part); err != nil {
			return "", fmt.Errorf("read the metadata part of a multipart upload: %w", err)
		}
	}
	var obj struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(meta, &obj); err != nil || obj.Name == "" {
		return "", fmt.Errorf("no object name in the query or the metadata")
	}
	return obj.Name, nil
}

// generation parses a generation precondition, -1 when absent or unparsable
// (then the insert counts as a replacement: the stricter reading).
func generation(s string) int64 {
	if s == "" {
		return -1
	}
	g, err := strconv.ParseInt(s, 10, 64)
	if err != nil || g < 0 {
		return -1
	}
	return g
}

// segments splits the request's escaped path and unescapes each segment, so
// that an object name holding %2F stays one segment.
func segments(r *http.Request) ([]string, error) {
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	if p == "" {
		return nil, nil
	}
	raw := strings.Split(p, "/")
	out := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", r.URL.EscapedPath(), err)
		}
		out[i] = u
	}
	return out, nil
}
