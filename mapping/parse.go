package mapping

import (
	"bytes"
	"errors"
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

const (
	// nodeBudget is the most nodes one Parse walks, which merge keys could
	// otherwise multiply.
	nodeBudget = 1 << 20
	// maxAliasDepth bounds chains of aliases and nested merge keys.
	maxAliasDepth = 64
)

// Parse decodes and checks mappings, the items of the mappings list of the
// file filename (config.Config.Mappings), one mapping per item. When any is
// wrong it returns nil and an Errors with every problem, each as
// "FILE:LINE: mappings[0].media[1].when: message", ordered by line.
func Parse(filename string, nodes []yaml.Node) ([]*Mapping, error) {
	p := &parser{file: filename, budget: nodeBudget}
	out := make([]*Mapping, 0, len(nodes))
	first := map[string]int{}
	for i := range nodes {
		path := yamlpos.Index("mappings", i)
		m := p.mapping(&nodes[i], path)
		if m == nil || m.Object == "" {
			continue
		}
		key := strings.ToLower(m.Object)
		if line, dup := first[key]; dup {
			p.errorf(m.objLine, path+".object", "duplicate object %s (first at line %d)", m.Object, line)
			continue
		}
		first[key] = m.objLine
		out = append(out, m)
	}
	if err := p.errs.Err(); err != nil {
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
	p := &parser{file: filename, budget: nodeBudget}
	defer func() {
		// yaml.v3 has panicked on malformed input before.
		if r := recover(); r != nil {
			mappings, err = nil, Errors{{File: filename, Msg: fmt.Sprintf("invalid YAML: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		p.yamlError(err)
		return nil, p.errs.Err()
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		p.errorf(next.Line, "", "want one YAML document, found another")
		return nil, p.errs.Err()
	case !errors.Is(err, io.EOF):
		p.yamlError(err)
		return nil, p.errs.Err()
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		p.errorf(0, "mappings", "required")
		return nil, p.errs.Err()
	}
	entries, ok := p.entries(doc.Content[0], "")
	if !ok {
		return nil, p.errs.Err()
	}
	for _, e := range entries {
		if e.name != "mappings" {
			continue
		}
		list := p.resolve(e.value, "mappings")
		if err := p.errs.Err(); err != nil {
			return nil, err
		}
		if list == nil || yamlpos.IsNull(list) {
			return []*Mapping{}, nil
		}
		if list.Kind != yaml.SequenceNode {
			p.errorf(list.Line, "mappings", "want a list, got %s", yamlpos.Describe(list))
			return nil, p.errs.Err()
		}
		items := make([]yaml.Node, 0, len(list.Content))
		for _, item := range list.Content {
			if item = p.resolve(item, "mappings"); item != nil {
				items = append(items, *item)
			}
		}
		if err := p.errs.Err(); err != nil {
			return nil, err
		}
		return Parse(filename, items)
	}
	p.errorf(doc.Content[0].Line, "mappings", "required")
	return nil, p.errs.Err()
}

// yamlError records a yaml.v3 syntax error with its line.
func (p *parser) yamlError(err error) {
	line, msg := yamlpos.Syntax(err)
	p.errorf(line, "", "%s", msg)
}

// parser walks the YAML nodes of mappings, collecting every problem.
type parser struct {
	file   string
	errs   Errors
	budget int
}

// errorf records a problem at line.
func (p *parser) errorf(line int, path, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// resolve follows aliases to the node they name, counting the node against
// the budget; nil when there is none or the budget is spent.
func (p *parser) resolve(n *yaml.Node, path string) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth == maxAliasDepth {
			p.errorf(n.Line, path, "aliases nest too deep")
			return nil
		}
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	p.budget--
	if p.budget == 0 {
		p.errorf(n.Line, path, "mappings expand to more than %d nodes (aliases?)", nodeBudget)
	}
	if p.budget <= 0 {
		return nil
	}
	return n
}

// entry is one key of a mapping and its value.
type entry struct {
	name       string
	key, value *yaml.Node
}

// entries lists the entries of a mapping node, with those of merge keys
// ("<<: *base") after them unless a key of its own overrides them. It
// reports keys that are not names and duplicate keys; ok is false when n
// is not a mapping.
func (p *parser) entries(n *yaml.Node, path string) (out []entry, ok bool) {
	if n = p.resolve(n, path); n == nil {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, path, "want a mapping, got %s", yamlpos.Describe(n))
		return nil, false
	}
	seen := map[string]*yaml.Node{}
	for _, e := range p.pairs(n, path, 0) {
		if e.key.Kind != yaml.ScalarNode {
			p.errorf(e.key.Line, path, "want a key name, got %s", yamlpos.Describe(e.key))
			continue
		}
		e.name = e.key.Value
		if first, dup := seen[e.name]; dup {
			p.errorf(e.key.Line, yamlpos.Join(path, e.name), "duplicate key (first at line %d)", first.Line)
			continue
		}
		seen[e.name] = e.key
		out = append(out, e)
	}
	return out, true
}

// pairs lists a mapping's own entries, then those its merge keys bring
// that it does not override.
func (p *parser) pairs(n *yaml.Node, path string, depth int) []entry {
	var own, merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, p.mergePairs(v, path, depth+1)...)
			continue
		}
		own = append(own, entry{key: k, value: v})
	}
	if len(merged) == 0 {
		return own
	}
	have := map[string]bool{}
	for _, e := range own {
		have[e.key.Value] = true
	}
	for _, e := range merged {
		if !have[e.key.Value] {
			have[e.key.Value] = true
			own = append(own, e)
		}
	}
	return own
}

// mergePairs lists the entries a merge key's value brings: one mapping or
// a list of mappings, earlier ones first.
func (p *parser) mergePairs(v *yaml.Node, path string, depth int) []entry {
	if depth > maxAliasDepth {
		p.errorf(v.Line, path, "merge keys nest too deep")
		return nil
	}
	if v = p.resolve(v, path); v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return p.pairs(v, path, depth)
	case yaml.SequenceNode:
		var out []entry
		for _, item := range v.Content {
			if item = p.resolve(item, path); item == nil {
				continue
			}
			if item.Kind != yaml.MappingNode {
				p.errorf(item.Line, path, "want a mapping to merge, got %s", yamlpos.Describe(item))
				continue
			}
			out = append(out, p.pairs(item, path, depth)...)
		}
		return out
	}
	p.errorf(v.Line, path, "want a mapping or a list of mappings to merge, got %s", yamlpos.Describe(v))
	return nil
}

// handlers decode the keys of a mapping, by key name.
type handlers map[string]func(e entry, path string)

// object decodes a mapping node key by key: an unknown key is an error. It
// returns the keys present; ok is false when n is not a mapping.
func (p *parser) object(n *yaml.Node, path string, h handlers) (present map[string]bool, ok bool) {
	entries, ok := p.entries(n, path)
	if !ok {
		return nil, false
	}
	present = map[string]bool{}
	for _, e := range entries {
		child := yamlpos.Join(path, e.name)
		decode, known := h[e.name]
		if !known {
			p.errorf(e.key.Line, child, "unknown key")
			continue
		}
		present[e.name] = true
		decode(e, child)
	}
	return present, true
}

// str decodes a scalar as a string.
func (p *parser) str(n *yaml.Node, path string) (string, bool) {
	if n = p.resolve(n, path); n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || yamlpos.IsNull(n) {
		p.errorf(n.Line, path, "want a string, got %s", yamlpos.Describe(n))
		return "", false
	}
	return n.Value, true
}

// boolean decodes true or false.
func (p *parser) boolean(n *yaml.Node, path string) (bool, bool) {
	if n = p.resolve(n, path); n == nil {
		return false, false
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		p.errorf(n.Line, path, "want true or false, got %s", yamlpos.Describe(n))
		return false, false
	}
	return b, true
}

// integer decodes a whole number.
func (p *parser) integer(n *yaml.Node, path string) (int, bool) {
	if n = p.resolve(n, path); n == nil {
		return 0, false
	}
	var i int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		p.errorf(n.Line, path, "want a whole number, got %s", yamlpos.Describe(n))
		return 0, false
	}
	return i, true
}

// valueLine is where the text of a scalar starts: a block scalar's text
// starts below its indicator.
func valueLine(n *yaml.Node) int {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Line + 1
	}
	return n.Line
}

// innerLine is the file line of line inner of a scalar's text: exact for a
// literal block scalar, which keeps its lines, else the scalar's line.
func innerLine(n *yaml.Node, inner int) int {
	if n.Style&yaml.LiteralStyle != 0 && inner > 1 {
		return valueLine(n) + inner - 1
	}
	return valueLine(n)
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
func (p *parser) mapping(n *yaml.Node, path string) *Mapping {
	m := &Mapping{file: p.file, path: path, line: n.Line}
	var objectLine int
	var conflictFields []fieldRef
	present, ok := p.object(n, path, handlers{
		"object": func(e entry, path string) {
			objectLine = e.key.Line
			if s, ok := p.str(e.value, path); ok {
				if !fieldName.MatchString(s) {
					p.errorf(e.value.Line, path, "%q is not an object name", s)
					return
				}
				m.Object = s
			}
		},
		"filter": func(e entry, path string) {
			s, ok := p.str(e.value, path)
			if s = strings.TrimSpace(s); !ok || s == "" {
				if ok {
					p.errorf(e.value.Line, path, "empty filter (leave the key out to select every record)")
				}
				return
			}
			if len(s) >= 6 && strings.EqualFold(s[:6], "WHERE ") {
				p.errorf(e.value.Line, path, "write the condition without WHERE")
				return
			}
			m.Filter = s
		},
		"media": func(e entry, path string) {
			m.mediaLine = e.key.Line
			m.media = parseRules(p, m, e.value, path, "media", p.mediaValue)
		},
		"service": func(e entry, path string) {
			m.serviceLine = e.key.Line
			m.services = parseRules(p, m, e.value, path, "service", p.serviceValue)
		},
		"fields": func(e entry, path string) { p.fieldMap(m, e.value, path) },
		"reopen_on_customer_reply": func(e entry, path string) {
			m.reopen = p.recordCondition(m, e.value, path)
		},
		"writeback": func(e entry, path string) { p.writeback(m, e.value, path) },
		"audit":     func(e entry, path string) { p.audit(m, e, path) },
		"sync":      func(e entry, path string) { conflictFields = p.syncPolicy(m, e.value, path) },
	})
	if !ok {
		return nil
	}
	for _, f := range conflictFields {
		k := slices.IndexFunc(m.writes, func(w fieldRef) bool { return strings.EqualFold(w.name, f.name) })
		if k < 0 {
			p.errorf(f.line, f.path, "%s is not a field the writeback writes", f.name)
			continue
		}
		// Keyed by the name the writeback uses, as Fields and Observe are.
		w := m.sync.Fields[f.name]
		delete(m.sync.Fields, f.name)
		m.sync.Fields[m.writes[k].name] = w
	}
	for _, key := range []string{"object", "media", "service"} {
		if !present[key] {
			p.errorf(n.Line, path+"."+key, "required")
		}
	}
	m.objLine = n.Line
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
		p.errorf(line, path, "%q is not a field name", name)
		return false
	}
	m.reads = append(m.reads, fieldRef{name: name, path: path, line: line})
	return true
}

// claim notes that the field name is written, in writes; false if name is
// not a field name or is written already.
func (p *parser) claim(writes *[]fieldRef, name, path string, line int) bool {
	if !fieldName.MatchString(name) {
		p.errorf(line, path, "%q is not a field name", name)
		return false
	}
	for _, w := range *writes {
		if strings.EqualFold(w.name, name) {
			p.errorf(line, path, "%s is written already by %s (line %d)", name, w.path, w.line)
			return false
		}
	}
	*writes = append(*writes, fieldRef{name: name, path: path, line: line})
	return true
}

// parseRules decodes media or service rules: a list of {when, KEY}, or one
// value that applies to every record.
func parseRules[T any](p *parser, m *Mapping, n *yaml.Node, path, key string, value func(*yaml.Node, string) (T, bool)) []rule[T] {
	if n = p.resolve(n, path); n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		v, ok := value(n, path)
		if !ok {
			return nil
		}
		return []rule[T]{{value: v, path: path, line: n.Line}}
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n.Line, path, "want a %s or a list of rules, got %s", key, yamlpos.Describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.errorf(n.Line, path, "want at least one rule")
		return nil
	}
	var rules []rule[T]
	catchAll := 0
	for i, item := range n.Content {
		ipath := yamlpos.Index(path, i)
		if item = p.resolve(item, ipath); item == nil {
			continue
		}
		r := rule[T]{path: ipath, line: item.Line}
		present, ok := p.object(item, ipath, handlers{
			"when": func(e entry, path string) { r.when = p.recordCondition(m, e.value, path) },
			key: func(e entry, path string) {
				if v, ok := value(e.value, path); ok {
					r.value = v
				}
			},
		})
		if !ok {
			continue
		}
		if !present[key] {
			p.errorf(item.Line, ipath+"."+key, "required")
		}
		if catchAll != 0 {
			p.errorf(item.Line, ipath, "unreachable: the rule at line %d has no when and matches every record", catchAll)
		}
		if !present["when"] && catchAll == 0 {
			catchAll = item.Line
		}
		rules = append(rules, r)
	}
	return rules
}

// mediaValue decodes a media type.
func (p *parser) mediaValue(n *yaml.Node, path string) (contactpad.Media, bool) {
	s, ok := p.str(n, path)
	if !ok {
		return "", false
	}
	media, err := contactpad.ParseMedia(s)
	if err != nil {
		p.errorf(n.Line, path, "%v", err)
		return "", false
	}
	return media, true
}

// serviceValue decodes a service ID; the caller checks that it exists.
func (p *parser) serviceValue(n *yaml.Node, path string) (string, bool) {
	s, ok := p.str(n, path)
	if ok && s == "" {
		p.errorf(n.Line, path, "empty service ID")
		return "", false
	}
	return s, ok
}

// recordCondition compiles a condition over the record's fields and notes
// the fields it reads.
func (p *parser) recordCondition(m *Mapping, n *yaml.Node, path string) *condition {
	if n = p.resolve(n, path); n == nil {
		return nil
	}
	src, ok := p.str(n, path)
	if !ok {
		return nil
	}
	if strings.TrimSpace(src) == "" {
		p.errorf(n.Line, path, "empty expression")
		return nil
	}
	program, err := compileRecordCondition(src)
	if err != nil {
		p.errorf(innerLine(n, exprLine(err)), path, "invalid expression: %s", exprMessage(err))
		return nil
	}
	line := valueLine(n)
	for _, f := range conditionFields(src) {
		p.read(m, f, path, line)
	}
	return &condition{program: program, path: path, line: line}
}

// fieldMap decodes the fields section: where the work item's fields come
// from.
func (p *parser) fieldMap(m *Mapping, n *yaml.Node, path string) {
	p.object(n, path, handlers{
		"subject":  func(e entry, path string) { m.subject = p.valueSpec(m, e, path, kindText) },
		"category": func(e entry, path string) { m.category = p.valueSpec(m, e, path, kindText) },
		"priority": func(e entry, path string) { m.priority = p.valueSpec(m, e, path, kindNumber) },
		"tags":     func(e entry, path string) { m.tags = p.valueSpec(m, e, path, kindTags) },
	})
}

// valueSpec decodes one entry of the field map: a field name, or a mapping
// of field or template, values, default and required (and split, for
// tags).
func (p *parser) valueSpec(m *Mapping, e entry, path string, kind valueKind) *valueSpec {
	n := p.resolve(e.value, path)
	if n == nil {
		return nil
	}
	s := &valueSpec{kind: kind, path: path, line: e.key.Line, split: ";"}
	if n.Kind == yaml.ScalarNode {
		if tag := n.ShortTag(); tag == "!!int" || tag == "!!float" || tag == "!!bool" {
			p.errorf(n.Line, path, "want a field name, got %s (for a constant, write {default: %s})", yamlpos.Describe(n), n.Value)
			return nil
		}
		if name, ok := p.str(n, path); ok && p.read(m, name, path, n.Line) {
			s.field = name
		}
		return s
	}
	h := handlers{
		"field": func(e entry, path string) {
			if name, ok := p.str(e.value, path); ok && p.read(m, name, path, e.value.Line) {
				s.field = name
			}
		},
		"template": func(e entry, path string) { s.tmpl = p.recordTemplate(m, e.value, path) },
		"values":   func(e entry, path string) { s.values = p.valueMap(e.value, path, kind) },
		"default": func(e entry, path string) {
			s.def, s.hasDefault = p.defaultValue(e.value, path, kind)
		},
		"required": func(e entry, path string) { s.required, _ = p.boolean(e.value, path) },
	}
	if kind == kindTags {
		h["split"] = func(e entry, path string) {
			sep, ok := p.str(e.value, path)
			switch {
			case !ok:
			case sep == "":
				p.errorf(e.value.Line, path, "empty separator")
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
		p.errorf(e.key.Line, path, "set field or template, not both")
	case !present["field"] && !present["template"] && !present["default"]:
		p.errorf(e.key.Line, path, "set field, template or default")
	}
	return s
}

// valueMap decodes the values of a field map entry: record value to work
// item value.
func (p *parser) valueMap(n *yaml.Node, path string, kind valueKind) map[string]any {
	entries, ok := p.entries(n, path)
	if !ok {
		return nil
	}
	out := make(map[string]any, len(entries))
	for _, e := range entries {
		child := yamlpos.Join(path, e.name)
		if kind == kindNumber {
			if v, ok := p.integer(e.value, child); ok {
				out[e.name] = v
			}
			continue
		}
		if v, ok := p.str(e.value, child); ok {
			out[e.name] = v
		}
	}
	return out
}

// defaultValue decodes a field map entry's default.
func (p *parser) defaultValue(n *yaml.Node, path string, kind valueKind) (any, bool) {
	switch kind {
	case kindNumber:
		return p.integer(n, path)
	case kindTags:
		if n = p.resolve(n, path); n == nil {
			return nil, false
		}
		if n.Kind != yaml.SequenceNode {
			s, ok := p.str(n, path)
			return []string{s}, ok
		}
		tags := []string{}
		for i, item := range n.Content {
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
func (p *parser) recordTemplate(m *Mapping, n *yaml.Node, path string) *template.Template {
	if n = p.resolve(n, path); n == nil {
		return nil
	}
	src, ok := p.str(n, path)
	if !ok {
		return nil
	}
	t, err := newTemplate(src)
	if err != nil {
		p.errorf(innerLine(n, templateLine(err)), path, "invalid template: %s", templateMessage(err))
		return nil
	}
	line := valueLine(n)
	for _, f := range templateFields(t) {
		p.read(m, f, path, line)
	}
	return t
}

// customFields decodes the fields of a writeback or audit record: field
// name to template, or to a constant boolean, number or null. Templates run
// at load time against dataSamples, so that a misspelt name fails here.
func (p *parser) customFields(n *yaml.Node, path, object string, writes *[]fieldRef) []customField {
	entries, ok := p.entries(n, path)
	if !ok {
		return nil
	}
	var out []customField
	for _, e := range entries {
		child := yamlpos.Join(path, e.name)
		v := p.resolve(e.value, child)
		if v == nil || !p.claim(writes, e.name, child, e.key.Line) {
			continue
		}
		f := customField{name: e.name, path: child, line: e.key.Line}
		if v.Kind != yaml.ScalarNode {
			p.errorf(v.Line, child, "want a template, a boolean, a number or null, got %s", yamlpos.Describe(v))
			continue
		}
		switch v.ShortTag() {
		case "!!null":
		case "!!bool", "!!int", "!!float":
			if err := v.Decode(&f.constant); err != nil {
				p.errorf(v.Line, child, "invalid %s: %v", yamlpos.Describe(v), err)
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
func (p *parser) dataTemplate(n *yaml.Node, path, object string) (*template.Template, bool) {
	t, err := newTemplate(n.Value)
	if err != nil {
		p.errorf(innerLine(n, templateLine(err)), path, "invalid template: %s", templateMessage(err))
		return nil, false
	}
	for _, sample := range dataSamples(object) {
		if err := t.Execute(io.Discard, sample); err != nil {
			p.errorf(innerLine(n, templateLine(err)), path, "invalid template: %s", templateMessage(err))
			return nil, false
		}
	}
	return t, true
}

// writeback decodes the writeback section.
func (p *parser) writeback(m *Mapping, n *yaml.Node, path string) {
	wb := &writeback{}
	target := func(dst *string) func(entry, string) {
		return func(e entry, path string) {
			if name, ok := p.str(e.value, path); ok && p.claim(&m.writes, name, path, e.value.Line) {
				*dst = name
			}
		}
	}
	_, ok := p.object(n, path, handlers{
		"status":                      func(e entry, path string) { wb.status = p.statusField(m, e, path) },
		"owner":                       target(&wb.owner),
		"due_by":                      target(&wb.dueBy),
		"due_by_was_set_manually":     target(&wb.dueBySetManually),
		"auto_opened_due_to_due_date": target(&wb.autoOpenedDueToDueDate),
		"resumed_from":                target(&wb.resumedFrom),
		"service":                     target(&wb.service),
		"pause_sla":                   target(&wb.pauseSLA),
		"fields": func(e entry, path string) {
			wb.fields = p.customFields(e.value, path, m.Object, &m.writes)
		},
	})
	if ok {
		m.writeback = wb
	}
}

// syncPolicy decodes the sync section: how the bridge treats changes made
// to the records in the CRM. It returns the fields conflicts names, which
// the caller checks against the fields the writeback writes.
func (p *parser) syncPolicy(m *Mapping, n *yaml.Node, path string) []fieldRef {
	var named []fieldRef
	choice := func(allowed ...string) func(n *yaml.Node, path string) (string, bool) {
		return func(n *yaml.Node, path string) (string, bool) {
			s, ok := p.str(n, path)
			if ok && !slices.Contains(allowed, s) {
				p.errorf(n.Line, path, "%q: want %s", s, strings.Join(allowed, " or "))
				return "", false
			}
			return s, ok
		}
	}
	winner := choice(string(contactpad.CRMWins), string(contactpad.BridgeWins))
	p.object(n, path, handlers{
		"first_sight": func(e entry, path string) {
			if s, ok := choice(string(contactpad.Adopt), string(contactpad.Reset))(e.value, path); ok {
				m.sync.FirstSight = contactpad.FirstSight(s)
			}
		},
		"closed": func(e entry, path string) {
			if s, ok := choice(string(contactpad.CloseCompletes), string(contactpad.CloseAbandons))(e.value, path); ok {
				m.sync.Closed = contactpad.ClosedPolicy(s)
			}
		},
		"owner_changed": func(e entry, path string) {
			if s, ok := choice(string(contactpad.OwnerReassigns), string(contactpad.OwnerIgnored))(e.value, path); ok {
				m.sync.OwnerChanged = contactpad.OwnerPolicy(s)
			}
		},
		"conflicts": func(e entry, path string) {
			v := p.resolve(e.value, path)
			if v == nil {
				return
			}
			if v.Kind == yaml.ScalarNode {
				if s, ok := winner(v, path); ok {
					m.sync.Conflicts = contactpad.Winner(s)
				}
				return
			}
			entries, ok := p.entries(v, path)
			if !ok {
				return
			}
			for _, f := range entries {
				child := yamlpos.Join(path, f.name)
				s, ok := winner(f.value, child)
				if !ok {
					continue
				}
				if f.name == "default" {
					m.sync.Conflicts = contactpad.Winner(s)
					continue
				}
				if m.sync.Fields == nil {
					m.sync.Fields = map[string]contactpad.Winner{}
				}
				m.sync.Fields[f.name] = contactpad.Winner(s)
				named = append(named, fieldRef{name: f.name, path: child, line: f.key.Line})
			}
		},
	})
	return named
}

// statusField decodes writeback.status: a field name, or a field and the
// value to write for each interaction status.
func (p *parser) statusField(m *Mapping, e entry, path string) *statusField {
	n := p.resolve(e.value, path)
	if n == nil {
		return nil
	}
	s := &statusField{}
	if n.Kind == yaml.ScalarNode {
		if name, ok := p.str(n, path); ok && p.claim(&m.writes, name, path, n.Line) {
			s.field = name
		}
		return s
	}
	present, ok := p.object(n, path, handlers{
		"field": func(e entry, path string) {
			if name, ok := p.str(e.value, path); ok && p.claim(&m.writes, name, path, e.value.Line) {
				s.field = name
			}
		},
		"values": func(e entry, path string) {
			entries, ok := p.entries(e.value, path)
			if !ok {
				return
			}
			s.values = map[contactpad.Status]string{}
			for _, v := range entries {
				child := yamlpos.Join(path, v.name)
				status := contactpad.Status(v.name)
				if !slices.Contains(contactpad.Statuses, status) {
					p.errorf(v.key.Line, child, "unknown status %q (want %s)", v.name, statusList())
					continue
				}
				if value, ok := p.str(v.value, child); ok {
					s.values[status] = value
				}
			}
		},
	})
	if ok && !present["field"] {
		p.errorf(e.key.Line, path+".field", "required")
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
func (p *parser) audit(m *Mapping, section entry, path string) {
	a := &audit{}
	var writes []fieldRef
	present, ok := p.object(section.value, path, handlers{
		"object": func(e entry, path string) {
			a.objectLine = e.key.Line
			if s, ok := p.str(e.value, path); ok {
				if !fieldName.MatchString(s) {
					p.errorf(e.value.Line, path, "%q is not an object name", s)
					return
				}
				a.object = s
			}
		},
		"external_id": func(e entry, path string) {
			if s, ok := p.str(e.value, path); ok && p.claim(&writes, s, path, e.value.Line) {
				a.externalID = s
			}
		},
		"when": func(e entry, path string) {
			v := p.resolve(e.value, path)
			if v == nil {
				return
			}
			src, ok := p.str(v, path)
			if !ok {
				return
			}
			program, err := compileAuditCondition(src)
			if err != nil {
				p.errorf(innerLine(v, exprLine(err)), path, "invalid expression: %s", exprMessage(err))
				return
			}
			a.when = &condition{program: program, path: path, line: valueLine(v)}
		},
		"fields": func(e entry, path string) { a.fields = p.customFields(e.value, path, m.Object, &writes) },
	})
	if !ok {
		return
	}
	for _, key := range []string{"object", "external_id"} {
		if !present[key] {
			p.errorf(section.key.Line, path+"."+key, "required")
		}
	}
	a.writes = writes
	m.audit = a
}
