package pptx

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"github.com/classboard/classboard"
)

// XML limits. encoding/xml expands no external entities and knows only
// the five predefined ones, but a DOCTYPE has no place in an Office part
// and is refused outright; depth and element count bound the tree built.
const (
	maxDepth    = 64
	maxElements = 100_000
)

// node is an element of a part: its local name (namespaces do not matter
// for the few elements read here), attributes by local name, children and
// the character data directly inside it.
type node struct {
	name     string
	attrs    []xml.Attr
	children []*node
	text     strings.Builder
}

// attr returns the attribute with a local name, or "" (also on a nil
// node: a missing element has no attributes).
func (n *node) attr(local string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// relID returns a relationship id attribute (r:id, r:embed): one with a
// namespace prefix, since an element may also carry a plain "id".
func (n *node) relID(local string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.attrs {
		if a.Name.Local == local && a.Name.Space != "" {
			return a.Value
		}
	}
	return ""
}

// child returns the first child with a local name, or nil.
func (n *node) child(local string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.name == local {
			return c
		}
	}
	return nil
}

// kids returns the children, none for a nil node.
func (n *node) kids() []*node {
	if n == nil {
		return nil
	}
	return n.children
}

// path follows children by local names; nil when one is missing.
func (n *node) path(locals ...string) *node {
	for _, l := range locals {
		n = n.child(l)
	}
	return n
}

// all returns every descendant with a local name, in document order.
func (n *node) all(local string) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		for _, c := range m.children {
			if c.name == local {
				out = append(out, c)
			}
			walk(c)
		}
	}
	if n != nil {
		walk(n)
	}
	return out
}

// parseXML reads one part into a tree. Returns EINVALIDFILE for a DOCTYPE,
// nesting deeper than maxDepth, more than maxElements elements or
// malformed XML.
func parseXML(name string, data []byte) (*node, error) {
	bad := func(why string) error {
		return classboard.Errorf(classboard.EINVALIDFILE, "The part %q of the file %s.", name, why)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	root := &node{}
	stack := []*node{root}
	elements := 0
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bad("is not well-formed XML")
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, bad("declares a DOCTYPE, which Office files never do")
		case xml.StartElement:
			if len(stack) > maxDepth {
				return nil, bad("is nested too deeply")
			}
			if elements++; elements > maxElements {
				return nil, bad("has too many elements")
			}
			n := &node{name: t.Name.Local, attrs: t.Attr}
			top := stack[len(stack)-1]
			top.children = append(top.children, n)
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 1 || stack[len(stack)-1].name != t.Name.Local {
				return nil, bad("is not well-formed XML")
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 1 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if len(stack) != 1 || len(root.children) != 1 {
		return nil, bad("is not well-formed XML")
	}
	return root.children[0], nil
}
