package billing

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCodesOnlyInCodesFile fails when a non-test Go file of the module spells an error
// code of codes.go as a string literal instead of naming the constant. It skips what
// only looks like a code:
//   - openapi.gen.go, generated from the contract;
//   - struct tags (a JSON field named like a code);
//   - constants of a named type other than string, another vocabulary that shares a
//     spelling (providers.ClassAuthenticationRequired, KindRateLimited);
//   - constants named Err…, Temporal ApplicationError types recorded in workflow
//     histories, which must not change when a code does;
//   - log attribute keys (the first argument of slog.String and its kin, every other
//     argument after the message of Info, Warn, Error, Debug and their …Context forms,
//     and of With), which may share a code's word, such as "timeout";
//   - under providers/, keys of map literals and values of a Reason field: the
//     provider's own words, which the taxonomy in providers/decline.go translates
//     into codes.
func TestCodesOnlyInCodesFile(t *testing.T) {
	codes := codeValues(t)
	if len(codes) < 50 {
		t.Fatalf("read only %d codes from codes.go", len(codes))
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") ||
			rel == "billing/codes.go" || strings.HasSuffix(rel, "openapi.gen.go") {
			return nil
		}
		checked++
		for _, lit := range codeLiterals(t, path, strings.HasPrefix(rel, "providers/"), codes) {
			t.Errorf("%s:%d: %q spells billing.%s; use the constant", rel, lit.line, lit.value, codes[lit.value])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files; is the module root %s?", checked, root)
	}
}

// codeValues maps each string constant of codes.go to its name.
func codeValues(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "codes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s is not a string literal", name.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				if other, dup := codes[v]; dup {
					t.Errorf("%s and %s are both %q", other, name.Name, v)
				}
				codes[v] = name.Name
			}
		}
	}
	return codes
}

type codeLiteral struct {
	value string
	line  int
}

// codeLiterals returns the string literals in path that equal a code, less the ones
// TestCodesOnlyInCodesFile skips.
func codeLiterals(t *testing.T, path string, provider bool, codes map[string]string) []codeLiteral {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	skip := map[*ast.BasicLit]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Field:
			if n.Tag != nil {
				skip[n.Tag] = true
			}
		case *ast.ValueSpec:
			typed := n.Type != nil && !isIdent(n.Type, "string")
			for i, v := range n.Values {
				if lit, ok := v.(*ast.BasicLit); ok && i < len(n.Names) &&
					(typed || strings.HasPrefix(n.Names[i].Name, "Err")) {
					skip[lit] = true
				}
			}
		case *ast.CallExpr:
			for _, i := range logKeys(n) {
				if lit, ok := n.Args[i].(*ast.BasicLit); ok {
					skip[lit] = true
				}
			}
		case *ast.CompositeLit:
			if !provider {
				return true
			}
			_, isMap := n.Type.(*ast.MapType)
			for _, el := range n.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if lit, ok := kv.Key.(*ast.BasicLit); ok && isMap {
					skip[lit] = true
				}
				if lit, ok := kv.Value.(*ast.BasicLit); ok && (isIdent(kv.Key, "Reason") || isIdent(kv.Key, "reason")) {
					skip[lit] = true
				}
			}
		case *ast.AssignStmt:
			if !provider || len(n.Lhs) != len(n.Rhs) {
				return true
			}
			for i, l := range n.Lhs {
				if sel, ok := l.(*ast.SelectorExpr); ok && sel.Sel.Name == "Reason" {
					if lit, ok := n.Rhs[i].(*ast.BasicLit); ok {
						skip[lit] = true
					}
				}
			}
		}
		return true
	})
	var out []codeLiteral
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING || skip[lit] {
			return true
		}
		v, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		if _, ok := codes[v]; ok {
			out = append(out, codeLiteral{value: v, line: fset.Position(lit.Pos()).Line})
		}
		return true
	})
	return out
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// logKeys returns the indexes of call's arguments that are log attribute keys.
func logKeys(call *ast.CallExpr) []int {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return nil
	}
	first := -1
	switch name := sel.Sel.Name; {
	case isIdent(sel.X, "slog"):
		switch name {
		case "String", "Int", "Int64", "Uint64", "Float64", "Bool", "Time", "Duration", "Any", "Group":
			return []int{0}
		}
	case name == "Debug" || name == "Info" || name == "Warn" || name == "Error":
		first = 1
	case name == "DebugContext" || name == "InfoContext" || name == "WarnContext" || name == "ErrorContext":
		first = 2
	case name == "With":
		first = 0
	}
	var keys []int
	for i := first; first >= 0 && i < len(call.Args); i += 2 {
		keys = append(keys, i)
	}
	return keys
}
