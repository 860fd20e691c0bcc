package turnstile

// FieldSplitter splits CSV records into fields. Its zero value is ready to
// use; it reuses its scratch space, so splitting allocates nothing once warm.
// The MTA file reader uses it too.
type FieldSplitter struct {
	scratch []byte
}

// Split splits one RFC 4180 record into fields trimmed of the spaces and tabs
// around them, stores the first len(fields) of them and returns how many fields
// the record has. A quoted field may hold commas, doubled quotes and line
// breaks; an unquoted one may hold neither a quote nor a line break. The fields
// point into s or into the splitter's scratch space and stay valid until the
// next Split. Errors are *RejectError with ReasonCSV.
func (p *FieldSplitter) Split(s []byte, fields [][]byte) (int, error) {
	if n, plain := splitASCII(s, fields); plain {
		return n, nil
	}
	return p.splitQuoted(s, fields)
}

// splitQuoted is Split's general path, for records with quotes, control
// bytes or non-ASCII bytes.
func (p *FieldSplitter) splitQuoted(s []byte, fields [][]byte) (int, error) {
	if cap(p.scratch) < len(s) {
		p.scratch = make([]byte, 0, len(s)+64)
	}
	p.scratch = p.scratch[:0]
	n := 0
	i := 0
	for {
		// Skip the spaces before a field, so that a quote after them still opens
		// a quoted field.
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		var field []byte
		if i < len(s) && s[i] == '"' {
			start := i + 1
			escaped := false
			j := start
			for {
				if j >= len(s) {
					return 0, reject(ReasonCSV, "field %d: quoted field is not closed", n+1)
				}
				if s[j] == '"' {
					if j+1 < len(s) && s[j+1] == '"' {
						escaped = true
						j += 2
						continue
					}
					break
				}
				j++
			}
			field = s[start:j]
			if escaped {
				from := len(p.scratch)
				for k := start; k < j; k++ {
					p.scratch = append(p.scratch, s[k])
					if s[k] == '"' {
						k++
					}
				}
				field = p.scratch[from:]
			}
			i = j + 1
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			if i < len(s) && s[i] != ',' {
				return 0, reject(ReasonCSV, "field %d: unexpected %q after the closing quote", n+1, s[i])
			}
		} else {
			j := i
			for j < len(s) && s[j] != ',' {
				switch s[j] {
				case '"':
					return 0, reject(ReasonCSV, "field %d: bare quote in an unquoted field", n+1)
				case '\n', '\r':
					return 0, reject(ReasonCSV, "value holds more than one line")
				}
				j++
			}
			field = s[i:j]
			i = j
		}
		if n < len(fields) {
			fields[n] = trimSpace(field)
		}
		n++
		if i >= len(s) {
			break
		}
		i++ // the comma
	}
	return n, nil
}

// trimSpace trims the spaces and tabs around b. Both splitters trim with it
// (a line that splitASCII takes holds no tab).
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isBlank(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// isBlank reports whether c is a space or a tab. Most bytes are neither and
// fail its first comparison.
func isBlank(c byte) bool { return c <= ' ' && (c == ' ' || c == '\t') }

// TrimLineEnd removes one trailing "\n", then one trailing "\r", from b.
func TrimLineEnd(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}
