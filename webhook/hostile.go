package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"text/template/parse"
)

// injectedKey is the key the hostile sample values try to add to a body.
const injectedKey = "cb_injected"

// hostileValues are what a caller may put in metadata (the browser sends
// it) or a trunk in its Reason header: each breaks out of, or corrupts, a
// JSON document when a template interpolates it without {{json …}}.
var hostileValues = []string{
	`x", "` + injectedKey + `": "x`,
	`0, "` + injectedKey + `": 0`,
	`x"}, "` + injectedKey + `": {"x": "`,
	"line\nbreak \\ back \"quote\" \a bell </script> \u2028",
}

// checkHostile renders the template with every hostile value in every
// metadata key the template names and in the hangup reason. With a JSON
// content type, each output that renders must be valid JSON and must not
// have gained a key: else the template interpolates outside data
// unescaped. Values the template cannot render at all (it does arithmetic
// on them, say) are skipped: at delivery such a failure falls back to the
// standard body.
func (r *Renderer) checkHostile() error {
	if r.tmpl == nil || !isJSON(r.contentType) {
		return nil
	}
	names := templateNames(r.tmpl.Tree.Root)
	for _, v := range hostileValues {
		ev := SampleEvents()[1]
		meta := map[string]any{}
		for _, n := range names {
			meta[n] = v
		}
		ev.Call.Metadata = meta
		h := *ev.Call.Hangup
		h.Reason = v
		ev.Call.Hangup = &h
		var out bytes.Buffer
		if r.tmpl.Execute(&out, ev) != nil {
			continue
		}
		var doc any
		if json.Unmarshal(out.Bytes(), &doc) != nil {
			return fmt.Errorf("%w: with metadata or a hangup reason of %q the body is not valid JSON; write values as {{json .Call.Metadata.key}}, never inside quotes", ErrTemplate, v)
		}
		if hasKey(doc, injectedKey) {
			return fmt.Errorf("%w: metadata of %q adds a key to the body (injection); write values as {{json .Call.Metadata.key}}, never inside quotes", ErrTemplate, v)
		}
	}
	return nil
}

// templateNames are the identifiers and string constants of a template:
// the metadata keys it may read (.Call.Metadata.key, index … "key").
func templateNames(root parse.Node) []string {
	seen := map[string]bool{}
	var walk func(parse.Node)
	add := func(ss ...string) {
		for _, s := range ss {
			seen[s] = true
		}
	}
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			add(n.Ident...)
		case *parse.ChainNode:
			walk(n.Node)
			add(n.Field...)
		case *parse.VariableNode:
			add(n.Ident...)
		case *parse.StringNode:
			add(n.Text)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		}
	}
	walk(root)
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	return out
}

// hasKey reports whether any object in doc has key k.
func hasKey(doc any, k string) bool {
	switch d := doc.(type) {
	case map[string]any:
		for key, v := range d {
			if key == k || hasKey(v, k) {
				return true
			}
		}
	case []any:
		for _, v := range d {
			if hasKey(v, k) {
				return true
			}
		}
	}
	return false
}
