package ui

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// parseDir parses the non-test Go files of a repository directory (relative
// to the repository's root).
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join("..", dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// errorCodes reads error.go's table: its string constants named E...
func errorCodes(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../error.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING && strings.HasPrefix(n.Name, "E") {
					code, _ := strconv.Unquote(lit.Value)
					codes = append(codes, code)
				}
			}
		}
	}
	if len(codes) < 20 {
		t.Fatalf("read %d error codes from error.go; has its table moved?", len(codes))
	}
	return codes
}

// Every code in error.go's table has a message in every language, and the
// catalogues have no message for a code that no longer exists (the
// client's own codes aside: client.js's, and error.http for an answer
// without the API's error shape).
func TestEveryErrorCodeHasAMessage(t *testing.T) {
	codes := errorCodes(t)
	for _, m := range regexp.MustCompile(`this\.code = '([a-z_]+)'`).FindAllStringSubmatch(read(t, "js/client.js"), -1) {
		codes = append(codes, m[1])
	}
	codes = append(codes, "http")
	for _, lang := range languages {
		cat := catalogue(t, lang)
		for _, code := range codes {
			if _, ok := cat["error."+code]; !ok {
				t.Errorf("%s has no message for error code %q (error.%s)", lang, code, code)
			}
		}
		for k := range cat {
			if code, ok := strings.CutPrefix(k, "error."); ok && !slices.Contains(codes, code) {
				t.Errorf("%s has %q, but neither error.go nor client.js has the code %q", lang, k, code)
			}
		}
	}
}

// reasonFuncs are the functions (not methods) whose string result is a
// field's reason.
var reasonFuncs = regexp.MustCompile(`^(Validate|valid|check|Guessable)`)

// fieldReasons finds the per-field reasons the server sends (the "fields"
// of an invalid error) in the packages that validate input: the second
// argument of ValidationErrors.Add, the values of a Fields map, and what
// the validating functions return. Each comes back as its catalogue key:
// the words with every number as "n", as i18n.js's reasonText makes it
// from the text it receives. A reason with a word filled in at run time
// (%s) cannot have a fixed message and is left out.
func fieldReasons(t *testing.T) map[string]string {
	t.Helper()
	found := map[string]string{}
	add := func(e ast.Expr) {
		if text, ok := reasonText(e); ok && text != "" && text[0] >= 'a' && text[0] <= 'z' {
			found[reasonKey(text)] = text
		}
	}
	for _, dir := range []string{".", "api", "store", "internal/password"} {
		for _, f := range parseDir(t, dir) {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Add" && len(n.Args) == 2 {
						add(n.Args[1])
					}
				case *ast.KeyValueExpr:
					if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Fields" {
						if m, ok := n.Value.(*ast.CompositeLit); ok {
							for _, el := range m.Elts {
								if kv, ok := el.(*ast.KeyValueExpr); ok {
									add(kv.Value)
								}
							}
						}
					}
				case *ast.FuncDecl:
					if n.Recv == nil && reasonFuncs.MatchString(n.Name.Name) && n.Type.Results != nil && len(n.Type.Results.List) == 1 && n.Body != nil {
						if id, ok := n.Type.Results.List[0].Type.(*ast.Ident); ok && id.Name == "string" {
							ast.Inspect(n.Body, func(m ast.Node) bool {
								if r, ok := m.(*ast.ReturnStmt); ok && len(r.Results) == 1 {
									add(r.Results[0])
								}
								_, lit := m.(*ast.FuncLit)
								return !lit
							})
						}
					}
				}
				return true
			})
		}
	}
	if len(found) < 20 {
		t.Fatalf("found %d field reasons in the server's code; has validation moved?", len(found))
	}
	return found
}

// reasonText reads a reason from a string literal, a fmt.Sprintf with %d,
// or a concatenation with strconv.Itoa, writing each number as "0".
func reasonText(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.CallExpr:
		sel, ok := e.Fun.(*ast.SelectorExpr)
		if !ok || len(e.Args) == 0 {
			return "", false
		}
		if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "strconv" && sel.Sel.Name == "Itoa" {
			return "0", true
		}
		if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "fmt" || sel.Sel.Name != "Sprintf" {
			return "", false
		}
		format, ok := reasonText(e.Args[0])
		if !ok || strings.ContainsAny(strings.ReplaceAll(format, "%d", ""), "%") {
			return "", false
		}
		return strings.ReplaceAll(format, "%d", "0"), true
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		x, ok1 := reasonText(e.X)
		y, ok2 := reasonText(e.Y)
		return x + y, ok1 && ok2
	}
	return "", false
}

var (
	number  = regexp.MustCompile(`[0-9]+`)
	nonWord = regexp.MustCompile(`[^a-z0-9]+`)
)

// reasonKey is i18n.js's reasonKey: "reason." and the words of the text,
// lower case, joined by "_", every number written as "n".
func reasonKey(text string) string {
	s := number.ReplaceAllString(text, "n")
	return "reason." + strings.Trim(nonWord.ReplaceAllString(strings.ToLower(s), "_"), "_")
}

// Every field reason the server can send has a message in every
// language, with as many numbers as the reason has.
func TestEveryFieldReasonHasAMessage(t *testing.T) {
	reasons := fieldReasons(t)
	placeholder := regexp.MustCompile(`\{[0-9]\}`)
	for _, lang := range languages {
		cat := catalogue(t, lang)
		for _, key := range slices.Sorted(maps.Keys(reasons)) {
			msg, ok := cat[key]
			if !ok {
				t.Errorf("%s has no message for the field reason %q (%s)", lang, reasons[key], key)
				continue
			}
			if got, want := len(placeholder.FindAllString(msg, -1)), len(number.FindAllString(reasons[key], -1)); got != want {
				t.Errorf("%s's %s has %d of the reason's %d numbers", lang, key, got, want)
			}
		}
	}
}
