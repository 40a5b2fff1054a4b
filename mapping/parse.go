package mapping

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/internal/yamlpos"
	"gopkg.in/yaml.v3"
)

// Parse decodes and checks mappings, the items of the mappings list of the
// file filename (config.Config.Mappings), one mapping per item. When any is
// wrong it returns nil and an Errors with every problem, each as
// "FILE:LINE: mappings[0].media[1].when: message", ordered by line.
func Parse(filename string, nodes []yamlpos.Node) ([]*Mapping, error) {
	p := newParser(filename)
	out := make([]*Mapping, 0, len(nodes))
	first := map[string]int{}
	for i := range nodes {
		path := yamlpos.Index("mappings", i)
		m := p.mapping(nodes[i], path)
		if m == nil || m.Object == "" {
			continue
		}
		key := strings.ToLower(m.Object)
		if line, dup := first[key]; dup {
			p.Errorf(m.objLine, path+".object", "duplicate object %s (first at line %d)", m.Object, line)
			continue
		}
		first[key] = m.objLine
		out = append(out, m)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseFile reads a YAML file whose top level has a mappings list (a
// standalone mappings file, or a whole ctibridge config file, whose other
// keys are ignored) and parses the list; see Parse.
func ParseFile(path string) ([]*Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load mappings: %w", err)
	}
	return parseDocument(path, data)
}

// parseDocument parses the mappings list of a YAML document.
func parseDocument(filename string, data []byte) (mappings []*Mapping, err error) {
	p := newParser(filename)
	defer func() {
		// yaml.v3 has panicked on malformed input before.
		if r := recover(); r != nil {
			mappings, err = nil, Errors{{File: filename, Msg: fmt.Sprintf("invalid YAML: %v", r)}}
		}
	}()
	root, ok := p.Parse(data)
	if !ok {
		return nil, p.Err()
	}
	if root.IsZero() {
		p.Errorf(0, "mappings", "required")
		return nil, p.Err()
	}
	entries, ok := p.Entries(root, "")
	if !ok {
		return nil, p.Err()
	}
	for _, e := range entries {
		if e.Name != "mappings" {
			continue
		}
		list := p.Resolve(e.Value, "mappings")
		if err := p.Err(); err != nil {
			return nil, err
		}
		if list.IsZero() || list.IsNull() {
			return []*Mapping{}, nil
		}
		if list.Kind() != yaml.SequenceNode {
			p.Errorf(list.Line(), "mappings", "want a list, got %s", list.Describe())
			return nil, p.Err()
		}
		return Parse(filename, list.Items())
	}
	p.Errorf(root.Line(), "mappings", "required")
	return nil, p.Err()
}

// parser decodes mappings from the nodes its yamlpos.Walker walks,
// collecting every problem.
type parser struct {
	*yamlpos.Walker
	file string
}

func newParser(filename string) *parser {
	return &parser{Walker: yamlpos.NewWalker(filename), file: filename}
}

// handlers decode the keys of a mapping, by key name.
type handlers map[string]func(e yamlpos.Entry, path string)

// object decodes a mapping node key by key: an unknown key is an error. It
// returns the keys present; ok is false when n is not a mapping.
func (p *parser) object(n yamlpos.Node, path string, h handlers) (present map[string]bool, ok bool) {
	entries, ok := p.Entries(n, path)
	if !ok {
		return nil, false
	}
	present = map[string]bool{}
	for _, e := range entries {
		child := yamlpos.Join(path, e.Name)
		decode, known := h[e.Name]
		if !known {
			p.Errorf(e.Key.Line(), child, "unknown key")
			continue
		}
		present[e.Name] = true
		decode(e, child)
	}
	return present, true
}

// str decodes a scalar as a string.
func (p *parser) str(n yamlpos.Node, path string) (string, bool) {
	if n = p.Resolve(n, path); n.IsZero() {
		return "", false
	}
	if n.Kind() != yaml.ScalarNode || n.IsNull() {
		p.Errorf(n.Line(), path, "want a string, got %s", n.Describe())
		return "", false
	}
	return n.Value(), true
}

// boolean decodes true or false.
func (p *parser) boolean(n yamlpos.Node, path string) (bool, bool) {
	if n = p.Resolve(n, path); n.IsZero() {
		return false, false
	}
	var b bool
	if n.Kind() != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		p.Errorf(n.Line(), path, "want true or false, got %s", n.Describe())
		return false, false
	}
	return b, true
}

// integer decodes a whole number.
func (p *parser) integer(n yamlpos.Node, path string) (int, bool) {
	if n = p.Resolve(n, path); n.IsZero() {
		return 0, false
	}
	var i int
	if n.Kind() != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		p.Errorf(n.Line(), path, "want a whole number, got %s", n.Describe())
		return 0, false
	}
	return i, true
}

// fieldName matches a CRM object or field API name.
var fieldName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// validPath reports whether name is a field or a relationship path of
// fields, such as Contact.Name.
func validPath(name string) bool {
	for _, seg := range strings.Split(name, ".") {
		if !fieldName.MatchString(seg) {
			return false
		}
	}
	return true
}

// mapping decodes one item of the mappings list.
func (p *parser) mapping(n yamlpos.Node, path string) *Mapping {
	m := &Mapping{file: p.file, path: path, line: n.Line()}
	var objectLine int
	var conflictFields []fieldRef
	present, ok := p.object(n, path, handlers{
		"object": func(e yamlpos.Entry, path string) {
			objectLine = e.Key.Line()
			if s, ok := p.str(e.Value, path); ok {
				if !fieldName.MatchString(s) {
					p.Errorf(e.Value.Line(), path, "%q is not an object name", s)
					return
				}
				m.Object = s
			}
		},
		"filter": func(e yamlpos.Entry, path string) {
			m.filterLine = e.Key.Line()
			s, ok := p.str(e.Value, path)
			if s = strings.TrimSpace(s); !ok || s == "" {
				if ok {
					p.Errorf(e.Value.Line(), path, "empty filter (leave the key out to select every record)")
				}
				return
			}
			if len(s) >= 6 && strings.EqualFold(s[:6], "WHERE ") {
				p.Errorf(e.Value.Line(), path, "write the condition without WHERE")
				return
			}
			m.Filter = s
		},
		"media": func(e yamlpos.Entry, path string) {
			m.mediaLine = e.Key.Line()
			m.media = parseRules(p, m, e.Value, path, "media", p.mediaValue)
		},
		"service": func(e yamlpos.Entry, path string) {
			m.serviceLine = e.Key.Line()
			m.services = parseRules(p, m, e.Value, path, "service", p.serviceValue)
		},
		"fields": func(e yamlpos.Entry, path string) { p.fieldMap(m, e.Value, path) },
		"reopen_on_customer_reply": func(e yamlpos.Entry, path string) {
			m.reopen = p.recordCondition(m, e.Value, path)
		},
		"writeback": func(e yamlpos.Entry, path string) { p.writeback(m, e.Value, path) },
		"audit":     func(e yamlpos.Entry, path string) { p.audit(m, e, path) },
		"sync":      func(e yamlpos.Entry, path string) { conflictFields = p.syncPolicy(m, e.Value, path) },
		"omni":      func(e yamlpos.Entry, path string) { p.omni(m, e.Value, path) },
	})
	if !ok {
		return nil
	}
	for _, f := range conflictFields {
		k := slices.IndexFunc(m.writes, func(w fieldRef) bool { return strings.EqualFold(w.name, f.name) })
		if k < 0 {
			p.Errorf(f.line, f.path, "%s is not a field the writeback writes", f.name)
			continue
		}
		// Keyed by the name the writeback uses, as Fields and Observe are.
		w := m.sync.Fields[f.name]
		delete(m.sync.Fields, f.name)
		m.sync.Fields[m.writes[k].name] = w
	}
	for _, key := range []string{"object", "media", "service"} {
		if !present[key] {
			p.Errorf(n.Line(), path+"."+key, "required")
		}
	}
	m.objLine = n.Line()
	if objectLine > 0 {
		m.objLine = objectLine
	}
	m.finishReads()
	return m
}

// finishReads drops relationship names that are read as such (Contact when
// Contact.Name is read too) and computes the SELECT list.
func (m *Mapping) finishReads() {
	relationships := map[string]bool{}
	for _, r := range m.reads {
		segs := strings.Split(strings.ToLower(r.name), ".")
		for i := 1; i < len(segs); i++ {
			relationships[strings.Join(segs[:i], ".")] = true
		}
	}
	reads := m.reads[:0]
	for _, r := range m.reads {
		if !relationships[strings.ToLower(r.name)] {
			reads = append(reads, r)
		}
	}
	m.reads = reads
	seen := map[string]bool{"id": true, "systemmodstamp": true, "lastmodifiedbyid": true, "lastmodifiedby.name": true}
	var fields []string
	add := func(name string) {
		if key := strings.ToLower(name); !seen[key] {
			seen[key] = true
			fields = append(fields, name)
		}
	}
	for _, r := range m.reads {
		add(r.name)
	}
	// The bridge compares what the CRM holds of the fields it writes with
	// what it last knew, to see the changes people make.
	for _, w := range m.writes {
		add(w.name)
	}
	sort.Slice(fields, func(i, j int) bool { return strings.ToLower(fields[i]) < strings.ToLower(fields[j]) })
	m.selected = append([]string{"Id", "SystemModstamp", "LastModifiedById", "LastModifiedBy.Name"}, fields...)
}

// read notes that the mapping reads the record field name; false if name
// is not a field path.
func (p *parser) read(m *Mapping, name, path string, line int) bool {
	if name == "$env" {
		return false
	}
	name = strings.TrimPrefix(name, "$env.")
	if !validPath(name) {
		p.Errorf(line, path, "%q is not a field name", name)
		return false
	}
	m.reads = append(m.reads, fieldRef{name: name, path: path, line: line})
	return true
}

// claim notes that the field name is written, in writes; false if name is
// not a field name or is written already.
func (p *parser) claim(writes *[]fieldRef, name, path string, line int) bool {
	if !fieldName.MatchString(name) {
		p.Errorf(line, path, "%q is not a field name", name)
		return false
	}
	for _, w := range *writes {
		if strings.EqualFold(w.name, name) {
			p.Errorf(line, path, "%s is written already by %s (line %d)", name, w.path, w.line)
			return false
		}
	}
	*writes = append(*writes, fieldRef{name: name, path: path, line: line})
	return true
}

// parseRules decodes media or service rules: a list of {when, KEY}, or one
// value that applies to every record.
func parseRules[T any](p *parser, m *Mapping, n yamlpos.Node, path, key string, value func(yamlpos.Node, string) (T, bool)) []rule[T] {
	if n = p.Resolve(n, path); n.IsZero() {
		return nil
	}
	if n.Kind() == yaml.ScalarNode {
		v, ok := value(n, path)
		if !ok {
			return nil
		}
		return []rule[T]{{value: v, path: path, line: n.Line()}}
	}
	if n.Kind() != yaml.SequenceNode {
		p.Errorf(n.Line(), path, "want a %s or a list of rules, got %s", key, n.Describe())
		return nil
	}
	if len(n.Items()) == 0 {
		p.Errorf(n.Line(), path, "want at least one rule")
		return nil
	}
	var rules []rule[T]
	catchAll := 0
	for i, item := range n.Items() {
		ipath := yamlpos.Index(path, i)
		if item = p.Resolve(item, ipath); item.IsZero() {
			continue
		}
		r := rule[T]{path: ipath, line: item.Line()}
		present, ok := p.object(item, ipath, handlers{
			"when": func(e yamlpos.Entry, path string) { r.when = p.recordCondition(m, e.Value, path) },
			key: func(e yamlpos.Entry, path string) {
				if v, ok := value(e.Value, path); ok {
					r.value = v
				}
			},
		})
		if !ok {
			continue
		}
		if !present[key] {
			p.Errorf(item.Line(), ipath+"."+key, "required")
		}
		if catchAll != 0 {
			p.Errorf(item.Line(), ipath, "unreachable: the rule at line %d has no when and matches every record", catchAll)
		}
		if !present["when"] && catchAll == 0 {
			catchAll = item.Line()
		}
		rules = append(rules, r)
	}
	return rules
}

// mediaValue decodes a media type.
func (p *parser) mediaValue(n yamlpos.Node, path string) (contactpad.Media, bool) {
	s, ok := p.str(n, path)
	if !ok {
		return "", false
	}
	media, err := contactpad.ParseMedia(s)
	if err != nil {
		p.Errorf(n.Line(), path, "%v", err)
		return "", false
	}
	return media, true
}

// serviceValue decodes a service ID; the caller checks that it exists.
func (p *parser) serviceValue(n yamlpos.Node, path string) (string, bool) {
	s, ok := p.str(n, path)
	if ok && s == "" {
		p.Errorf(n.Line(), path, "empty service ID")
		return "", false
	}
	return s, ok
}

// recordCondition compiles a condition over the record's fields and notes
// the fields it reads.
func (p *parser) recordCondition(m *Mapping, n yamlpos.Node, path string) *condition {
	if n = p.Resolve(n, path); n.IsZero() {
		return nil
	}
	src, ok := p.str(n, path)
	if !ok {
		return nil
	}
	if strings.TrimSpace(src) == "" {
		p.Errorf(n.Line(), path, "empty expression")
		return nil
	}
	program, err := compileRecordCondition(src)
	if err != nil {
		p.Errorf(n.TextLine(exprLine(err)), path, "invalid expression: %s", exprMessage(err))
		return nil
	}
	line := n.ValueLine()
	for _, f := range conditionFields(src) {
		p.read(m, f, path, line)
	}
	return &condition{program: program, path: path, line: line}
}

// fieldMap decodes the fields section: where the work item's fields come
// from.
func (p *parser) fieldMap(m *Mapping, n yamlpos.Node, path string) {
	p.object(n, path, handlers{
		"subject":  func(e yamlpos.Entry, path string) { m.subject = p.valueSpec(m, e, path, kindText) },
		"category": func(e yamlpos.Entry, path string) { m.category = p.valueSpec(m, e, path, kindText) },
		"customer": func(e yamlpos.Entry, path string) { m.customer = p.valueSpec(m, e, path, kindText) },
		"priority": func(e yamlpos.Entry, path string) { m.priority = p.valueSpec(m, e, path, kindNumber) },
		"tags":     func(e yamlpos.Entry, path string) { m.tags = p.valueSpec(m, e, path, kindTags) },
	})
}

// valueSpec decodes one entry of the field map: a field name, or a mapping
// of field or template, values, default and required (and split, for
// tags).
func (p *parser) valueSpec(m *Mapping, e yamlpos.Entry, path string, kind valueKind) *valueSpec {
	n := p.Resolve(e.Value, path)
	if n.IsZero() {
		return nil
	}
	s := &valueSpec{kind: kind, path: path, line: e.Key.Line(), split: ";"}
	if n.Kind() == yaml.ScalarNode {
		if tag := n.ShortTag(); tag == "!!int" || tag == "!!float" || tag == "!!bool" {
			p.Errorf(n.Line(), path, "want a field name, got %s (for a constant, write {default: %s})", n.Describe(), n.Value())
			return nil
		}
		if name, ok := p.str(n, path); ok && p.read(m, name, path, n.Line()) {
			s.field = name
		}
		return s
	}
	h := handlers{
		"field": func(e yamlpos.Entry, path string) {
			if name, ok := p.str(e.Value, path); ok && p.read(m, name, path, e.Value.Line()) {
				s.field = name
			}
		},
		"template": func(e yamlpos.Entry, path string) { s.tmpl = p.recordTemplate(m, e.Value, path) },
		"values":   func(e yamlpos.Entry, path string) { s.values = p.valueMap(e.Value, path, kind) },
		"default": func(e yamlpos.Entry, path string) {
			s.def, s.hasDefault = p.defaultValue(e.Value, path, kind)
		},
		"required": func(e yamlpos.Entry, path string) { s.required, _ = p.boolean(e.Value, path) },
	}
	if kind == kindTags {
		h["split"] = func(e yamlpos.Entry, path string) {
			sep, ok := p.str(e.Value, path)
			switch {
			case !ok:
			case sep == "":
				p.Errorf(e.Value.Line(), path, "empty separator")
			default:
				s.split = sep
			}
		}
	}
	present, ok := p.object(n, path, h)
	if !ok {
		return nil
	}
	switch {
	case present["field"] && present["template"]:
		p.Errorf(e.Key.Line(), path, "set field or template, not both")
	case !present["field"] && !present["template"] && !present["default"]:
		p.Errorf(e.Key.Line(), path, "set field, template or default")
	}
	return s
}

// valueMap decodes the values of a field map entry: record value to work
// item value.
func (p *parser) valueMap(n yamlpos.Node, path string, kind valueKind) map[string]any {
	entries, ok := p.Entries(n, path)
	if !ok {
		return nil
	}
	out := make(map[string]any, len(entries))
	for _, e := range entries {
		child := yamlpos.Join(path, e.Name)
		if kind == kindNumber {
			if v, ok := p.integer(e.Value, child); ok {
				out[e.Name] = v
			}
			continue
		}
		if v, ok := p.str(e.Value, child); ok {
			out[e.Name] = v
		}
	}
	return out
}

// defaultValue decodes a field map entry's default.
func (p *parser) defaultValue(n yamlpos.Node, path string, kind valueKind) (any, bool) {
	switch kind {
	case kindNumber:
		return p.integer(n, path)
	case kindTags:
		if n = p.Resolve(n, path); n.IsZero() {
			return nil, false
		}
		if n.Kind() != yaml.SequenceNode {
			s, ok := p.str(n, path)
			return []string{s}, ok
		}
		tags := []string{}
		for i, item := range n.Items() {
			if s, ok := p.str(item, yamlpos.Index(path, i)); ok {
				tags = append(tags, s)
			}
		}
		return tags, true
	}
	return p.str(n, path)
}

// recordTemplate parses a template over the record's fields and notes the
// fields it reads. It is not run at load time: record values have no
// static types, so a sample could fail where real records would not.
func (p *parser) recordTemplate(m *Mapping, n yamlpos.Node, path string) *template.Template {
	if n = p.Resolve(n, path); n.IsZero() {
		return nil
	}
	src, ok := p.str(n, path)
	if !ok {
		return nil
	}
	t, err := newTemplate(src)
	if err != nil {
		p.Errorf(n.TextLine(templateLine(err)), path, "invalid template: %s", templateMessage(err))
		return nil
	}
	line := n.ValueLine()
	for _, f := range templateFields(t) {
		p.read(m, f, path, line)
	}
	return t
}

// customFields decodes the fields of a writeback or audit record: field
// name to template, or to a constant boolean, number or null. Templates run
// at load time against dataSamples, so that a misspelt name fails here.
func (p *parser) customFields(n yamlpos.Node, path, object string, writes *[]fieldRef) []customField {
	entries, ok := p.Entries(n, path)
	if !ok {
		return nil
	}
	var out []customField
	for _, e := range entries {
		child := yamlpos.Join(path, e.Name)
		v := p.Resolve(e.Value, child)
		if v.IsZero() || !p.claim(writes, e.Name, child, e.Key.Line()) {
			continue
		}
		f := customField{name: e.Name, path: child, line: e.Key.Line()}
		if v.Kind() != yaml.ScalarNode {
			p.Errorf(v.Line(), child, "want a template, a boolean, a number or null, got %s", v.Describe())
			continue
		}
		switch v.ShortTag() {
		case "!!null":
		case "!!bool", "!!int", "!!float":
			if err := v.Decode(&f.constant); err != nil {
				p.Errorf(v.Line(), child, "invalid %s: %v", v.Describe(), err)
				continue
			}
		default:
			t, ok := p.dataTemplate(v, child, object)
			if !ok {
				continue
			}
			f.tmpl = t
		}
		out = append(out, f)
	}
	return out
}

// dataTemplate parses a template over TemplateData and runs it on the
// samples.
func (p *parser) dataTemplate(n yamlpos.Node, path, object string) (*template.Template, bool) {
	t, err := newTemplate(n.Value())
	if err != nil {
		p.Errorf(n.TextLine(templateLine(err)), path, "invalid template: %s", templateMessage(err))
		return nil, false
	}
	for _, sample := range dataSamples(object) {
		if err := t.Execute(io.Discard, sample); err != nil {
			p.Errorf(n.TextLine(templateLine(err)), path, "invalid template: %s", templateMessage(err))
			return nil, false
		}
	}
	return t, true
}

// writeback decodes the writeback section.
func (p *parser) writeback(m *Mapping, n yamlpos.Node, path string) {
	wb := &writeback{}
	target := func(dst *string) func(yamlpos.Entry, string) {
		return func(e yamlpos.Entry, path string) {
			if name, ok := p.str(e.Value, path); ok && p.claim(&m.writes, name, path, e.Value.Line()) {
				*dst = name
			}
		}
	}
	_, ok := p.object(n, path, handlers{
		"status":                      func(e yamlpos.Entry, path string) { wb.status = p.statusField(m, e, path) },
		"owner":                       target(&wb.owner),
		"due_by":                      target(&wb.dueBy),
		"due_by_was_set_manually":     target(&wb.dueBySetManually),
		"auto_opened_due_to_due_date": target(&wb.autoOpenedDueToDueDate),
		"resumed_from":                target(&wb.resumedFrom),
		"service":                     target(&wb.service),
		"pause_sla":                   target(&wb.pauseSLA),
		"fields": func(e yamlpos.Entry, path string) {
			wb.fields = p.customFields(e.Value, path, m.Object, &m.writes)
		},
	})
	if ok {
		m.writeback = wb
	}
}

// syncPolicy decodes the sync section: how the bridge treats changes made
// to the records in the CRM. It returns the fields conflicts names, which
// the caller checks against the fields the writeback writes.
func (p *parser) syncPolicy(m *Mapping, n yamlpos.Node, path string) []fieldRef {
	var named []fieldRef
	choice := func(allowed ...string) func(n yamlpos.Node, path string) (string, bool) {
		return func(n yamlpos.Node, path string) (string, bool) {
			s, ok := p.str(n, path)
			if ok && !slices.Contains(allowed, s) {
				p.Errorf(n.Line(), path, "%q: want %s", s, strings.Join(allowed, " or "))
				return "", false
			}
			return s, ok
		}
	}
	winner := choice(string(contactpad.CRMWins), string(contactpad.BridgeWins))
	p.object(n, path, handlers{
		"first_sight": func(e yamlpos.Entry, path string) {
			if s, ok := choice(string(contactpad.Adopt), string(contactpad.Reset))(e.Value, path); ok {
				m.sync.FirstSight = contactpad.FirstSight(s)
			}
		},
		"closed": func(e yamlpos.Entry, path string) {
			if s, ok := choice(string(contactpad.CloseCompletes), string(contactpad.CloseAbandons))(e.Value, path); ok {
				m.sync.Closed = contactpad.ClosedPolicy(s)
			}
		},
		"owner_changed": func(e yamlpos.Entry, path string) {
			if s, ok := choice(string(contactpad.OwnerReassigns), string(contactpad.OwnerIgnored))(e.Value, path); ok {
				m.sync.OwnerChanged = contactpad.OwnerPolicy(s)
			}
		},
		"conflicts": func(e yamlpos.Entry, path string) {
			v := p.Resolve(e.Value, path)
			if v.IsZero() {
				return
			}
			if v.Kind() == yaml.ScalarNode {
				if s, ok := winner(v, path); ok {
					m.sync.Conflicts = contactpad.Winner(s)
				}
				return
			}
			entries, ok := p.Entries(v, path)
			if !ok {
				return
			}
			for _, f := range entries {
				child := yamlpos.Join(path, f.Name)
				s, ok := winner(f.Value, child)
				if !ok {
					continue
				}
				if f.Name == "default" {
					m.sync.Conflicts = contactpad.Winner(s)
					continue
				}
				if m.sync.Fields == nil {
					m.sync.Fields = map[string]contactpad.Winner{}
				}
				m.sync.Fields[f.Name] = contactpad.Winner(s)
				named = append(named, fieldRef{name: f.Name, path: child, line: f.Key.Line()})
			}
		},
	})
	return named
}

// statusField decodes writeback.status: a field name, or a field and the
// value to write for each interaction status.
func (p *parser) statusField(m *Mapping, e yamlpos.Entry, path string) *statusField {
	n := p.Resolve(e.Value, path)
	if n.IsZero() {
		return nil
	}
	s := &statusField{}
	if n.Kind() == yaml.ScalarNode {
		if name, ok := p.str(n, path); ok && p.claim(&m.writes, name, path, n.Line()) {
			s.field = name
		}
		return s
	}
	present, ok := p.object(n, path, handlers{
		"field": func(e yamlpos.Entry, path string) {
			if name, ok := p.str(e.Value, path); ok && p.claim(&m.writes, name, path, e.Value.Line()) {
				s.field = name
			}
		},
		"values": func(e yamlpos.Entry, path string) {
			entries, ok := p.Entries(e.Value, path)
			if !ok {
				return
			}
			s.values = map[contactpad.Status]string{}
			for _, v := range entries {
				child := yamlpos.Join(path, v.Name)
				status := contactpad.Status(v.Name)
				if !slices.Contains(contactpad.Statuses, status) {
					p.Errorf(v.Key.Line(), child, "unknown status %q (want %s)", v.Name, statusList())
					continue
				}
				if value, ok := p.str(v.Value, child); ok {
					s.values[status] = value
				}
			}
		},
	})
	if ok && !present["field"] {
		p.Errorf(e.Key.Line(), path+".field", "required")
	}
	return s
}

// statusList names the statuses for messages.
func statusList() string {
	names := make([]string, len(contactpad.Statuses))
	for i, s := range contactpad.Statuses {
		names[i] = string(s)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// audit decodes the audit section.
func (p *parser) audit(m *Mapping, section yamlpos.Entry, path string) {
	a := &audit{}
	var writes []fieldRef
	present, ok := p.object(section.Value, path, handlers{
		"object": func(e yamlpos.Entry, path string) {
			a.objectLine = e.Key.Line()
			if s, ok := p.str(e.Value, path); ok {
				if !fieldName.MatchString(s) {
					p.Errorf(e.Value.Line(), path, "%q is not an object name", s)
					return
				}
				a.object = s
			}
		},
		"external_id": func(e yamlpos.Entry, path string) {
			if s, ok := p.str(e.Value, path); ok && p.claim(&writes, s, path, e.Value.Line()) {
				a.externalID = s
			}
		},
		"when": func(e yamlpos.Entry, path string) {
			v := p.Resolve(e.Value, path)
			if v.IsZero() {
				return
			}
			src, ok := p.str(v, path)
			if !ok {
				return
			}
			program, err := compileAuditCondition(src)
			if err != nil {
				p.Errorf(v.TextLine(exprLine(err)), path, "invalid expression: %s", exprMessage(err))
				return
			}
			a.when = &condition{program: program, path: path, line: v.ValueLine()}
		},
		"fields": func(e yamlpos.Entry, path string) { a.fields = p.customFields(e.Value, path, m.Object, &writes) },
	})
	if !ok {
		return
	}
	for _, key := range []string{"object", "external_id"} {
		if !present[key] {
			p.Errorf(section.Key.Line(), path+"."+key, "required")
		}
	}
	a.writes = writes
	m.audit = a
}

// omniName matches a record id or a DeveloperName, which the poll's
// queries quote.
var omniName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_]*$`)

// omni decodes a mapping's omni section. external_routing is off by
// default; when on, queue and service_channel are required.
func (p *parser) omni(m *Mapping, n yamlpos.Node, path string) {
	var on bool
	var o OmniRouting
	name := func(dst *string) func(e yamlpos.Entry, path string) {
		return func(e yamlpos.Entry, path string) {
			if s, ok := p.str(e.Value, path); ok {
				if !omniName.MatchString(s) {
					p.Errorf(e.Value.Line(), path, "%q is neither a record id nor a DeveloperName", s)
					return
				}
				*dst = s
			}
		}
	}
	present, ok := p.object(n, path, handlers{
		"external_routing": func(e yamlpos.Entry, path string) { on, _ = p.boolean(e.Value, path) },
		"queue":            name(&o.Queue),
		"service_channel":  name(&o.ServiceChannel),
	})
	if !ok || !on {
		return
	}
	for _, key := range []string{"queue", "service_channel"} {
		if !present[key] {
			p.Errorf(n.Line(), path+"."+key, "required with external_routing: true")
		}
	}
	if o.Queue != "" && o.ServiceChannel != "" {
		o.At = fmt.Sprintf("%s:%d: %s", p.file, n.Line(), path)
		m.Omni = &o
	}
}
