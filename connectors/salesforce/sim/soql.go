package sim

// A hand-written parser for the subset of SOQL the local org answers. It is a
// test double of a foreign language, so it aims at Salesforce's observable
// behaviour (what parses, which errorCode and message a bad query gets), not
// at completeness: aggregate functions other than COUNT(), sub-queries,
// GROUP BY, TYPEOF, aliases and bind variables are refused as malformed.

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// queryError is a SOQL error as Salesforce reports it: an errorCode and a
// message that quotes the offending line and points at the column.
type queryError struct {
	code string
	msg  string
	pos  int // byte offset in the query; -1 when the error has no position
}

func (e *queryError) Error() string { return e.code + ": " + e.msg }

// message renders the error the way the REST API does:
// "\nSELECT Foo FROM Case\n       ^\nERROR at Row:1:Column:8\nNo such column ...".
func (e *queryError) message(src string) string {
	if e.pos < 0 {
		return e.msg
	}
	pos := min(e.pos, len(src))
	row, col, lineStart := 1, 1, 0
	for i := 0; i < pos; i++ {
		if src[i] == '\n' {
			row, col, lineStart = row+1, 1, i+1
		} else {
			col++
		}
	}
	lineEnd := strings.IndexByte(src[lineStart:], '\n')
	line := src[lineStart:]
	if lineEnd >= 0 {
		line = src[lineStart : lineStart+lineEnd]
	}
	return fmt.Sprintf("\n%s\n%s^\nERROR at Row:%d:Column:%d\n%s", line, strings.Repeat(" ", col-1), row, col, e.msg)
}

func malformed(pos int, format string, args ...any) *queryError {
	return &queryError{code: "MALFORMED_QUERY", msg: fmt.Sprintf(format, args...), pos: pos}
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDateTime
	tDate
	tLParen
	tRParen
	tComma
	tOp
	tColon
)

type token struct {
	kind tokKind
	text string // raw text; for strings, the text between the quotes, escapes kept
	pos  int
	num  float64
	time time.Time
}

func (t token) String() string {
	if t.kind == tEOF {
		return "<EOF>"
	}
	if t.kind == tString {
		return "'" + t.text + "'"
	}
	return t.text
}

// dateTimeLayouts are the date-time literal forms SOQL accepts.
var dateTimeLayouts = []string{
	"2006-01-02T15:04:05Z",
	"2006-01-02T15:04:05.000Z",
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05.000-0700",
	"2006-01-02T15:04:05-07:00",
	"2006-01-02T15:04:05.000-07:00",
}

func lex(src string) ([]token, *queryError) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{kind: tLParen, text: "(", pos: i})
			i++
		case c == ')':
			toks = append(toks, token{kind: tRParen, text: ")", pos: i})
			i++
		case c == ',':
			toks = append(toks, token{kind: tComma, text: ",", pos: i})
			i++
		case c == ':':
			toks = append(toks, token{kind: tColon, text: ":", pos: i})
			i++
		case c == '=':
			toks = append(toks, token{kind: tOp, text: "=", pos: i})
			i++
		case c == '!':
			if i+1 < len(src) && src[i+1] == '=' {
				toks = append(toks, token{kind: tOp, text: "!=", pos: i})
				i += 2
			} else {
				return nil, malformed(i, "line 1:%d no viable alternative at character '!'", i)
			}
		case c == '<':
			switch {
			case i+1 < len(src) && src[i+1] == '=':
				toks = append(toks, token{kind: tOp, text: "<=", pos: i})
				i += 2
			case i+1 < len(src) && src[i+1] == '>':
				toks = append(toks, token{kind: tOp, text: "!=", pos: i})
				i += 2
			default:
				toks = append(toks, token{kind: tOp, text: "<", pos: i})
				i++
			}
		case c == '>':
			if i+1 < len(src) && src[i+1] == '=' {
				toks = append(toks, token{kind: tOp, text: ">=", pos: i})
				i += 2
			} else {
				toks = append(toks, token{kind: tOp, text: ">", pos: i})
				i++
			}
		case c == '\'':
			start := i
			i++
			var b strings.Builder
			closed := false
			for i < len(src) {
				if src[i] == '\\' {
					if i+1 >= len(src) {
						break
					}
					b.WriteByte(src[i])
					b.WriteByte(src[i+1])
					i += 2
					continue
				}
				if src[i] == '\'' {
					closed = true
					i++
					break
				}
				b.WriteByte(src[i])
				i++
			}
			if !closed {
				return nil, malformed(start, "line 1:%d mismatched character '<EOF>' expecting '''", len(src))
			}
			toks = append(toks, token{kind: tString, text: b.String(), pos: start})
		case isDigit(c) || (c == '-' || c == '+' || c == '.') && i+1 < len(src) && isDigit(src[i+1]):
			start := i
			if looksLikeDate(src[i:]) {
				for i < len(src) && strings.IndexByte("0123456789-:T.+Z", src[i]) >= 0 {
					i++
				}
				text := src[start:i]
				if len(text) == 10 {
					if _, err := time.Parse("2006-01-02", text); err != nil {
						return nil, malformed(start, "line 1:%d no viable alternative at character '%s'", start, text)
					}
					toks = append(toks, token{kind: tDate, text: text, pos: start})
					continue
				}
				var t time.Time
				var err error
				for _, layout := range dateTimeLayouts {
					if t, err = time.Parse(layout, text); err == nil {
						break
					}
				}
				if err != nil {
					return nil, malformed(start, "line 1:%d no viable alternative at character '%s'", start, text)
				}
				toks = append(toks, token{kind: tDateTime, text: text, pos: start, time: t.UTC()})
				continue
			}
			i++
			for i < len(src) && (isDigit(src[i]) || src[i] == '.') {
				i++
			}
			text := src[start:i]
			n, err := strconv.ParseFloat(text, 64)
			if err != nil {
				return nil, malformed(start, "unexpected token: '%s'", text)
			}
			toks = append(toks, token{kind: tNumber, text: text, pos: start, num: n})
		case isIdentStart(c):
			start := i
			for i < len(src) && (isIdentStart(src[i]) || isDigit(src[i]) || src[i] == '.') {
				i++
			}
			toks = append(toks, token{kind: tIdent, text: src[start:i], pos: start})
		default:
			return nil, malformed(i, "line 1:%d no viable alternative at character '%c'", i, c)
		}
	}
	toks = append(toks, token{kind: tEOF, pos: len(src)})
	return toks, nil
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }

func looksLikeDate(s string) bool {
	return len(s) >= 10 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && isDigit(s[3]) && s[4] == '-'
}

// The syntax tree.

type soqlQuery struct {
	count     bool
	countPos  int
	fields    []fieldRef
	from      string
	fromPos   int
	where     condition
	orderBy   []orderItem
	limit     int // -1: none
	limitPos  int
	offset    int // -1: none
	offsetPos int
}

type fieldRef struct {
	path string
	pos  int
}

type condition interface{ isCondition() }

type andCond struct{ parts []condition }
type orCond struct{ parts []condition }
type notCond struct{ inner condition }

// comparison is `field op value`; op is one of = != < <= > >= like.
type comparison struct {
	field fieldRef
	op    string
	value literal
}

type inCond struct {
	field  fieldRef
	not    bool
	values []literal
}

func (andCond) isCondition()    {}
func (orCond) isCondition()     {}
func (notCond) isCondition()    {}
func (comparison) isCondition() {}
func (inCond) isCondition()     {}

type litKind int

const (
	litString litKind = iota
	litNumber
	litBool
	litNull
	litDateTime
	litDate
	litDateRange // TODAY, LAST_N_DAYS:n, ...
)

type literal struct {
	kind litKind
	raw  string // source text; for strings, between the quotes with escapes kept
	num  float64
	b    bool
	t    time.Time
	// date ranges: a keyword and its N
	keyword string
	n       int
	pos     int
}

type orderItem struct {
	field      fieldRef
	desc       bool
	nullsFirst bool
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

func (p *parser) isKeyword(word string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, word)
}

func (p *parser) expectKeyword(word string) *queryError {
	if !p.isKeyword(word) {
		return unexpected(p.peek())
	}
	p.next()
	return nil
}

func unexpected(t token) *queryError {
	return malformed(t.pos, "unexpected token: %s", t)
}

// reserved words cannot be field names, so seeing one where a field belongs is a syntax error.
var reserved = map[string]bool{
	"select": true, "from": true, "where": true, "order": true, "by": true, "limit": true, "offset": true,
	"and": true, "or": true, "not": true, "in": true, "like": true, "null": true, "true": true, "false": true,
	"asc": true, "desc": true, "nulls": true, "group": true, "having": true, "with": true, "for": true,
	"using": true, "includes": true, "excludes": true,
}

// parseSOQL parses a query. It does not look at the schema: binding names to
// objects and fields is bind's job.
func parseSOQL(src string) (*soqlQuery, *queryError) {
	if strings.TrimSpace(src) == "" {
		return nil, &queryError{code: "MALFORMED_QUERY", msg: "A query string has to be specified", pos: -1}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q := &soqlQuery{limit: -1, offset: -1}
	if err := p.expectKeyword("SELECT"); err != nil {
		return nil, err
	}
	if p.isKeyword("COUNT") && p.toks[p.i+1].kind == tLParen {
		q.count, q.countPos = true, p.next().pos
		p.next()
		if p.peek().kind != tRParen {
			return nil, unexpected(p.peek())
		}
		p.next()
	} else {
		for {
			f, err := p.fieldRef()
			if err != nil {
				return nil, err
			}
			q.fields = append(q.fields, f)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return nil, err
	}
	from := p.next()
	// Group (queues) is an object whose name SOQL takes despite GROUP BY.
	if from.kind != tIdent || reserved[strings.ToLower(from.text)] && !strings.EqualFold(from.text, "Group") ||
		strings.Contains(from.text, ".") {
		return nil, unexpected(from)
	}
	q.from, q.fromPos = from.text, from.pos
	if p.isKeyword("WHERE") {
		p.next()
		c, err := p.condition()
		if err != nil {
			return nil, err
		}
		q.where = c
	}
	if p.isKeyword("ORDER") {
		p.next()
		if err := p.expectKeyword("BY"); err != nil {
			return nil, err
		}
		for {
			item, err := p.orderItem()
			if err != nil {
				return nil, err
			}
			q.orderBy = append(q.orderBy, item)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if p.isKeyword("LIMIT") {
		p.next()
		n, pos, err := p.integer()
		if err != nil {
			return nil, err
		}
		q.limit, q.limitPos = n, pos
	}
	if p.isKeyword("OFFSET") {
		p.next()
		n, pos, err := p.integer()
		if err != nil {
			return nil, err
		}
		q.offset, q.offsetPos = n, pos
	}
	if p.peek().kind != tEOF {
		return nil, unexpected(p.peek())
	}
	return q, nil
}

func (p *parser) fieldRef() (fieldRef, *queryError) {
	t := p.peek()
	if t.kind != tIdent || reserved[strings.ToLower(t.text)] {
		return fieldRef{}, unexpected(t)
	}
	for _, seg := range strings.Split(t.text, ".") {
		if seg == "" || !isIdentStart(seg[0]) {
			return fieldRef{}, unexpected(t)
		}
	}
	p.next()
	if p.peek().kind == tLParen { // a function call such as COUNT(Id) or FIELDS(ALL)
		return fieldRef{}, unexpected(p.peek())
	}
	return fieldRef{path: t.text, pos: t.pos}, nil
}

func (p *parser) integer() (int, int, *queryError) {
	t := p.next()
	if t.kind != tNumber || strings.ContainsAny(t.text, ".-+") || len(t.text) > 9 {
		return 0, 0, unexpected(t)
	}
	n, _ := strconv.Atoi(t.text)
	return n, t.pos, nil
}

// condition parses a WHERE expression: simple conditions joined by AND, or
// by OR, or NOT and one simple condition. SOQL ranks none of them above
// another: mixing them at one level without parentheses is a syntax error,
// NOT included ("NOT a AND b" and "a AND NOT b" are refused, while
// "(NOT a) AND b" and "a AND (NOT b)" are fine).
func (p *parser) condition() (condition, *queryError) {
	if p.isKeyword("NOT") {
		p.next()
		inner, err := p.simpleCondition()
		if err != nil {
			return nil, err
		}
		// What follows, AND or OR included, is the caller's to refuse.
		return notCond{inner: inner}, nil
	}
	first, err := p.simpleCondition()
	if err != nil {
		return nil, err
	}
	var joiner string
	parts := []condition{first}
	for p.isKeyword("AND") || p.isKeyword("OR") {
		word := strings.ToUpper(p.peek().text)
		if joiner != "" && word != joiner {
			return nil, unexpected(p.peek())
		}
		joiner = word
		p.next()
		c, err := p.simpleCondition()
		if err != nil {
			return nil, err
		}
		parts = append(parts, c)
	}
	switch joiner {
	case "AND":
		return andCond{parts: parts}, nil
	case "OR":
		return orCond{parts: parts}, nil
	}
	return first, nil
}

// simpleCondition parses a field expression or a parenthesized condition.
func (p *parser) simpleCondition() (condition, *queryError) {
	if p.peek().kind == tLParen {
		p.next()
		c, err := p.condition()
		if err != nil {
			return nil, err
		}
		if p.peek().kind != tRParen {
			return nil, unexpected(p.peek())
		}
		p.next()
		return c, nil
	}
	f, err := p.fieldRef()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tOp:
		p.next()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		return comparison{field: f, op: t.text, value: v}, nil
	case p.isKeyword("LIKE"):
		p.next()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		return comparison{field: f, op: "like", value: v}, nil
	case p.isKeyword("IN"):
		p.next()
		return p.inList(f, false)
	case p.isKeyword("NOT"):
		p.next()
		if err := p.expectKeyword("IN"); err != nil {
			return nil, err
		}
		return p.inList(f, true)
	}
	return nil, unexpected(t)
}

func (p *parser) inList(f fieldRef, not bool) (condition, *queryError) {
	if p.peek().kind != tLParen {
		return nil, unexpected(p.peek())
	}
	p.next()
	c := inCond{field: f, not: not}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		c.values = append(c.values, v)
		if p.peek().kind == tComma {
			p.next()
			continue
		}
		if p.peek().kind != tRParen {
			return nil, unexpected(p.peek())
		}
		p.next()
		return c, nil
	}
}

// dateRangeKeywords are the relative date literals the org understands; the
// ones ending in _N_DAYS take ":n".
var dateRangeKeywords = map[string]bool{
	"TODAY": true, "YESTERDAY": true, "TOMORROW": true, "LAST_N_DAYS": true, "NEXT_N_DAYS": true,
}

func (p *parser) value() (literal, *queryError) {
	t := p.next()
	switch t.kind {
	case tString:
		return literal{kind: litString, raw: t.text, pos: t.pos}, nil
	case tNumber:
		return literal{kind: litNumber, raw: t.text, num: t.num, pos: t.pos}, nil
	case tDateTime:
		return literal{kind: litDateTime, raw: t.text, t: t.time, pos: t.pos}, nil
	case tDate:
		return literal{kind: litDate, raw: t.text, pos: t.pos}, nil
	case tIdent:
		word := strings.ToUpper(t.text)
		switch {
		case word == "TRUE" || word == "FALSE":
			return literal{kind: litBool, raw: t.text, b: word == "TRUE", pos: t.pos}, nil
		case word == "NULL":
			return literal{kind: litNull, raw: t.text, pos: t.pos}, nil
		case dateRangeKeywords[word]:
			lit := literal{kind: litDateRange, raw: t.text, keyword: word, pos: t.pos}
			if strings.HasSuffix(word, "_N_DAYS") {
				if p.peek().kind != tColon {
					return literal{}, unexpected(p.peek())
				}
				p.next()
				n, _, err := p.integer()
				if err != nil {
					return literal{}, err
				}
				lit.n = n
			}
			return lit, nil
		}
	}
	return literal{}, unexpected(t)
}

func (p *parser) orderItem() (orderItem, *queryError) {
	f, err := p.fieldRef()
	if err != nil {
		return orderItem{}, err
	}
	item := orderItem{field: f, nullsFirst: true}
	switch {
	case p.isKeyword("ASC"):
		p.next()
	case p.isKeyword("DESC"):
		p.next()
		item.desc, item.nullsFirst = true, false
	}
	if p.isKeyword("NULLS") {
		p.next()
		switch {
		case p.isKeyword("FIRST"):
			item.nullsFirst = true
		case p.isKeyword("LAST"):
			item.nullsFirst = false
		default:
			return orderItem{}, unexpected(p.peek())
		}
		p.next()
	}
	return item, nil
}

// unescape turns the raw text of a string literal into its value. In a LIKE
// pattern \% and \_ stay escaped (they mean a literal % or _).
func unescape(raw string, like bool) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(raw) {
			return "", false
		}
		switch raw[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case '\'', '"', '\\':
			if like && raw[i] == '\\' {
				b.WriteString(`\\`)
			} else {
				b.WriteByte(raw[i])
			}
		case '%', '_':
			if like {
				b.WriteByte('\\')
			}
			b.WriteByte(raw[i])
		default:
			return "", false
		}
	}
	return b.String(), true
}
