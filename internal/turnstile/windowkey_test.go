package turnstile

import (
	"strings"
	"testing"
)

func TestWindowKey(t *testing.T) {
	base := Key{CA: "A002", Unit: "R051", SCP: "02-00-00", Station: "59 ST", LineName: "NQR456W", Division: "BMT", Desc: "REGULAR"}
	with := func(f func(*Key)) Key { k := base; f(&k); return k }
	tests := []struct {
		name string
		key  Key
		end  int64
		want string
	}{
		{"plain fields read as before", base, 1556971500, `A002|R051|02-00-00|59 ST|NQR456W|BMT|REGULAR|1556971500`},
		{"a '|' in a field", with(func(k *Key) { k.CA = "A|B" }), 1, `A\|B|R051|02-00-00|59 ST|NQR456W|BMT|REGULAR|1`},
		{"a '\\' in a field", with(func(k *Key) { k.Desc = `RE\` }), 1, `A002|R051|02-00-00|59 ST|NQR456W|BMT|RE\\|1`},
		{"'\\|' in a field", with(func(k *Key) { k.Station = `\|` }), -1, `A002|R051|02-00-00|\\\||NQR456W|BMT|REGULAR|-1`},
		{"empty fields", Key{}, 0, `|||||||0`},
		{"commas and quotes", with(func(k *Key) { k.Station = `TIMES SQ, "42 ST"` }), 7, `A002|R051|02-00-00|TIMES SQ, "42 ST"|NQR456W|BMT|REGULAR|7`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := WindowCount{Key: tt.key, End: tt.end, Entries: 5, Exits: 6}
			got := WindowKey(&c)
			if got != tt.want {
				t.Fatalf("WindowKey = %s, want %s", got, tt.want)
			}
			back, err := ParseWindowKey([]byte(got))
			if err != nil {
				t.Fatal(err)
			}
			if back.Key != tt.key || back.End != tt.end {
				t.Errorf("ParseWindowKey(%s) = %+v, want %+v end %d", got, back, tt.key, tt.end)
			}
		})
	}
}

// TestWindowKeyNoCollision holds pairs of rows that the old key, the fields
// joined with an unescaped '|', could not tell apart.
func TestWindowKeyNoCollision(t *testing.T) {
	pairs := [][2]WindowCount{
		{{Key: Key{CA: "A|B", Unit: "C"}}, {Key: Key{CA: "A", Unit: "B|C"}}},
		{{Key: Key{CA: "A|B", Unit: ""}}, {Key: Key{CA: "A", Unit: "B|"}}},
		{{Key: Key{CA: `A\`, Unit: "B"}}, {Key: Key{CA: "A", Unit: `\B`}}},
		{{Key: Key{CA: `\|`}}, {Key: Key{CA: `\`, Unit: `|`}}},
	}
	for _, p := range pairs {
		a, b := WindowKey(&p[0]), WindowKey(&p[1])
		if a == b {
			t.Errorf("%+v and %+v share the key %s", p[0], p[1], a)
		}
	}
}

func TestParseWindowKeyRejects(t *testing.T) {
	for _, in := range []string{
		``, `A|B|C|D|E|F|G`, `A|B|C|D|E|F|G|H|1`, `A|B|C|D|E|F|G|x`, `A|B|C|D|E|F|G|01`, `A|B|C|D|E|F|G|+1`,
		`A\x|B|C|D|E|F|G|1`, `A|B|C|D|E|F|G\`, `A|B|C|D|E|F|G|1\`,
	} {
		if c, err := ParseWindowKey([]byte(in)); err == nil {
			t.Errorf("ParseWindowKey(%q) = %+v, want an error", in, c)
		}
	}
}

// FuzzWindowKey checks that a key decodes to the row it was made of, that
// two rows with different keys or ends never share a window key, and that a
// string ParseWindowKey accepts is the key of what it decodes to.
func FuzzWindowKey(f *testing.F) {
	f.Add("A002", "R051", "02-00-00", "59 ST", "NQR456W", "BMT", "REGULAR", int64(1556971500), "A002|R051", "", int64(1))
	f.Add(`\`, "|", `\|`, "", "", "", "", int64(-1), `\|`, `|\`, int64(0))
	f.Fuzz(func(t *testing.T, ca, unit, scp, station, lines, div, desc string, end int64, ca2, desc2 string, end2 int64) {
		a := WindowCount{Key: Key{ca, unit, scp, station, lines, div, desc}, End: end}
		ka := WindowKey(&a)
		back, err := ParseWindowKey([]byte(ka))
		if err != nil {
			t.Fatalf("ParseWindowKey(%q): %v", ka, err)
		}
		if back.Key != a.Key || back.End != a.End {
			t.Fatalf("round trip of %+v gave %+v", a, back)
		}
		b := WindowCount{Key: Key{ca2, unit, scp, station, lines, div, desc2}, End: end2}
		if kb := WindowKey(&b); (kb == ka) != (a.Key == b.Key && a.End == b.End) {
			t.Fatalf("%+v and %+v: keys %q and %q", a, b, ka, kb)
		}
		// Any string that parses is the key of what it parses to.
		for _, s := range []string{ca, strings.Join([]string{ca, unit, scp, station, lines, div, desc, ca2}, "|")} {
			if c, err := ParseWindowKey([]byte(s)); err == nil && WindowKey(&c) != s {
				t.Fatalf("ParseWindowKey(%q) = %+v, whose key is %q", s, c, WindowKey(&c))
			}
		}
	})
}
