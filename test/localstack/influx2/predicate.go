package influx2

import (
	"fmt"
	"strings"
)

// TagEq is one `key="value"` term of a delete predicate.
type TagEq struct{ Key, Value string }

// ParsePredicate parses a delete predicate the way InfluxDB 2.7 does (predicate.Parse on
// the influxql scanner, then predicate.New): terms `key=value`, where key is a bare or
// double-quoted identifier and value a double-quoted identifier, a bare word or a number,
// joined by AND, with parentheses. What 2.7 refuses is refused here: OR ("the logical
// operator OR is not supported for delete predicate yet"), regular expressions, single-
// quoted strings as values (an influxql STRING, "bad tag value"), and the columns a delete
// cannot select (_time, _value, _field: "InfluxDB 2.7 does not support deleting data by
// field"). != is accepted by 2.7 but not by this stand-in: nothing of ours sends it, and a
// test that asks for it should fail loudly. An empty predicate selects every series.
func ParsePredicate(s string) ([]TagEq, error) {
	toks, err := scanPredicate(s)
	if err != nil {
		return nil, err
	}
	p := &predParser{toks: toks}
	if len(toks) == 0 {
		return nil, nil
	}
	terms, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if !p.at(tokEOF) {
		return nil, fmt.Errorf("bad logical expression, at position %d", p.peek().pos)
	}
	return terms, nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokNumber
	tokString
	tokAnd
	tokOr
	tokEq
	tokNeq
	tokRegex
	tokLParen
	tokRParen
	tokOther
)

type predTok struct {
	kind tokKind
	lit  string
	pos  int
}

// scanPredicate splits s into influxql tokens: identifiers (bare, or double-quoted with \"
// and \\ escapes), numbers, single-quoted strings, AND/OR, operators and parentheses.
func scanPredicate(s string) ([]predTok, error) {
	var out []predTok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(s) {
				if s[j] == '\\' && j+1 < len(s) && (s[j+1] == c || s[j+1] == '\\') {
					b.WriteByte(s[j+1])
					j += 2
					continue
				}
				if s[j] == '\n' {
					break
				}
				if s[j] == c {
					closed = true
					j++
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if !closed {
				return nil, fmt.Errorf("found unterminated quoted string at position %d", i)
			}
			kind := tokIdent
			if c == '\'' {
				kind = tokString
			}
			out = append(out, predTok{kind, b.String(), i})
			i = j
		case isLetter(c) || c == '_':
			j := i
			for j < len(s) && (isLetter(s[j]) || isDigit(s[j]) || s[j] == '_') {
				j++
			}
			word := s[i:j]
			kind := tokIdent
			switch strings.ToUpper(word) {
			case "AND":
				kind = tokAnd
			case "OR":
				kind = tokOr
			}
			out = append(out, predTok{kind, word, i})
			i = j
		case isDigit(c):
			j := i
			for j < len(s) && (isDigit(s[j]) || s[j] == '.') {
				j++
			}
			out = append(out, predTok{tokNumber, s[i:j], i})
			i = j
		case c == '(':
			out = append(out, predTok{tokLParen, "(", i})
			i++
		case c == ')':
			out = append(out, predTok{tokRParen, ")", i})
			i++
		case c == '=' && i+1 < len(s) && s[i+1] == '~', c == '!' && i+1 < len(s) && s[i+1] == '~':
			out = append(out, predTok{tokRegex, s[i : i+2], i})
			i += 2
		case c == '!' && i+1 < len(s) && s[i+1] == '=':
			out = append(out, predTok{tokNeq, "!=", i})
			i += 2
		case c == '=':
			out = append(out, predTok{tokEq, "=", i})
			i++
		default:
			out = append(out, predTok{tokOther, string(c), i})
			i++
		}
	}
	return out, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

type predParser struct {
	toks []predTok
	i    int
}

func (p *predParser) peek() predTok {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	end := 0
	if n := len(p.toks); n > 0 {
		end = p.toks[n-1].pos + len(p.toks[n-1].lit)
	}
	return predTok{kind: tokEOF, pos: end}
}

func (p *predParser) at(k tokKind) bool { return p.peek().kind == k }

func (p *predParser) next() predTok {
	t := p.peek()
	if p.i < len(p.toks) {
		p.i++
	}
	return t
}

// expr: term (AND term)*; depth counts open parentheses.
func (p *predParser) expr(depth int) ([]TagEq, error) {
	var terms []TagEq
	for {
		var got []TagEq
		var err error
		if p.at(tokLParen) {
			p.next()
			if got, err = p.expr(depth + 1); err != nil {
				return nil, err
			}
			if !p.at(tokRParen) {
				return nil, fmt.Errorf("extra ( seen")
			}
			p.next()
		} else if got, err = p.term(); err != nil {
			return nil, err
		}
		terms = append(terms, got...)
		switch t := p.peek(); t.kind {
		case tokAnd:
			p.next()
		case tokOr:
			return nil, fmt.Errorf("the logical operator OR is not supported for delete predicate yet")
		case tokRParen:
			if depth == 0 {
				return nil, fmt.Errorf("extra ) seen")
			}
			return terms, nil
		case tokEOF:
			return terms, nil
		default:
			return nil, fmt.Errorf("bad logical expression, at position %d", t.pos)
		}
	}
}

func (p *predParser) term() ([]TagEq, error) {
	key := p.next()
	if key.kind != tokIdent {
		return nil, fmt.Errorf("bad tag key, at position %d", key.pos)
	}
	switch key.lit {
	case "_time", "_value", "_field":
		return nil, fmt.Errorf("cannot delete data by column %q", key.lit)
	}
	switch op := p.next(); op.kind {
	case tokEq:
	case tokRegex:
		//lint:ignore ST1005 InfluxDB 2.7's own words, which clients match
		return nil, fmt.Errorf("Operator %s is not supported for delete predicate yet", op.lit)
	case tokNeq:
		return nil, fmt.Errorf("operator != is accepted by InfluxDB 2.7 but not by this stand-in")
	default:
		return nil, fmt.Errorf("invalid operator %q at position %d", op.lit, op.pos)
	}
	val := p.next()
	if val.kind != tokIdent && val.kind != tokNumber {
		return nil, fmt.Errorf("bad tag value: %q, at position %d", val.lit, val.pos)
	}
	return []TagEq{{Key: key.lit, Value: val.lit}}, nil
}
