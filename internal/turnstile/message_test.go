package turnstile

import (
	"strings"
	"testing"
)

// keyOf parses a value and returns its AppendKey encoding and key fields,
// after checking that SplitKey and DecodeKey give the fields back.
func keyOf(t *testing.T, value string) (string, [len(KeyFields)]string, bool) {
	t.Helper()
	var p Parser
	var m Message
	if err := p.Parse([]byte(value), &m); err != nil {
		return "", [len(KeyFields)]string{}, false
	}
	var fields [len(KeyFields)]string
	for i, fi := range KeyFields {
		fields[i] = string(m.Fields[fi])
	}
	key := m.AppendKey(nil)
	var split [len(KeyFields)][]byte
	if !SplitKey(key, &split) {
		t.Fatalf("SplitKey refused the key %q of %q", key, value)
	}
	for i := range split {
		if string(split[i]) != fields[i] {
			t.Fatalf("SplitKey(%q) gives field %d %q, the message has %q", key, i, split[i], fields[i])
		}
	}
	k, err := DecodeKey(key)
	if err != nil {
		t.Fatalf("DecodeKey refused the key %q of %q: %v", key, value, err)
	}
	if got := [...]string{k.CA, k.Unit, k.SCP, k.Station, k.LineName, k.Division, k.Desc}; got != fields {
		t.Fatalf("DecodeKey(%q) = %q, the message has %q", key, got, fields)
	}
	return string(key), fields, true
}

// TestAppendKey checks that the key encoding is the same whichever path a
// value took through the parser (plain, trimmed, quoted, JSON), and differs
// whenever a key field differs, commas and NUL bytes included.
func TestAppendKey(t *testing.T) {
	const tail = ",07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00"
	same := [][]string{
		{
			"A002,R051,02-00-00,59 ST,NQR456W,BMT" + tail,
			" A002 ,R051,02-00-00,59 ST,NQR456W, BMT" + tail,
			`"A002","R051",02-00-00,"59 ST",NQR456W,BMT` + tail,
			`"A002,R051,02-00-00,59 ST,NQR456W,BMT` + tail + `"`,
			"A002,R051,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00, REGULAR ,5,3,id2,2024-07-23 10:01:00",
		},
		{
			`A002,R051,02-00-00,"59 ST, LEX",NQR456W,BMT` + tail,
			` A002,R051,02-00-00, "59 ST, LEX" ,NQR456W,BMT` + tail,
		},
		{"\x00A,R051,02-00-00,59 ST,NQR456W,BMT" + tail, "\"\x00A\",R051,02-00-00,59 ST,NQR456W,BMT" + tail},
		{"é,R051,02-00-00,59 ST,NQR456W,BMT" + tail, "\"é\",R051,02-00-00,59 ST,NQR456W,BMT" + tail},
	}
	distinct := []string{
		"A002,R051,02-00-00,59 ST,NQR456W,BMT" + tail,
		`"A002,R051",02-00-00,59 ST,NQR456W,BMT,X` + tail, // joined by commas, these two
		`A002,"R051,02-00-00",59 ST,NQR456W,BMT,X` + tail, // would read the same
		`A002,R051,02-00-00,59 ST,NQR456W,X` + tail,
		`A002,R051,02-00-00,"59 ST, LEX",NQR456W,BMT` + tail,
		`A002,R051,02-00-00,59 ST,"LEX,NQR456W",BMT` + tail,
		"\x00A,R051,02-00-00,59 ST,NQR456W,BMT" + tail,
		",R051,02-00-00,59 ST,NQR456W,BMT" + tail,
		"A002,R051,02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,RECOVR AUD,5,3,id1,2024-07-22 10:01:00",
		"é,R051,02-00-00,59 ST,NQR456W,BMT" + tail,
	}
	for _, group := range same {
		want, wantFields, ok := keyOf(t, group[0])
		if !ok {
			t.Fatalf("%q does not parse", group[0])
		}
		for _, v := range group[1:] {
			got, fields, ok := keyOf(t, v)
			if !ok {
				t.Fatalf("%q does not parse", v)
			}
			if fields != wantFields {
				t.Fatalf("%q has key fields %q, want %q", v, fields, wantFields)
			}
			if got != want {
				t.Errorf("%q: key %q, but %q gives %q", v, got, group[0], want)
			}
		}
	}
	seen := map[string]string{}
	for _, v := range distinct {
		key, _, ok := keyOf(t, v)
		if !ok {
			t.Fatalf("%q does not parse", v)
		}
		if other, dup := seen[key]; dup {
			t.Errorf("%q and %q have different key fields but the same key %q", v, other, key)
		}
		seen[key] = v
	}
}

// FuzzAppendKey checks that two values that parse have the same key
// encoding exactly when their key fields are equal.
func FuzzAppendKey(f *testing.F) {
	f.Add([]byte(good), []byte(" "+good))
	f.Add([]byte(good), []byte(`"`+good+`"`))
	f.Add([]byte(`"A002,R051",02-00-00,59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00`),
		[]byte(`A002,"R051,02-00-00",59 ST,NQR456W,BMT,07-22-24,10:01:00,REGULAR,5,3,id1,2024-07-22 10:01:00`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		keyA, fieldsA, okA := keyOf(t, string(a))
		keyB, fieldsB, okB := keyOf(t, string(b))
		if !okA || !okB {
			return
		}
		if (keyA == keyB) != (fieldsA == fieldsB) {
			t.Fatalf("fields %q and %q, keys %q and %q", fieldsA, fieldsB, keyA, keyB)
		}
	})
}

// TestSplitKeyRefuses checks that SplitKey and DecodeKey refuse what
// AppendKey never writes.
func TestSplitKeyRefuses(t *testing.T) {
	for _, b := range []string{
		"", "A002", "A,B,C,D,E,F", "A,B,C,D,E,F,G,H", // six fields, eight fields
		"\x00", "\x00\x01A", "\x00\x05AB\x00\x00\x00\x00\x00\x00", // short fields
		"\x00\x00\x00\x00\x00\x00\x00\x00X",                // seven empty fields, then more
		"\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", // a length that overflows
	} {
		var fields [len(KeyFields)][]byte
		if SplitKey([]byte(b), &fields) {
			t.Errorf("SplitKey(%q) = true, %q", b, fields)
		}
		if k, err := DecodeKey([]byte(b)); err == nil {
			t.Errorf("DecodeKey(%q) = %+v, no error", b, k)
		}
	}
}

// TestAppendDedup checks that two messages have the same dedup bytes
// exactly when their ID and STATION are equal, and that no other field
// counts.
func TestAppendDedup(t *testing.T) {
	dedup := func(id, station, scp, ts string) string {
		r := good
		r = strings.Replace(r, ",id1,", ","+id+",", 1)
		r = strings.Replace(r, ",59 ST,", ","+station+",", 1)
		r = strings.Replace(r, ",02-00-00,", ","+scp+",", 1)
		r = strings.Replace(r, "2024-07-22 10:01:00", ts, 1)
		var p Parser
		var m Message
		if err := p.Parse([]byte(r), &m); err != nil {
			t.Fatalf("%q: %v", r, err)
		}
		return string(m.AppendDedup(nil))
	}
	long := strings.Repeat("x", 200) // a two-byte length
	base := dedup("id1", "59 ST", "02-00-00", "2024-07-22 10:01:00")
	if got := dedup("id1", "59 ST", "02-00-01", "2024-07-23 10:01:00"); got != base {
		t.Errorf("SCP and TIMESTAMP change the dedup bytes: %q, %q", got, base)
	}
	seen := map[string][2]string{}
	for _, c := range [][2]string{
		{"id1", "59 ST"}, {"id2", "59 ST"}, {"id1", "59 SU"}, {"id1", "5"}, {"id15", ""},
		{"id", "159 ST"}, {long, "59 ST"}, {long + "5", "9 ST"}, {"\"a\"\"b\"", "59 ST"},
	} {
		d := dedup(c[0], c[1], "02-00-00", "2024-07-22 10:01:00")
		if other, dup := seen[d]; dup {
			t.Errorf("%q and %q have the same dedup bytes %q", c, other, d)
		}
		seen[d] = c
	}
}
