package textline

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

// minBuffer is the smallest buffer bufio.NewReaderSize allows: every line
// longer than 16 bytes takes the gathering path.
const minBuffer = 16

// readAll returns every line Next gives, copied, and the error that ended the
// input.
func readAll(t *testing.T, r io.Reader, size int) ([]string, error) {
	t.Helper()
	lr := NewReader(bufio.NewReaderSize(r, size))
	var lines []string
	for {
		line, err := lr.Next()
		if err != nil {
			if len(line) > 0 {
				lines = append(lines, string(line)+"|"+err.Error())
			}
			return lines, err
		}
		lines = append(lines, string(line))
	}
}

func TestNext(t *testing.T) {
	long := strings.Repeat("0123456789", 10) // 100 bytes: six buffers and more
	tests := []struct {
		name  string
		input string
		want  []string // lines; the last one, ended by EOF, carries "|EOF"
	}{
		{name: "empty input", input: "", want: nil},
		{name: "short lines", input: "a\nbc\n", want: []string{"a\n", "bc\n"}},
		{name: "blank lines and CRLF are kept", input: "\n\r\nx\r\n", want: []string{"\n", "\r\n", "x\r\n"}},
		{name: "last line without newline", input: "a\nlast", want: []string{"a\n", "last|EOF"}},
		{name: "line of exactly the buffer", input: strings.Repeat("x", minBuffer-1) + "\n" + "b\n",
			want: []string{strings.Repeat("x", minBuffer-1) + "\n", "b\n"}},
		{name: "line one byte longer than the buffer", input: strings.Repeat("x", minBuffer) + "\n" + "b\n",
			want: []string{strings.Repeat("x", minBuffer) + "\n", "b\n"}},
		{name: "line longer than the buffer", input: "a\n" + long + "\nb\n", want: []string{"a\n", long + "\n", "b\n"}},
		{name: "two long lines in a row", input: long + "\n" + long[:50] + "\n", want: []string{long + "\n", long[:50] + "\n"}},
		{name: "long last line without newline", input: "a\n" + long, want: []string{"a\n", long + "|EOF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, strings.NewReader(tt.input), minBuffer)
			if err != io.EOF {
				t.Fatalf("ended with %v, want io.EOF", err)
			}
			if strings.Join(got, "\x00") != strings.Join(tt.want, "\x00") {
				t.Fatalf("lines %q, want %q", got, tt.want)
			}
		})
	}
}

// failingReader gives data, then fails.
type failingReader struct {
	data string
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestNextReadError checks that a read error in the middle of a line, short
// or long, comes with the bytes read before it.
func TestNextReadError(t *testing.T) {
	boom := errors.New("boom")
	for _, partial := range []string{"par", strings.Repeat("p", 3*minBuffer+5)} {
		got, err := readAll(t, &failingReader{data: "a\n" + partial, err: boom}, minBuffer)
		if !errors.Is(err, boom) {
			t.Fatalf("ended with %v, want boom", err)
		}
		want := []string{"a\n", partial + "|boom"}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("lines %q, want %q", got, want)
		}
	}
}

// FuzzNext checks, for any input, that the lines put together give the input
// back and that each is one line: a '\n' at its end only, and none on the
// last.
func FuzzNext(f *testing.F) {
	f.Add([]byte("a\nbc\n"), uint8(0))
	f.Add([]byte(strings.Repeat("x", 40)+"\n\nlast"), uint8(3))
	f.Fuzz(func(t *testing.T, input []byte, extra uint8) {
		lr := NewReader(bufio.NewReaderSize(strings.NewReader(string(input)), minBuffer+int(extra%32)))
		var back []byte
		for {
			line, err := lr.Next()
			if i := strings.IndexByte(string(line), '\n'); i >= 0 && i != len(line)-1 {
				t.Fatalf("line %q has a '\\n' before its end", line)
			}
			back = append(back, line...)
			if err != nil {
				if err != io.EOF {
					t.Fatalf("error %v, want io.EOF", err)
				}
				if len(line) > 0 && line[len(line)-1] == '\n' {
					t.Fatalf("last line %q ends with '\\n'", line)
				}
				break
			}
			if len(line) == 0 || line[len(line)-1] != '\n' {
				t.Fatalf("line %q with a nil error does not end with '\\n'", line)
			}
		}
		if string(back) != string(input) {
			t.Fatalf("lines give %q, want %q", back, input)
		}
	})
}
