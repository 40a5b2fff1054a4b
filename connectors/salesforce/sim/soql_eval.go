package sim

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// maxOffset is the largest OFFSET Salesforce accepts.
const maxOffset = 2000

// fieldPath is a bound field reference: a field of the queried object, or a
// field of the record one lookup away ("Contact.Name").
type fieldPath struct {
	rel   *fieldDef // the lookup crossed, or nil
	field *fieldDef // the field read; for a polymorphic lookup, from the first target that has it
}

// resolver finds the live record a lookup points at.
type resolver func(id string) *row

func (p fieldPath) get(r *row, resolve resolver) any {
	if p.rel == nil {
		return r.vals[p.field.Name]
	}
	target := p.target(r, resolve)
	if target == nil {
		return nil
	}
	return target.vals[p.field.Name]
}

func (p fieldPath) target(r *row, resolve resolver) *row {
	id, _ := r.vals[p.rel.Name].(string)
	if id == "" {
		return nil
	}
	return resolve(id)
}

type pred func(r *row, resolve resolver) bool

type boundOrder struct {
	path       fieldPath
	desc       bool
	nullsFirst bool
}

// boundQuery is a query checked against the schema and ready to run.
type boundQuery struct {
	obj     *objectDef
	count   bool
	selects []fieldPath
	where   pred
	order   []boundOrder
	limit   int
	offset  int
}

func invalidField(pos int, format string, args ...any) *queryError {
	return &queryError{code: "INVALID_FIELD", msg: fmt.Sprintf(format, args...), pos: pos}
}

// bind resolves a parsed query against the schema. now anchors relative date
// literals such as TODAY.
func bind(q *soqlQuery, s *schema, now time.Time) (*boundQuery, *queryError) {
	obj := s.object(q.from)
	if obj == nil {
		return nil, &queryError{code: "INVALID_TYPE", pos: q.fromPos, msg: fmt.Sprintf("sObject type '%s' is not supported. "+
			"If you are attempting to use a custom object, be sure to append the '__c' after the entity name. "+
			"Please reference your WSDL or the describe call for the appropriate names.", q.from)}
	}
	b := &boundQuery{obj: obj, count: q.count, limit: q.limit, offset: q.offset}
	seen := map[string]bool{}
	for _, f := range q.fields {
		p, err := resolvePath(s, obj, f)
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(f.path)
		if seen[key] {
			return nil, malformed(f.pos, "duplicate field selected: %s", f.path)
		}
		seen[key] = true
		b.selects = append(b.selects, p)
	}
	if q.where != nil {
		w, err := bindCondition(s, obj, q.where, now)
		if err != nil {
			return nil, err
		}
		b.where = w
	}
	for _, item := range q.orderBy {
		p, err := resolvePath(s, obj, item.field)
		if err != nil {
			return nil, err
		}
		if !p.field.Sortable {
			return nil, invalidField(item.field.pos, "field '%s' can not be sorted in a query call", p.field.Name)
		}
		b.order = append(b.order, boundOrder{path: p, desc: item.desc, nullsFirst: item.nullsFirst})
	}
	if q.offset > maxOffset {
		return nil, &queryError{code: "NUMBER_OUTSIDE_VALID_RANGE", pos: q.offsetPos,
			msg: fmt.Sprintf("Maximum SOQL offset allowed is %d", maxOffset)}
	}
	return b, nil
}

func resolvePath(s *schema, obj *objectDef, ref fieldRef) (fieldPath, *queryError) {
	segs := strings.Split(ref.path, ".")
	if len(segs) == 1 {
		f := obj.field(segs[0])
		if f == nil {
			return fieldPath{}, noSuchColumn(ref.pos, segs[0], obj.Name)
		}
		return fieldPath{field: f}, nil
	}
	rel := obj.relationship(segs[0])
	if rel == nil {
		return fieldPath{}, badRelationship(ref.pos, segs[0])
	}
	if len(segs) > 2 {
		// One level of relationship is all the local org follows.
		return fieldPath{}, badRelationship(ref.pos, segs[1])
	}
	for _, name := range rel.ReferenceTo {
		if f := s.object(name).field(segs[1]); f != nil {
			return fieldPath{rel: rel, field: f}, nil
		}
	}
	return fieldPath{}, noSuchColumn(ref.pos, segs[1], rel.ReferenceTo[0])
}

func noSuchColumn(pos int, field, entity string) *queryError {
	return invalidField(pos, "No such column '%s' on entity '%s'. If you are attempting to use a custom field, "+
		"be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call "+
		"for the appropriate names.", field, entity)
}

func badRelationship(pos int, name string) *queryError {
	return invalidField(pos, "Didn't understand relationship '%s' in field path. If you are attempting to use a "+
		"custom relationship, be sure to append the '__r' after the custom relationship name. Please reference "+
		"your WSDL or the describe call for the appropriate names.", name)
}

func bindCondition(s *schema, obj *objectDef, c condition, now time.Time) (pred, *queryError) {
	switch c := c.(type) {
	case andCond:
		parts, err := bindAll(s, obj, c.parts, now)
		if err != nil {
			return nil, err
		}
		return func(r *row, res resolver) bool {
			for _, p := range parts {
				if !p(r, res) {
					return false
				}
			}
			return true
		}, nil
	case orCond:
		parts, err := bindAll(s, obj, c.parts, now)
		if err != nil {
			return nil, err
		}
		return func(r *row, res resolver) bool {
			for _, p := range parts {
				if p(r, res) {
					return true
				}
			}
			return false
		}, nil
	case notCond:
		inner, err := bindCondition(s, obj, c.inner, now)
		if err != nil {
			return nil, err
		}
		return func(r *row, res resolver) bool { return !inner(r, res) }, nil
	case comparison:
		return bindComparison(s, obj, c, now)
	case inCond:
		return bindIn(s, obj, c, now)
	}
	panic(fmt.Sprintf("sim: unknown condition %T", c))
}

func bindAll(s *schema, obj *objectDef, cs []condition, now time.Time) ([]pred, *queryError) {
	out := make([]pred, 0, len(cs))
	for _, c := range cs {
		p, err := bindCondition(s, obj, c, now)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func filterablePath(s *schema, obj *objectDef, ref fieldRef) (fieldPath, *queryError) {
	p, err := resolvePath(s, obj, ref)
	if err != nil {
		return p, err
	}
	if !p.field.Filterable {
		return p, invalidField(ref.pos, "field '%s' can not be filtered in a query call", p.field.Name)
	}
	return p, nil
}

// operand is a literal converted to the type of the field it is compared with:
// a single value, or a [lo, hi) range for relative date literals.
type operand struct {
	value   any
	isRange bool
	lo, hi  any
}

func typeName(t fieldType) string {
	switch t {
	case typeDateTime:
		return "dateTime"
	case typeReference:
		return "id"
	case typeString, typeTextArea, typePicklist, typeEmail, typePhone:
		return "string"
	}
	return string(t)
}

// convert checks a literal against a field's type and converts it to the
// representation rows hold.
func convert(f *fieldDef, lit literal, now time.Time) (operand, *queryError) {
	if lit.kind == litNull {
		return operand{}, nil
	}
	wrongType := func() *queryError {
		if f.Type.isText() || f.Type == typeID || f.Type == typeReference {
			return invalidField(lit.pos, "value of filter criterion for field '%s' must be of type %s and should be enclosed in quotes",
				f.Name, typeName(f.Type))
		}
		return invalidField(lit.pos, "value of filter criterion for field '%s' must be of type %s and should not be enclosed in quotes",
			f.Name, typeName(f.Type))
	}
	switch {
	case f.Type.isText():
		if lit.kind != litString {
			return operand{}, wrongType()
		}
		v, ok := unescape(lit.raw, false)
		if !ok {
			return operand{}, malformed(lit.pos, "Invalid string literal '%s'. Illegal character sequence in string literal.", lit.raw)
		}
		return operand{value: v}, nil
	case f.Type == typeID || f.Type == typeReference:
		if lit.kind != litString {
			return operand{}, wrongType()
		}
		id, ok := normalizeID(lit.raw)
		if !ok {
			return operand{}, &queryError{code: "INVALID_QUERY_FILTER_OPERATOR", pos: lit.pos, msg: "invalid ID field: " + lit.raw}
		}
		return operand{value: id}, nil
	case f.Type == typeBoolean:
		if lit.kind != litBool {
			return operand{}, wrongType()
		}
		return operand{value: lit.b}, nil
	case f.Type == typeDouble:
		if lit.kind != litNumber {
			return operand{}, wrongType()
		}
		return operand{value: lit.num}, nil
	case f.Type == typeDateTime:
		switch lit.kind {
		case litDateTime:
			return operand{value: lit.t}, nil
		case litDateRange:
			lo, hi := dateRange(lit, now)
			return operand{isRange: true, lo: lo, hi: hi}, nil
		}
		return operand{}, wrongType()
	case f.Type == typeDate:
		switch lit.kind {
		case litDate:
			return operand{value: lit.raw}, nil
		case litDateRange:
			lo, hi := dateRange(lit, now)
			return operand{isRange: true, lo: lo.Format(dateLayout), hi: hi.Format(dateLayout)}, nil
		}
		return operand{}, wrongType()
	}
	return operand{}, wrongType()
}

// dateRange is the [lo, hi) span of a relative date literal, in UTC days.
func dateRange(lit literal, now time.Time) (time.Time, time.Time) {
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return today.AddDate(0, 0, n) }
	switch lit.keyword {
	case "YESTERDAY":
		return day(-1), today
	case "TOMORROW":
		return day(1), day(2)
	case "LAST_N_DAYS":
		return day(-lit.n), day(1)
	case "NEXT_N_DAYS":
		return day(1), day(1 + lit.n)
	}
	return today, day(1)
}

// compareValues orders two non-nil values of a field's type.
func compareValues(t fieldType, a, b any) int {
	switch av := a.(type) {
	case string:
		bv, _ := b.(string)
		if t == typeDate {
			return strings.Compare(av, bv)
		}
		return strings.Compare(strings.ToLower(av), strings.ToLower(bv))
	case time.Time:
		bv, _ := b.(time.Time)
		return av.Compare(bv)
	case float64:
		bv, _ := b.(float64)
		return cmp.Compare(av, bv)
	case bool:
		bv, _ := b.(bool)
		switch {
		case av == bv:
			return 0
		case !av:
			return -1
		}
		return 1
	}
	return 0
}

func bindComparison(s *schema, obj *objectDef, c comparison, now time.Time) (pred, *queryError) {
	p, err := filterablePath(s, obj, c.field)
	if err != nil {
		return nil, err
	}
	t := p.field.Type
	if c.op == "like" {
		if !t.isText() {
			return nil, &queryError{code: "INVALID_QUERY_FILTER_OPERATOR", pos: c.value.pos,
				msg: fmt.Sprintf("invalid operator on %s field: LIKE", typeName(t))}
		}
		if c.value.kind != litString {
			return nil, invalidField(c.value.pos, "value of filter criterion for field '%s' must be of type string and should be enclosed in quotes", p.field.Name)
		}
		re, ok := likePattern(c.value.raw)
		if !ok {
			return nil, malformed(c.value.pos, "Invalid string literal '%s'. Illegal character sequence in string literal.", c.value.raw)
		}
		return func(r *row, res resolver) bool {
			v, ok := p.get(r, res).(string)
			return ok && re.MatchString(v)
		}, nil
	}
	if t == typeBoolean && c.op != "=" && c.op != "!=" {
		return nil, &queryError{code: "INVALID_QUERY_FILTER_OPERATOR", pos: c.value.pos,
			msg: fmt.Sprintf("invalid operator on boolean field: %s", c.op)}
	}
	o, err := convert(p.field, c.value, now)
	if err != nil {
		return nil, err
	}
	if o.isRange {
		return rangePredicate(p, c.op, o), nil
	}
	want := o.value
	return func(r *row, res resolver) bool {
		v := p.get(r, res)
		switch c.op {
		case "=":
			if want == nil || v == nil {
				return want == nil && v == nil
			}
			return compareValues(t, v, want) == 0
		case "!=":
			// Unlike SQL, SOQL's != matches records whose field is null.
			if want == nil || v == nil {
				return (want == nil) != (v == nil)
			}
			return compareValues(t, v, want) != 0
		}
		if want == nil || v == nil {
			return false
		}
		n := compareValues(t, v, want)
		switch c.op {
		case "<":
			return n < 0
		case "<=":
			return n <= 0
		case ">":
			return n > 0
		case ">=":
			return n >= 0
		}
		return false
	}, nil
}

func rangePredicate(p fieldPath, op string, o operand) pred {
	t := p.field.Type
	return func(r *row, res resolver) bool {
		v := p.get(r, res)
		if v == nil {
			return op == "!="
		}
		in := compareValues(t, v, o.lo) >= 0 && compareValues(t, v, o.hi) < 0
		switch op {
		case "=":
			return in
		case "!=":
			return !in
		case "<":
			return compareValues(t, v, o.lo) < 0
		case "<=":
			return compareValues(t, v, o.hi) < 0
		case ">":
			return compareValues(t, v, o.hi) >= 0
		case ">=":
			return compareValues(t, v, o.lo) >= 0
		}
		return false
	}
}

func bindIn(s *schema, obj *objectDef, c inCond, now time.Time) (pred, *queryError) {
	p, err := filterablePath(s, obj, c.field)
	if err != nil {
		return nil, err
	}
	t := p.field.Type
	if t == typeBoolean {
		return nil, &queryError{code: "INVALID_QUERY_FILTER_OPERATOR", pos: c.field.pos,
			msg: "invalid operator on boolean field: IN"}
	}
	var values []any
	var ranges []operand
	for _, lit := range c.values {
		o, err := convert(p.field, lit, now)
		if err != nil {
			return nil, err
		}
		if o.isRange {
			ranges = append(ranges, o)
		} else {
			values = append(values, o.value)
		}
	}
	return func(r *row, res resolver) bool {
		v := p.get(r, res)
		found := false
		for _, want := range values {
			if (want == nil && v == nil) || (want != nil && v != nil && compareValues(t, v, want) == 0) {
				found = true
				break
			}
		}
		for _, o := range ranges {
			if !found && v != nil && compareValues(t, v, o.lo) >= 0 && compareValues(t, v, o.hi) < 0 {
				found = true
			}
		}
		return found != c.not
	}, nil
}

// likePattern compiles a LIKE pattern: % is any run of characters, _ is one
// character, \% and \_ are themselves; matching ignores case.
func likePattern(raw string) (*regexp.Regexp, bool) {
	s, ok := unescape(raw, true)
	if !ok {
		return nil, false
	}
	var b strings.Builder
	b.WriteString(`(?is)^`)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteString(regexp.QuoteMeta(string(s[i])))
			} else {
				b.WriteString(regexp.QuoteMeta(`\`))
			}
		case '%':
			b.WriteString(`.*`)
		case '_':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`$`)
	re, err := regexp.Compile(b.String())
	return re, err == nil
}

// run returns the query's rows in result order. rows is the object's table in
// creation order; includeDeleted is true for queryAll.
func (b *boundQuery) run(rows []*row, includeDeleted bool, resolve resolver) []*row {
	var out []*row
	for _, r := range rows {
		if r.deleted && !includeDeleted {
			continue
		}
		if b.where != nil && !b.where(r, resolve) {
			continue
		}
		out = append(out, r)
	}
	if len(b.order) > 0 {
		slices.SortStableFunc(out, func(x, y *row) int {
			for _, o := range b.order {
				vx, vy := o.path.get(x, resolve), o.path.get(y, resolve)
				var n int
				switch {
				case vx == nil && vy == nil:
					n = 0
				case vx == nil:
					n = -1
					if !o.nullsFirst {
						n = 1
					}
				case vy == nil:
					n = 1
					if !o.nullsFirst {
						n = -1
					}
				default:
					n = compareValues(o.path.field.Type, vx, vy)
					if o.desc {
						n = -n
					}
				}
				if n != 0 {
					return n
				}
			}
			return 0
		})
	}
	if b.offset > 0 {
		if b.offset >= len(out) {
			out = nil
		} else {
			out = out[b.offset:]
		}
	}
	if b.limit >= 0 && len(out) > b.limit {
		out = out[:b.limit]
	}
	return out
}

// render builds the JSON record Salesforce returns for a row: attributes, then
// the selected fields in SELECT order, with relationship fields nested under
// the relationship name.
func (b *boundQuery) render(r *row, version string, resolve resolver) object {
	out := object{{"attributes", recordAttributes(r, version)}}
	for _, p := range b.selects {
		if p.rel == nil {
			out = append(out, member{p.field.Name, renderValue(r.vals[p.field.Name])})
			continue
		}
		name := p.rel.RelationshipName
		i := out.index(name)
		target := p.target(r, resolve)
		if target == nil {
			if i < 0 {
				out = append(out, member{name, nil})
			}
			continue
		}
		if i < 0 {
			out = append(out, member{name, object{{"attributes", recordAttributes(target, version)}}})
			i = len(out) - 1
		}
		nested := out[i].value.(object)
		out[i].value = append(nested, member{p.field.Name, renderValue(target.vals[p.field.Name])})
	}
	return out
}

func recordAttributes(r *row, version string) object {
	return object{{"type", r.obj.Name}, {"url", recordURL(version, r.obj.Name, r.id)}}
}

func recordURL(version, sobject, id string) string {
	return "/services/data/v" + version + "/sobjects/" + sobject + "/" + id
}
