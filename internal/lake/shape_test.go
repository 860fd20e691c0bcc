package lake

import (
	"errors"
	"path"
	"strings"
	"testing"
)

// TestClaimShape runs the shape marker's contract against every backend:
// an absent marker is created with the shape, the same shape is accepted,
// and another shape, or a marker that holds no shape, is refused with a
// *ShapeError that names both and leaves the marker as it was.
func TestClaimShape(t *testing.T) {
	tests := []struct {
		name        string
		marker      string // "" for none
		claim       string
		wantCreated bool
		refused     bool
		wantStored  string
		wantMsg     []string
	}{
		{name: "absent", claim: "300/300/0", wantCreated: true},
		{name: "same", marker: "300/300/0\n", claim: "300/300/0"},
		{name: "same without a line end", marker: "300/300/0", claim: "300/300/0"},
		{name: "other duration", marker: "300/300/300\n", claim: "600/600/600", refused: true, wantStored: "300/300/300",
			wantMsg: []string{"duration 5m0s, slide 5m0s, watermark delay 5m0s", "duration 10m0s, slide 10m0s, watermark delay 10m0s",
				"turnstile_shape", "new consumer group", "new lake prefix", "Changing the window shape"}},
		{name: "other slide", marker: "600/600/0\n", claim: "600/300/0", refused: true, wantStored: "600/600/0",
			wantMsg: []string{"slide 10m0s", "slide 5m0s"}},
		{name: "other delay", marker: "300/300/0\n", claim: "300/300/60", refused: true, wantStored: "300/300/0",
			wantMsg: []string{"watermark delay 0s", "watermark delay 1m0s"}},
		{name: "not a shape", marker: "hello\n", claim: "300/300/0", refused: true, wantStored: "hello",
			wantMsg: []string{`"hello" (not a window shape)`}},
		{name: "blank", marker: " \n", claim: "300/300/0", refused: true, wantStored: "",
			wantMsg: []string{`"" (not a window shape)`}},
	}
	for bname, b := range backends(t) {
		for i, tt := range tests {
			t.Run(bname+"/"+tt.name, func(t *testing.T) {
				ctx := t.Context()
				// A prefix of its own per case: the backends are shared.
				s := &Sink{Bucket: b, Layout: Layout{Prefix: "case" + string(rune('a'+i)) + "/turnstile"}}
				name := s.Layout.ShapeObject()
				if tt.marker != "" {
					if err := b.Put(ctx, name, []byte(tt.marker)); err != nil {
						t.Fatal(err)
					}
				}
				created, err := s.ClaimShape(ctx, tt.claim)
				got, gerr := b.Get(ctx, name)
				if gerr != nil {
					t.Fatalf("the marker is not there after the claim: %v", gerr)
				}
				if !tt.refused {
					if err != nil {
						t.Fatalf("ClaimShape(%s): %v", tt.claim, err)
					}
					if created != tt.wantCreated {
						t.Errorf("created = %v, want %v", created, tt.wantCreated)
					}
					want := tt.marker
					if tt.wantCreated {
						want = tt.claim + "\n"
					}
					if string(got) != want {
						t.Errorf("marker holds %q, want %q", got, want)
					}
					return
				}
				var se *ShapeError
				if !errors.As(err, &se) {
					t.Fatalf("ClaimShape(%s) over %q = %v, want a *ShapeError", tt.claim, tt.marker, err)
				}
				if se.Stored != tt.wantStored || se.Wanted != tt.claim || se.Object != name || se.Prefix != s.Layout.Prefix {
					t.Errorf("ShapeError = %+v, want stored %q, wanted %q, object %s", se, tt.wantStored, tt.claim, name)
				}
				if created {
					t.Error("created = true on a refusal")
				}
				for _, w := range tt.wantMsg {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("the error does not mention %q: %v", w, err)
					}
				}
				if string(got) != tt.marker {
					t.Errorf("a refused claim changed the marker to %q, want %q", got, tt.marker)
				}
			})
		}
	}
}

// TestClaimShapeTwoWriters: of two writers that claim different shapes on
// one prefix, the second is refused, and a third with the first's shape is
// accepted.
func TestClaimShapeTwoWriters(t *testing.T) {
	for bname, b := range backends(t) {
		t.Run(bname, func(t *testing.T) {
			s := &Sink{Bucket: b, Layout: Layout{Prefix: "turnstile"}}
			for _, step := range []struct {
				shape   string
				refused bool
			}{{"300/300/300", false}, {"600/600/600", true}, {"300/300/300", false}} {
				_, err := s.ClaimShape(t.Context(), step.shape)
				var se *ShapeError
				if errors.As(err, &se) != step.refused || (!step.refused && err != nil) {
					t.Fatalf("ClaimShape(%s) = %v, want refused %v", step.shape, err, step.refused)
				}
			}
		})
	}
}

func TestClaimShapeBadShape(t *testing.T) {
	b := NewMemBucket()
	s := &Sink{Bucket: b, Layout: Layout{Prefix: "turnstile"}}
	for _, shape := range []string{"", "300", "300/600/0", "300/300/-1", "5m/5m/0"} {
		if _, err := s.ClaimShape(t.Context(), shape); err == nil {
			t.Errorf("ClaimShape(%q) = nil, want an error", shape)
		}
	}
	if names, _ := b.List(t.Context(), ""); len(names) != 0 {
		t.Errorf("a bad shape wrote %v", names)
	}
}

// TestShapeObjectUnseen: the marker is a valid name that no window pattern,
// no pattern rooted at the window folder and no listing of the window or
// side folders ever matches, in either layout.
func TestShapeObjectUnseen(t *testing.T) {
	for _, prefix := range []string{"turnstile", "a/b/turnstile"} {
		for _, hive := range []bool{false, true} {
			l := Layout{Prefix: prefix, Hive: hive}
			name := l.ShapeObject()
			if err := checkName(name); err != nil {
				t.Error(err)
			}
			for _, glob := range []string{prefix + "/*.csv.gz", l.WindowPattern(), prefix + "/*", prefix + "/*/*", prefix + "/dt=*"} {
				if ok, _ := path.Match(glob, name); ok {
					t.Errorf("shape marker %s matches %s", name, glob)
				}
			}
			// BigQuery's * matches "/" too: only a name outside <prefix>/ is safe.
			for _, folder := range []string{l.WindowPrefix(), l.SidePrefix(Rejected), l.SidePrefix(Late)} {
				if strings.HasPrefix(name, folder) {
					t.Errorf("shape marker %s is under %s", name, folder)
				}
			}
		}
	}
}
