package turnstile

import "testing"

// keyOf parses a value and returns its AppendKey encoding and key fields.
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
	return string(m.AppendKey(nil)), fields, true
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
