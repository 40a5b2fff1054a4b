package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/internal/yamlpos"
	"gopkg.in/yaml.v3"
)

// decoder walks the YAML node tree against the Config structs, by their
// yaml tags, instead of letting yaml.v3 decode: yaml.v3's KnownFields stops
// at the first unknown key, and it keeps no line numbers for validation.
// It records the line of every key and value by path, and collects every
// problem instead of stopping at the first.
type decoder struct {
	file string
	// dir is where relative "_file" paths start.
	dir  string
	errs ValidationErrors
	// keyLine and valueLine hold, by path, the line of each key (or list
	// item) and of its value, which differ for block mappings and block
	// scalars.
	keyLine   map[string]int
	valueLine map[string]int
	// failed holds the paths that already have an error, so validation
	// does not add a second, confusing one for the same key.
	failed map[string]bool
	// budget bounds the nodes walked, which aliases could otherwise
	// multiply.
	budget int
	// aliasLine is the line of the alias being expanded, if any: problems
	// in its copy of the anchored nodes are reported where it is used.
	aliasLine int
}

const (
	// nodeBudget is the most nodes one file may expand to.
	nodeBudget = 1 << 20
	// maxAliasDepth bounds chains of aliases and nested merge keys.
	maxAliasDepth = 64
	// maxSecretFile is the largest secret file read.
	maxSecretFile = 1 << 20
)

var (
	durationType = reflect.TypeFor[Duration]()
	secretType   = reflect.TypeFor[Secret]()
	nodeType     = reflect.TypeFor[yaml.Node]()
)

func newDecoder(file string) *decoder {
	return &decoder{
		file:      file,
		dir:       filepath.Dir(file),
		keyLine:   map[string]int{},
		valueLine: map[string]int{},
		failed:    map[string]bool{},
		budget:    nodeBudget,
	}
}

// addError records a problem at line.
func (d *decoder) addError(line int, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// fail records a problem with node n and marks path as failed.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.failed[path] = true
	d.addError(d.line(n), path, format, args...)
}

// line is where to report a problem with node n.
func (d *decoder) line(n *yaml.Node) int {
	if d.aliasLine != 0 {
		return d.aliasLine
	}
	return n.Line
}

// parse reads the single YAML document of data and returns its root node:
// nil for an empty file. ok is false when the file is not YAML.
func (d *decoder) parse(data []byte) (root *yaml.Node, ok bool) {
	defer func() {
		// yaml.v3 has panicked on malformed input before; a config
		// loader must report, not crash.
		if r := recover(); r != nil {
			d.addError(0, "", "invalid YAML: %v", r)
			root, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		d.yamlError(err)
		return nil, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.addError(next.Line, "", "want one YAML document, found another")
		return nil, false
	case !errors.Is(err, io.EOF):
		d.yamlError(err)
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, true
	}
	return doc.Content[0], true
}

// yamlError records a yaml.v3 syntax error with its line.
func (d *decoder) yamlError(err error) {
	line, msg := yamlpos.Syntax(err)
	d.addError(line, "", "%s", msg)
}

// resolve follows aliases to the node they name; nil if there is none.
func (d *decoder) resolve(n *yaml.Node, path string) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth == maxAliasDepth {
			d.fail(n, path, "aliases nest too deep")
			return nil
		}
		n = n.Alias
	}
	return n
}

// spend counts one node against the budget and reports whether any is left.
func (d *decoder) spend(n *yaml.Node, path string) bool {
	d.budget--
	if d.budget == 0 {
		d.fail(n, path, "file expands to more than %d nodes (aliases?)", nodeBudget)
	}
	return d.budget > 0
}

// parent strips the last key or index from a path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// lineOf returns the line of the key at path, or of the closest ancestor
// in the file when the key is missing.
func (d *decoder) lineOf(path string) int {
	for ; path != ""; path = parent(path) {
		if line, ok := d.keyLine[path]; ok {
			return line
		}
	}
	return 0
}

// valueLineOf returns the line where the value at path starts.
func (d *decoder) valueLineOf(path string) int {
	if line, ok := d.valueLine[path]; ok {
		return line
	}
	return d.lineOf(path)
}

// hasFailed reports whether path or an ancestor already has an error.
func (d *decoder) hasFailed(path string) bool {
	for ; path != ""; path = parent(path) {
		if d.failed[path] {
			return true
		}
	}
	return false
}

// record notes the lines of a key (or list item) and its value.
func (d *decoder) record(path string, key, value *yaml.Node) {
	d.keyLine[path] = d.line(key)
	d.valueLine[path] = d.line(value)
	if d.aliasLine == 0 && value.Kind == yaml.ScalarNode && (value.Style&(yaml.LiteralStyle|yaml.FoldedStyle)) != 0 {
		// A block scalar's text starts below its indicator.
		d.valueLine[path] = value.Line + 1
	}
}

// decode stores node n into v, which is settable.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n != nil && n.Kind == yaml.AliasNode && d.aliasLine == 0 {
		d.aliasLine = n.Line
		defer func() { d.aliasLine = 0 }()
	}
	if n = d.resolve(n, path); n == nil || !d.spend(n, path) {
		return
	}
	switch v.Type() {
	case nodeType:
		v.Set(reflect.ValueOf(*n))
		return
	case durationType:
		d.duration(n, v, path)
		return
	case secretType:
		d.secret(n, v, path)
		return
	}
	if yamlpos.IsNull(n) {
		// An empty value keeps the default.
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "want a string, got %s", yamlpos.Describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, path, "want true or false, got %s", quoteScalar(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.fail(n, path, "want a whole number, got %s", quoteScalar(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&f) != nil {
			d.fail(n, path, "want a number, got %s", quoteScalar(n))
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("config: no decoder for %s at %s", v.Type(), path))
	}
}

// quoteScalar quotes a scalar's value, or describes another node. Only for
// fields that cannot hold a secret.
func quoteScalar(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return yamlpos.Describe(n)
}

// pair is one key and its value in a mapping.
type pair struct{ key, value *yaml.Node }

// pairs lists the entries of a mapping node, with the entries of merge keys
// ("<<: *base") after them unless a key of its own overrides them.
func (d *decoder) pairs(n *yaml.Node, path string, depth int) []pair {
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergePairs(v, path, depth+1)...)
			continue
		}
		own = append(own, pair{k, v})
	}
	if len(merged) == 0 {
		return own
	}
	have := map[string]bool{}
	for _, p := range own {
		have[p.key.Value] = true
	}
	for _, p := range merged {
		if !have[p.key.Value] {
			have[p.key.Value] = true
			own = append(own, p)
		}
	}
	return own
}

// mergePairs lists the entries a merge key's value brings: one mapping or a
// list of mappings, earlier ones first.
func (d *decoder) mergePairs(v *yaml.Node, path string, depth int) []pair {
	if depth > maxAliasDepth {
		d.addError(d.line(v), path, "merge keys nest too deep")
		return nil
	}
	if v = d.resolve(v, path); v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return d.pairs(v, path, depth)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range v.Content {
			if item = d.resolve(item, path); item == nil {
				continue
			}
			if item.Kind != yaml.MappingNode {
				d.addError(d.line(item), path, "want a mapping to merge, got %s", yamlpos.Describe(item))
				continue
			}
			out = append(out, d.pairs(item, path, depth)...)
		}
		return out
	}
	d.addError(d.line(v), path, "want a mapping or a list of mappings to merge, got %s", yamlpos.Describe(v))
	return nil
}

// field is a key of a struct: the field it sets, and whether the key is the
// "_file" sibling of a Secret field.
type field struct {
	index    int
	name     string
	fromFile bool
}

// fieldsOf maps the yaml keys of a struct type to its fields.
func fieldsOf(t reflect.Type) (map[string]field, []field) {
	byName := map[string]field{}
	var secrets []field
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		byName[name] = field{index: i, name: name}
		if f.Type == secretType {
			byName[name+"_file"] = field{index: i, name: name, fromFile: true}
			secrets = append(secrets, field{index: i, name: name})
		}
	}
	return byName, secrets
}

// structure decodes a mapping node into a struct, key by key.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", yamlpos.Describe(n))
		return
	}
	fields, secrets := fieldsOf(v.Type())
	pairs := d.pairs(n, path, 0)
	keys := map[string]*yaml.Node{}
	for _, p := range pairs {
		if p.key.Kind == yaml.ScalarNode {
			if _, dup := keys[p.key.Value]; !dup {
				keys[p.key.Value] = p.key
			}
		}
	}
	// A secret given both ways is an error, and its file is not read.
	skip := map[*yaml.Node]bool{}
	for _, s := range secrets {
		plain, fromFile := keys[s.name], keys[s.name+"_file"]
		if plain != nil && fromFile != nil {
			d.fail(fromFile, yamlpos.Join(path, s.name+"_file"), "set %s or %s_file, not both", s.name, s.name)
			skip[fromFile] = true
		}
	}
	seen := map[string]*yaml.Node{}
	for _, p := range pairs {
		if p.key.Kind != yaml.ScalarNode {
			d.addError(d.line(p.key), path, "want a key name, got %s", yamlpos.Describe(p.key))
			continue
		}
		name := p.key.Value
		child := yamlpos.Join(path, name)
		if first, dup := seen[name]; dup {
			d.fail(p.key, child, "duplicate key (first at line %d)", first.Line)
			continue
		}
		seen[name] = p.key
		f, ok := fields[name]
		if !ok {
			d.fail(p.key, child, "unknown key")
			continue
		}
		if skip[p.key] {
			continue
		}
		d.record(child, p.key, p.value)
		if f.fromFile {
			d.secretFile(p.value, v.Field(f.index), child)
			continue
		}
		d.decode(p.value, v.Field(f.index), child)
	}
}

// mapping decodes a mapping node into a Go map with string-like keys. Keys
// already in the map (defaults) stay unless the file sets them.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", yamlpos.Describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	seen := map[string]*yaml.Node{}
	for _, p := range d.pairs(n, path, 0) {
		if p.key.Kind != yaml.ScalarNode {
			d.addError(d.line(p.key), path, "want a key name, got %s", yamlpos.Describe(p.key))
			continue
		}
		name := p.key.Value
		child := yamlpos.Join(path, name)
		if first, dup := seen[name]; dup {
			d.fail(p.key, child, "duplicate key (first at line %d)", first.Line)
			continue
		}
		seen[name] = p.key
		d.record(child, p.key, p.value)
		key := reflect.ValueOf(name).Convert(v.Type().Key())
		elem := reflect.New(v.Type().Elem()).Elem()
		if old := v.MapIndex(key); old.IsValid() {
			elem.Set(old)
		}
		d.decode(p.value, elem, child)
		v.SetMapIndex(key, elem)
	}
}

// sequence decodes a list node into a slice, replacing any default.
func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list, got %s", yamlpos.Describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		child := yamlpos.Index(path, i)
		d.record(child, item, item)
		d.decode(item, s.Index(i), child)
	}
	v.Set(s)
}

// duration decodes a Go duration string.
func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if yamlpos.IsNull(n) {
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want a duration such as 30s, 5m or 24h, got %s", yamlpos.Describe(n))
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.fail(n, path, "invalid duration %q (want e.g. 30s, 5m or 24h)", n.Value)
		return
	}
	v.SetInt(int64(dur))
}

// secret decodes a secret literal, expanding ${NAME} references.
func (d *decoder) secret(n *yaml.Node, v reflect.Value, path string) {
	if yamlpos.IsNull(n) {
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want a string, got %s", yamlpos.Describe(n))
		return
	}
	value, err := expandEnv(n.Value)
	if err != nil {
		d.fail(n, path, "%s", err)
		return
	}
	v.Set(reflect.ValueOf(NewSecret(value)))
}

// secretFile reads a secret from the file named by a "_file" key.
func (d *decoder) secretFile(n *yaml.Node, v reflect.Value, path string) {
	if n = d.resolve(n, path); n == nil {
		return
	}
	if n.Kind != yaml.ScalarNode || yamlpos.IsNull(n) || n.Value == "" {
		d.fail(n, path, "want a file path, got %s", yamlpos.Describe(n))
		return
	}
	name, err := expandEnv(n.Value)
	if err != nil {
		d.fail(n, path, "%s", err)
		return
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(d.dir, name)
	}
	value, err := readSecretFile(name)
	if err != nil {
		d.fail(n, path, "%s", err)
		return
	}
	v.Set(reflect.ValueOf(NewSecret(value)))
}

// readSecretFile returns the content of a regular file, less trailing
// newlines. Its errors name the file, never its content.
func readSecretFile(name string) (string, error) {
	// Stat before Open: opening a FIFO or a device could block.
	info, err := os.Stat(name)
	if err != nil {
		return "", err
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", name)
	}
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", err
	}
	if len(data) > maxSecretFile {
		return "", fmt.Errorf("%s is larger than %d bytes", name, maxSecretFile)
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}
