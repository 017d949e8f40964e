package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestREADMEQuickStart keeps the README's quick start true: it must be the
// code between the quickstart markers of main.go, which compiles with the
// module.
func TestREADMEQuickStart(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(src), "// quickstart:begin\n")
	if !ok {
		t.Fatal("main.go has no quickstart:begin marker")
	}
	snippet, _, ok := strings.Cut(rest, "// quickstart:end\n")
	if !ok {
		t.Fatal("main.go has no quickstart:end marker")
	}
	snippet = strings.TrimSpace(snippet)
	if !strings.Contains(string(readme), "```go\n"+snippet+"\n```") {
		t.Error("README.md's quick start differs from examples/quickstart/main.go; copy it again:\n" + snippet)
	}
}

// TestSetupIsShort holds the quick start's promise: the whole set-up is one
// call with one error to check, in 20 lines or fewer.
func TestSetupIsShort(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "main.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "setup" {
			continue
		}
		lines := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
		if lines > 20 {
			t.Errorf("setup is %d lines; the quick start promises 20 or fewer", lines)
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if _, ok := n.(*ast.IfStmt); ok {
				t.Errorf("setup checks an error at %s: the set-up is one call with one error, checked by its caller", fset.Position(n.Pos()))
			}
			return true
		})
		return
	}
	t.Fatal("main.go has no func setup")
}
