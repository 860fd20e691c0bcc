package sodatest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// expr is a parsed $where.
type expr interface {
	eval(row Row) bool
}

type andExpr struct{ l, r expr }
type orExpr struct{ l, r expr }
type cmpExpr struct {
	col, op, lit string
}

func (e andExpr) eval(row Row) bool { return e.l.eval(row) && e.r.eval(row) }
func (e orExpr) eval(row Row) bool  { return e.l.eval(row) || e.r.eval(row) }

func (e cmpExpr) eval(row Row) bool {
	v, ok := row.value(e.col)
	if !ok {
		return false // NULL
	}
	c := compare(e.col, v, e.lit)
	switch e.op {
	case "=":
		return c == 0
	case "!=", "<>":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	default: // ">="
		return c >= 0
	}
}

// token kinds
const (
	tokIdent = iota
	tokString
	tokOp
	tokLParen
	tokRParen
	tokEOF
)

type token struct {
	kind int
	text string
}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(':
			toks = append(toks, token{tokLParen, "("})
			i++
		case c == ')':
			toks = append(toks, token{tokRParen, ")"})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, errors.New("unterminated string literal")
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			toks = append(toks, token{tokString, b.String()})
		case strings.ContainsRune("=<>!", rune(c)):
			j := i + 1
			for j < len(s) && strings.ContainsRune("=<>", rune(s[j])) {
				j++
			}
			op := s[i:j]
			if !slices.Contains([]string{"=", "!=", "<>", "<", "<=", ">", ">="}, op) {
				return nil, fmt.Errorf("unknown operator %q", op)
			}
			toks = append(toks, token{tokOp, op})
			i = j
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || 'a' <= s[j] && s[j] <= 'z' || 'A' <= s[j] && s[j] <= 'Z' || '0' <= s[j] && s[j] <= '9') {
				j++
			}
			toks = append(toks, token{tokIdent, s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
	return append(toks, token{kind: tokEOF}), nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token { t := p.toks[p.pos]; p.pos++; return t }

func (p *parser) keyword(k string) bool {
	t := p.peek()
	if t.kind == tokIdent && strings.EqualFold(t.text, k) {
		p.pos++
		return true
	}
	return false
}

// parseWhere parses a $where: or-terms of and-terms of comparisons.
func parseWhere(s string) (expr, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, fmt.Errorf("unexpected %q", t.text)
	}
	return e, nil
}

func (p *parser) or() (expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("OR") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orExpr{l, r}
	}
	return l, nil
}

func (p *parser) and() (expr, error) {
	l, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.keyword("AND") {
		r, err := p.term()
		if err != nil {
			return nil, err
		}
		l = andExpr{l, r}
	}
	return l, nil
}

func (p *parser) term() (expr, error) {
	t := p.next()
	switch t.kind {
	case tokLParen:
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next().kind != tokRParen {
			return nil, errors.New("missing )")
		}
		return e, nil
	case tokIdent:
		if !slices.Contains(Columns, t.text) {
			return nil, fmt.Errorf("no such column %q", t.text)
		}
		op := p.next()
		if op.kind != tokOp {
			return nil, fmt.Errorf("want an operator after %s", t.text)
		}
		lit := p.next()
		if lit.kind != tokString {
			return nil, fmt.Errorf("want a string literal after %s %s", t.text, op.text)
		}
		if t.text == "transit_timestamp" {
			if _, ok := ParseFloating(lit.text); !ok {
				return nil, fmt.Errorf("%q is not a floating timestamp", lit.text)
			}
		}
		return cmpExpr{col: t.text, op: op.text, lit: lit.text}, nil
	default:
		return nil, fmt.Errorf("unexpected %q", t.text)
	}
}
