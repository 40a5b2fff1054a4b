package config

import (
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

// decoder stores the YAML node tree into the Config structs, by their yaml
// tags, instead of letting yaml.v3 decode: yaml.v3's KnownFields stops at
// the first unknown key, and it keeps no line numbers for validation. The
// walk itself (aliases, merge keys, the node budget, error lines) is
// yamlpos.Walker's, shared with package mapping. The decoder records the
// line of every key and value by path, and collects every problem instead
// of stopping at the first.
type decoder struct {
	*yamlpos.Walker
	// dir is where relative "_file" paths start.
	dir string
	// keyLine and valueLine hold, by path, the line of each key (or list
	// item) and of its value, which differ for block mappings and block
	// scalars.
	keyLine   map[string]int
	valueLine map[string]int
	// file names the config in warnings; warnings are what is unsafe
	// but valid (Config.Warnings).
	file     string
	warnings []*Error
}

// maxSecretFile is the largest secret file read.
const maxSecretFile = 1 << 20

var (
	durationType = reflect.TypeFor[Duration]()
	secretType   = reflect.TypeFor[Secret]()
	nodeType     = reflect.TypeFor[yamlpos.Node]()
)

func newDecoder(file string) *decoder {
	return &decoder{
		Walker:    yamlpos.NewWalker(file),
		file:      file,
		dir:       filepath.Dir(file),
		keyLine:   map[string]int{},
		valueLine: map[string]int{},
	}
}

// lineOf returns the line of the key at path, or of the closest ancestor
// in the file when the key is missing.
func (d *decoder) lineOf(path string) int {
	for ; path != ""; path = yamlpos.Parent(path) {
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

// record notes the lines of a key (or list item) and its value.
func (d *decoder) record(path string, key, value yamlpos.Node) {
	d.keyLine[path] = key.Line()
	d.valueLine[path] = value.ValueLine()
}

// decode stores node n into v, which is settable.
func (d *decoder) decode(n yamlpos.Node, v reflect.Value, path string) {
	if n = d.Resolve(n, path); n.IsZero() {
		return
	}
	switch v.Type() {
	case nodeType:
		// Kept with the alias that led here, if any, so that package
		// mapping reports the lines this walk would.
		v.Set(reflect.ValueOf(n))
		return
	case durationType:
		d.duration(n, v, path)
		return
	case secretType:
		d.secret(n, v, path)
		return
	}
	if n.IsNull() {
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
		if n.Kind() != yaml.ScalarNode {
			d.Fail(n, path, "want a string, got %s", n.Describe())
			return
		}
		v.SetString(n.Value())
	case reflect.Bool:
		var b bool
		if n.Kind() != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.Fail(n, path, "want true or false, got %s", quoteScalar(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		var i int64
		if n.Kind() != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.Fail(n, path, "want a whole number, got %s", quoteScalar(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		var f float64
		if n.Kind() != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&f) != nil {
			d.Fail(n, path, "want a number, got %s", quoteScalar(n))
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("config: no decoder for %s at %s", v.Type(), path))
	}
}

// quoteScalar quotes a scalar's value, or describes another node. Only for
// fields that cannot hold a secret.
func quoteScalar(n yamlpos.Node) string {
	if n.Kind() == yaml.ScalarNode {
		return strconv.Quote(n.Value())
	}
	return n.Describe()
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
func (d *decoder) structure(n yamlpos.Node, v reflect.Value, path string) {
	entries, ok := d.Entries(n, path)
	if !ok {
		return
	}
	fields, secrets := fieldsOf(v.Type())
	keys := map[string]yamlpos.Node{}
	for _, e := range entries {
		keys[e.Name] = e.Key
	}
	// A secret given both ways is an error, and its file is not read.
	skip := map[string]bool{}
	for _, s := range secrets {
		_, hasPlain := keys[s.name]
		fromFile, hasFile := keys[s.name+"_file"]
		if hasPlain && hasFile {
			d.Fail(fromFile, yamlpos.Join(path, s.name+"_file"), "set %s or %s_file, not both", s.name, s.name)
			skip[s.name+"_file"] = true
		}
	}
	for _, e := range entries {
		child := yamlpos.Join(path, e.Name)
		f, ok := fields[e.Name]
		if !ok {
			d.Fail(e.Key, child, "unknown key")
			continue
		}
		if skip[e.Name] {
			continue
		}
		d.record(child, e.Key, e.Value)
		if f.fromFile {
			d.secretFile(e.Value, v.Field(f.index), child)
			continue
		}
		d.decode(e.Value, v.Field(f.index), child)
	}
}

// mapping decodes a mapping node into a Go map with string-like keys. Keys
// already in the map (defaults) stay unless the file sets them.
func (d *decoder) mapping(n yamlpos.Node, v reflect.Value, path string) {
	entries, ok := d.Entries(n, path)
	if !ok {
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for _, e := range entries {
		child := yamlpos.Join(path, e.Name)
		d.record(child, e.Key, e.Value)
		key := reflect.ValueOf(e.Name).Convert(v.Type().Key())
		elem := reflect.New(v.Type().Elem()).Elem()
		if old := v.MapIndex(key); old.IsValid() {
			elem.Set(old)
		}
		d.decode(e.Value, elem, child)
		v.SetMapIndex(key, elem)
	}
}

// sequence decodes a list node into a slice, replacing any default.
func (d *decoder) sequence(n yamlpos.Node, v reflect.Value, path string) {
	if n.Kind() != yaml.SequenceNode {
		d.Fail(n, path, "want a list, got %s", n.Describe())
		return
	}
	items := n.Items()
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, item := range items {
		child := yamlpos.Index(path, i)
		d.record(child, item, item)
		d.decode(item, s.Index(i), child)
	}
	v.Set(s)
}

// duration decodes a Go duration string.
func (d *decoder) duration(n yamlpos.Node, v reflect.Value, path string) {
	if n.IsNull() {
		return
	}
	if n.Kind() != yaml.ScalarNode {
		d.Fail(n, path, "want a duration such as 30s, 5m or 24h, got %s", n.Describe())
		return
	}
	dur, err := time.ParseDuration(n.Value())
	if err != nil {
		d.Fail(n, path, "invalid duration %q (want e.g. 30s, 5m or 24h)", n.Value())
		return
	}
	v.SetInt(int64(dur))
}

// secret decodes a secret literal, expanding ${NAME} references.
func (d *decoder) secret(n yamlpos.Node, v reflect.Value, path string) {
	if n.IsNull() {
		return
	}
	if n.Kind() != yaml.ScalarNode {
		d.Fail(n, path, "want a string, got %s", n.Describe())
		return
	}
	value, err := expandEnv(n.Value())
	if err != nil {
		d.Fail(n, path, "%s", err)
		return
	}
	v.Set(reflect.ValueOf(NewSecret(value)))
}

// secretFile reads a secret from the file named by a "_file" key.
func (d *decoder) secretFile(n yamlpos.Node, v reflect.Value, path string) {
	if n = d.Resolve(n, path); n.IsZero() {
		return
	}
	if n.Kind() != yaml.ScalarNode || n.IsNull() || n.Value() == "" {
		d.Fail(n, path, "want a file path, got %s", n.Describe())
		return
	}
	name, err := expandEnv(n.Value())
	if err != nil {
		d.Fail(n, path, "%s", err)
		return
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(d.dir, name)
	}
	value, info, err := readSecretFile(name)
	if err != nil {
		d.Fail(n, path, "%s", err)
		return
	}
	if value == "" {
		// A secret mount that came up empty, say: without this, an
		// empty webhook secret went unreported and deliveries unsigned.
		d.Fail(n, path, "%s is empty", name)
		return
	}
	if who := readableBy(info); who != "" {
		d.warnings = append(d.warnings, &Error{File: d.file, Line: n.Line(), Path: path,
			Msg: fmt.Sprintf("%s is readable by %s (mode %04o); chmod 600 it", name, who, info.Mode().Perm())})
	}
	v.Set(reflect.ValueOf(NewSecret(value)))
}

// readSecretFile returns the content of a regular file, less trailing
// newlines, and the file's info. Its errors name the file, never its
// content.
func readSecretFile(name string) (string, os.FileInfo, error) {
	// Stat before Open: opening a FIFO or a device could block.
	info, err := os.Stat(name)
	if err != nil {
		return "", nil, err
	}
	if !info.Mode().IsRegular() {
		return "", nil, fmt.Errorf("%s is not a regular file", name)
	}
	f, err := os.Open(name)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", nil, err
	}
	if len(data) > maxSecretFile {
		return "", nil, fmt.Errorf("%s is larger than %d bytes", name, maxSecretFile)
	}
	return strings.TrimRight(string(data), "\r\n"), info, nil
}
