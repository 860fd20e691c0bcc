package turnstile

import "unicode/utf8"

// isJSONString reports whether v, which starts and ends with a quote, has no
// unescaped quote inside: that is, whether it reads as one JSON string literal
// rather than a CSV line that starts and ends with quoted fields.
func isJSONString(v []byte) bool {
	for i := 1; i < len(v)-1; i++ {
		switch v[i] {
		case '\\':
			i++
			if i == len(v)-1 {
				return false // the closing quote is escaped
			}
		case '"':
			return false
		}
	}
	return true
}

// decodeJSON decodes the JSON string literal v into the parser's buffer.
func (p *Parser) decodeJSON(v []byte) ([]byte, error) {
	out := p.json[:0]
	for i := 1; i < len(v)-1; i++ {
		c := v[i]
		if c != '\\' {
			if c < 0x20 {
				return nil, reject(ReasonJSON, "control character 0x%02x in JSON string", c)
			}
			out = append(out, c)
			continue
		}
		i++
		switch v[i] {
		case '"', '\\', '/':
			out = append(out, v[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(v, i+1)
			if !ok {
				return nil, reject(ReasonJSON, "bad \\u escape at byte %d", i)
			}
			i += 4
			if r >= 0xD800 && r < 0xDC00 { // a surrogate pair
				if r2, ok := hex4(v, i+3); ok && i+2 < len(v) && v[i+1] == '\\' && v[i+2] == 'u' && r2 >= 0xDC00 && r2 < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, reject(ReasonJSON, "bad escape \\%c", v[i])
		}
	}
	p.json = out
	return out, nil
}

func hex4(v []byte, at int) (rune, bool) {
	if at+4 > len(v)-1 {
		return 0, false
	}
	var r rune
	for _, c := range v[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
