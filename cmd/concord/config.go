package main

// Layer: Commands (ARCHITECTURE.md).

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"

	"github.com/concord-go/concord"
)

// option is one option of the recommended configuration: the Go the
// report prints, and the value the configuration check runs with (prove),
// so that what is printed is what was proven.
type option struct {
	text  string
	value concord.ResourceOption
}

// versioner is the option WithVersioner(v).
func versioner(v concord.Versioner) option {
	return option{"concord.WithVersioner(" + goValue(v) + ")", concord.WithVersioner(v)}
}

// goValue is v, a struct of concord's, as a Go composite literal of its
// fields that are set: concord.BodyVersion{Path: "_rev"}.
func goValue(v any) string {
	rv := reflect.ValueOf(v)
	var fields []string
	for i := range rv.NumField() {
		if f := rv.Field(i); !f.IsZero() {
			fields = append(fields, fmt.Sprintf("%s: %#v", rv.Type().Field(i).Name, f.Interface()))
		}
	}
	return fmt.Sprintf("%T{%s}", v, strings.Join(fields, ", "))
}

// configure writes the recommended configuration: the promises no
// configuration keeps here, the client, the resource with opts and the
// options that address items as the flags did, and a note on creates.
func (p *prober) configure(broken []string, opts []option, note string) {
	var b strings.Builder
	for _, s := range broken {
		b.WriteString("// !! " + s + "\n")
	}
	b.WriteString("c, err := concord.New(base)\n")
	b.WriteString("r := concord.NewResource[T](c, path")
	if r, ok := p.routesOption(); ok {
		opts = append(opts, r)
	}
	for _, o := range opts {
		b.WriteString(",\n\t" + o.text)
	}
	b.WriteString(")")
	if note != "" {
		b.WriteString("\n" + note)
	}
	p.rep.Config = b.String()
}

// routesOption is WithRoutes for the flags' templates, false when items
// are at the collection URL + /{id}. A template is a link resolved against
// the collection URL (see target); a route is a path joined to the base
// URL, with the ID escaped as the probe escapes it.
func (p *prober) routesOption() (option, bool) {
	r := p.cfg.routes
	if p.cfg.item == "" && r.read == "" && r.write == "" && r.method == "" {
		return option{}, false
	}
	var routes concord.Routes
	var fields []string
	for _, t := range []struct {
		name, template string
		set            *func(string) string
	}{{"Item", p.cfg.item, &routes.Item}, {"Read", r.read, &routes.Read}, {"Write", r.write, &routes.Write}} {
		if t.template == "" {
			continue
		}
		before, after := p.routeParts(t.template)
		*t.set = func(id string) string { return before + url.PathEscape(id) + after }
		fields = append(fields, fmt.Sprintf("%s: func(id string) string { return %q + url.PathEscape(id) + %q }", t.name, before, after))
	}
	if r.method != "" {
		routes.WriteMethod = r.method
		fields = append(fields, fmt.Sprintf("WriteMethod: %q", r.method))
	}
	return option{"concord.WithRoutes(concord.Routes{\n\t\t" + strings.Join(fields, ",\n\t\t") + ",\n\t})", concord.WithRoutes(routes)}, true
}

// routeParts splits a template, resolved against the collection URL, into
// the path before the ID and what follows it, relative to the base URL.
func (p *prober) routeParts(template string) (before, after string) {
	const mark = "CONCORDPROBEID"
	abs := p.resolve(template, mark)
	if u, err := url.Parse(abs); err == nil {
		abs = strings.TrimPrefix(strings.TrimPrefix(abs, u.Scheme+"://"+u.Host), "/")
	}
	before, after, _ = strings.Cut(abs, mark)
	return before, after
}
