package main

import (
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
