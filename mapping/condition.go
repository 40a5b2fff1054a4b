package mapping

import (
	"errors"
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	exprparser "github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// condition is a compiled expr-lang expression that yields a boolean.
type condition struct {
	program *vm.Program
	path    string
	line    int
}

// compileRecordCondition compiles a condition over a record's fields. The
// fields are not declared: a record has whatever fields its object has,
// which CheckFields verifies against describe.
func compileRecordCondition(src string) (*vm.Program, error) {
	return expr.Compile(src, expr.AsBool())
}

// compileAuditCondition compiles a condition over TemplateData.exprEnv,
// whose names are declared, so that a misspelt name fails at load time.
func compileAuditCondition(src string) (*vm.Program, error) {
	return expr.Compile(src, expr.Env(TemplateData{}.exprEnv()), expr.AsBool())
}

// holds runs the condition against env.
func (c *condition) holds(env any) (bool, error) {
	out, err := expr.Run(c.program, env)
	if err != nil {
		return false, fmt.Errorf("condition failed: %s", exprMessage(err))
	}
	ok, _ := out.(bool)
	return ok, nil
}

// exprMessage is an expr error on one line: its message and column,
// without the multi-line snippet.
func exprMessage(err error) string {
	var ferr *file.Error
	if !errors.As(err, &ferr) {
		return err.Error()
	}
	if ferr.Snippet == "" {
		return ferr.Message
	}
	return fmt.Sprintf("%s (column %d)", ferr.Message, ferr.Column+1)
}

// exprLine is the line within the expression of a compile error (1 when
// unknown).
func exprLine(err error) int {
	var ferr *file.Error
	if errors.As(err, &ferr) && ferr.Line > 0 {
		return ferr.Line
	}
	return 1
}

// conditionFields lists the record fields a condition reads: identifiers
// and chains of member accesses by name, such as Origin, Contact.Name and
// Contact["Name"]. Names bound by let are not fields.
func conditionFields(src string) []string {
	tree, err := exprparser.Parse(src)
	if err != nil {
		return nil
	}
	c := &fieldCollector{consumed: map[ast.Node]bool{}, bound: map[string]bool{}}
	ast.Walk(&tree.Node, c)
	var out []string
	for _, f := range c.found {
		if !c.consumed[f.node] && !c.bound[f.name] {
			out = append(out, f.name)
		}
	}
	return out
}

// fieldCollector walks an expression tree, children before parents.
type fieldCollector struct {
	found []struct {
		node ast.Node
		name string
	}
	// consumed holds the nodes that are part of a longer chain.
	consumed map[ast.Node]bool
	bound    map[string]bool
}

func (c *fieldCollector) add(n ast.Node, name string) {
	c.found = append(c.found, struct {
		node ast.Node
		name string
	}{n, name})
}

// Visit implements ast.Visitor.
func (c *fieldCollector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		c.add(n, n.Value)
	case *ast.MemberNode:
		if name, ok := chain(n); ok && !n.Method {
			c.consumed[n.Node] = true
			if inner, ok := n.Node.(*ast.ChainNode); ok {
				c.consumed[inner.Node] = true
			}
			c.add(n, name)
		}
	case *ast.CallNode:
		c.consumed[n.Callee] = true
	case *ast.VariableDeclaratorNode:
		c.bound[n.Name] = true
	}
}

// chain returns the dotted name of a member access whose root is an
// identifier and whose every property is a constant name.
func chain(n *ast.MemberNode) (string, bool) {
	prop, ok := n.Property.(*ast.StringNode)
	if !ok {
		return "", false
	}
	switch inner := n.Node.(type) {
	case *ast.IdentifierNode:
		return inner.Value + "." + prop.Value, true
	case *ast.MemberNode:
		head, ok := chain(inner)
		return head + "." + prop.Value, ok
	case *ast.ChainNode:
		if m, ok := inner.Node.(*ast.MemberNode); ok {
			head, ok := chain(m)
			return head + "." + prop.Value, ok
		}
	}
	return "", false
}
