package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	tparse "text/template/parse"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// TemplateData is what writeback and audit templates see, and the names an
// audit section's when condition can use. The audit entry's fields are
// zero in a writeback template of a change that has no audit entry.
type TemplateData struct {
	// ID is the audit entry's ID, also written as the audit record's
	// external id.
	ID string
	// InteractionID is ctibridge's ID of the interaction.
	InteractionID string
	// Action names what happened: created, accepted, deferred, resumed,
	// reopened, released, completed, transferred, ...
	Action string
	// Category is the handling-export category of the step.
	Category string
	// Message is the audit entry's sentence, e.g. "Interaction resumed by
	// an agent".
	Message string
	// Actor is the agent who acted, or "system".
	Actor string
	// At is when it happened.
	At time.Time
	// FromStatus and ToStatus are the interaction's status before and after.
	FromStatus contactpad.Status
	ToStatus   contactpad.Status
	// Data holds the entry's details (due_by, resumed_from, reopen_reason,
	// ...); read one with {{index .Data "key"}}, which is empty when the
	// entry has no such detail.
	Data map[string]string
	// CRMID is the record's Id and Object the mapping's object.
	CRMID  string
	Object string
	// Writeback is the interaction's mirrored fields (zero when the change
	// carries none).
	Writeback contactpad.Writeback
}

// exprEnv is what an audit section's when condition sees: the fields of
// d by the same names, with statuses as plain strings so that they compare
// with string literals (ToStatus == "deferred").
func (d TemplateData) exprEnv() map[string]any {
	w := d.Writeback
	return map[string]any{
		"ID": d.ID, "InteractionID": d.InteractionID, "Action": d.Action, "Category": d.Category,
		"Message": d.Message, "Actor": d.Actor, "At": d.At,
		"FromStatus": string(d.FromStatus), "ToStatus": string(d.ToStatus), "Data": d.Data,
		"CRMID": d.CRMID, "Object": d.Object,
		"Writeback": map[string]any{
			"Status": string(w.Status), "Owner": w.Owner, "OwnerCRMUserID": w.OwnerCRMUserID, "DueBy": w.DueBy,
			"DueBySetManually": w.DueBySetManually, "AutoOpenedDueToDueDate": w.AutoOpenedDueToDueDate,
			"ResumedFrom": w.ResumedFrom, "Service": w.Service,
		},
	}
}

// templateData returns what the templates see of a change.
func (m *Mapping) templateData(c contactpad.RecordChange, crmID string) TemplateData {
	d := TemplateData{CRMID: crmID, Object: m.Object, Data: map[string]string{}}
	if a := c.Audit; a != nil {
		d.ID, d.InteractionID, d.Action, d.Category = a.ID, a.InteractionID, string(a.Action), string(a.Category)
		d.Message, d.Actor, d.At, d.FromStatus, d.ToStatus = a.Message, a.Actor, a.At, a.FromStatus, a.ToStatus
		if a.Data != nil {
			d.Data = a.Data
		}
	}
	if c.Writeback != nil {
		d.Writeback = *c.Writeback
	}
	return d
}

// dataSamples are the data a writeback or audit template must handle at
// load time: every value missing, and every value set. A template that
// fails on either would fail on some real change.
func dataSamples(object string) []TemplateData {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	due := at.Add(24 * time.Hour)
	return []TemplateData{
		{Object: object, Data: map[string]string{}},
		{
			ID: "aud-sample", InteractionID: "int-sample", Action: "deferred", Category: "status_action",
			Message: "Deferred until " + due.Format(time.RFC3339), Actor: "agent", At: at,
			FromStatus: contactpad.Connected, ToStatus: contactpad.Deferred,
			Data:  map[string]string{"due_by": due.Format(time.RFC3339), "due_by_was_set_manually": "true"},
			CRMID: "500000000000001AAA", Object: object,
			Writeback: contactpad.Writeback{Status: contactpad.Deferred, Owner: "agent",
				OwnerCRMUserID: "005000000000001AAA", DueBy: &due, DueBySetManually: true,
				AutoOpenedDueToDueDate: true, ResumedFrom: contactpad.ResumedFromDeferred, Service: "support"},
		},
	}
}

// newTemplate parses src as a text/template that fails on a missing map
// key, and refuses what a field value has no use for and could make
// execution unbounded: define and block, and range over a number.
func newTemplate(src string) (*template.Template, error) {
	t, err := template.New("t").Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, err
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("define and block are not allowed in a field template")
	}
	if t.Tree == nil || t.Tree.Root == nil {
		return t, nil
	}
	var bad error
	walkTemplate(t.Tree.Root, func(n tparse.Node) {
		if r, ok := n.(*tparse.RangeNode); ok && bad == nil && rangesOverNumber(r.Pipe) {
			bad = fmt.Errorf("%d: range over a number is not allowed", r.Line)
		}
	})
	return t, bad
}

// rangesOverNumber reports whether a range pipeline is a number literal.
func rangesOverNumber(p *tparse.PipeNode) bool {
	for _, cmd := range p.Cmds {
		for _, arg := range cmd.Args {
			if _, ok := arg.(*tparse.NumberNode); ok {
				return true
			}
		}
	}
	return false
}

// walkTemplate calls fn on every node of a template tree.
func walkTemplate(n tparse.Node, fn func(tparse.Node)) {
	if n == nil {
		return
	}
	fn(n)
	switch n := n.(type) {
	case *tparse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkTemplate(c, fn)
		}
	case *tparse.ActionNode:
		walkTemplate(n.Pipe, fn)
	case *tparse.IfNode:
		walkBranch(&n.BranchNode, fn)
	case *tparse.RangeNode:
		walkBranch(&n.BranchNode, fn)
	case *tparse.WithNode:
		walkBranch(&n.BranchNode, fn)
	case *tparse.TemplateNode:
		walkTemplate(n.Pipe, fn)
	case *tparse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walkTemplate(c, fn)
		}
	case *tparse.CommandNode:
		for _, a := range n.Args {
			walkTemplate(a, fn)
		}
	case *tparse.ChainNode:
		walkTemplate(n.Node, fn)
	}
}

func walkBranch(b *tparse.BranchNode, fn func(tparse.Node)) {
	walkTemplate(b.Pipe, fn)
	walkTemplate(b.List, fn)
	walkTemplate(b.ElseList, fn)
}

// templateFields lists the record fields a record template reads: .Subject,
// .Contact.Name, $.Subject, and the fields under {{with .Contact}}. Inside
// range, where dot is an element, fields are not known.
func templateFields(t *template.Template) []string {
	if t.Tree == nil || t.Tree.Root == nil {
		return nil
	}
	var out []string
	add := func(dot []string, ident []string) {
		if dot == nil || len(ident) == 0 {
			return
		}
		out = append(out, strings.Join(append(append([]string{}, dot...), ident...), "."))
	}
	var node func(n tparse.Node, dot []string)
	var pipe func(p *tparse.PipeNode, dot []string)
	list := func(l *tparse.ListNode, dot []string) {
		if l == nil {
			return
		}
		for _, c := range l.Nodes {
			node(c, dot)
		}
	}
	pipe = func(p *tparse.PipeNode, dot []string) {
		if p == nil {
			return
		}
		for _, cmd := range p.Cmds {
			for _, a := range cmd.Args {
				node(a, dot)
			}
		}
	}
	node = func(n tparse.Node, dot []string) {
		switch n := n.(type) {
		case *tparse.ListNode:
			list(n, dot)
		case *tparse.ActionNode:
			pipe(n.Pipe, dot)
		case *tparse.IfNode:
			pipe(n.Pipe, dot)
			list(n.List, dot)
			list(n.ElseList, dot)
		case *tparse.WithNode:
			pipe(n.Pipe, dot)
			list(n.List, withDot(n.Pipe, dot))
			list(n.ElseList, dot)
		case *tparse.RangeNode:
			pipe(n.Pipe, dot)
			list(n.List, nil)
			list(n.ElseList, dot)
		case *tparse.TemplateNode:
			pipe(n.Pipe, dot)
		case *tparse.PipeNode:
			pipe(n, dot)
		case *tparse.FieldNode:
			add(dot, n.Ident)
		case *tparse.VariableNode:
			if len(n.Ident) > 1 && n.Ident[0] == "$" {
				add([]string{}, n.Ident[1:])
			}
		case *tparse.ChainNode:
			switch inner := n.Node.(type) {
			case *tparse.FieldNode:
				add(dot, append(append([]string{}, inner.Ident...), n.Field...))
			case *tparse.DotNode:
				add(dot, n.Field)
			case *tparse.PipeNode:
				if inner := withDot(inner, dot); inner != nil {
					add(inner, n.Field)
					return
				}
				node(n.Node, dot)
			default:
				node(n.Node, dot)
			}
		}
	}
	list(t.Tree.Root, []string{})
	return out
}

// withDot is dot inside {{with PIPE}}, or the value of (PIPE): known when
// PIPE is one field.
func withDot(p *tparse.PipeNode, dot []string) []string {
	if dot == nil || p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return nil
	}
	f, ok := p.Cmds[0].Args[0].(*tparse.FieldNode)
	if !ok {
		return nil
	}
	return append(append([]string{}, dot...), f.Ident...)
}

// execute runs t on data and returns its output.
func execute(t *template.Template, data any) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", errors.New(templateMessage(err))
	}
	return b.String(), nil
}

var (
	// templateParseError is text/template's "template: NAME:LINE: MSG".
	templateParseError = regexp.MustCompile(`^template: t:(\d+): (.*)$`)
	// templateExecError is "template: NAME:LINE:COL: executing "NAME" at <X>: MSG".
	templateExecError = regexp.MustCompile(`^template: t:(\d+):(\d+): executing "t" at (<.*?>): (.*)$`)
	// inType ends text/template's messages about Go types admins never see.
	inType = regexp.MustCompile(` in type \S+$`)
	// ownLine is newTemplate's own "LINE: MSG".
	ownLine = regexp.MustCompile(`^(\d+): (.*)$`)
)

// templateMessage rewrites a text/template error for an admin: the message
// with the action at fault and its column, without the template's name.
func templateMessage(err error) string {
	msg := err.Error()
	if m := templateExecError.FindStringSubmatch(msg); m != nil {
		text := inType.ReplaceAllString(m[4], "")
		if strings.HasPrefix(text, "map has no entry for key") {
			text += ` (a key that may be missing: use {{index .Data "key"}})`
		}
		// text/template counts columns from 0.
		col, _ := strconv.Atoi(m[2])
		return fmt.Sprintf("%s: %s (column %d)", m[3], text, col+1)
	}
	if m := templateParseError.FindStringSubmatch(msg); m != nil {
		return m[2]
	}
	if m := ownLine.FindStringSubmatch(msg); m != nil {
		return m[2]
	}
	return strings.TrimPrefix(msg, "template: ")
}

// templateLine is the line within the template of an error (1 when
// unknown).
func templateLine(err error) int {
	msg := err.Error()
	for _, re := range []*regexp.Regexp{templateExecError, templateParseError, ownLine} {
		if m := re.FindStringSubmatch(msg); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
				return n
			}
		}
	}
	return 1
}
