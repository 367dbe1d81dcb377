package dashboard

import (
	"fmt"
	"html/template"
	"slices"
	"strings"
)

// Topology drawing: a layered left-to-right graph. Sizes are SVG user
// units; the page scales the whole drawing to its width.
const (
	boxW  = 184
	boxH  = 72
	colW  = 228
	rowH  = 86
	inset = 8
)

type placed struct {
	Node
	col, row int
	x, y     int
}

// layout assigns every drawn node a column (the longest path from a
// source, with sources moved next to what they feed) and a row (ordered by
// the rows of their predecessors, which keeps arrows from crossing in the
// common cases).
func layout(t Topology) (nodes []*placed, width, height int) {
	byID := map[string]*placed{}
	for _, n := range t.Nodes {
		if n.CloudOnly {
			continue
		}
		p := &placed{Node: n, col: -1}
		nodes = append(nodes, p)
		byID[n.ID] = p
	}
	preds, succs := map[string][]string{}, map[string][]string{}
	for _, e := range t.Edges {
		if byID[e.From] == nil || byID[e.To] == nil || e.From == e.To {
			continue
		}
		succs[e.From] = append(succs[e.From], e.To)
		preds[e.To] = append(preds[e.To], e.From)
	}
	visiting := map[string]bool{}
	var col func(id string) int
	col = func(id string) int {
		p := byID[id]
		if p.col >= 0 {
			return p.col
		}
		if visiting[id] {
			return 0 // a cycle: break it here
		}
		visiting[id] = true
		c := 0
		for _, q := range preds[id] {
			c = max(c, col(q)+1)
		}
		visiting[id] = false
		p.col = c
		return c
	}
	for _, p := range nodes {
		col(p.ID)
	}
	for _, p := range nodes {
		if len(preds[p.ID]) == 0 && len(succs[p.ID]) > 0 {
			c := -1
			for _, s := range succs[p.ID] {
				if c < 0 || byID[s].col-1 < c {
					c = byID[s].col - 1
				}
			}
			p.col = max(p.col, c)
		}
	}
	cols := 0
	for _, p := range nodes {
		cols = max(cols, p.col+1)
	}
	columns := make([][]*placed, cols)
	for _, p := range nodes {
		columns[p.col] = append(columns[p.col], p)
	}
	rows := 0
	for c, column := range columns {
		if c > 0 {
			// Barycentre of the predecessors' rows; stable for ties.
			bary := func(p *placed) float64 {
				sum, n := 0.0, 0
				for _, q := range preds[p.ID] {
					if byID[q].col < c {
						sum += float64(byID[q].row)
						n++
					}
				}
				if n == 0 {
					return 1e9
				}
				return sum / float64(n)
			}
			slices.SortStableFunc(column, func(a, b *placed) int {
				switch ba, bb := bary(a), bary(b); {
				case ba < bb:
					return -1
				case ba > bb:
					return 1
				}
				return 0
			})
		}
		for r, p := range column {
			p.row = r
		}
		rows = max(rows, len(column))
	}
	for _, column := range columns {
		// Centre each column vertically.
		off := (rows - len(column)) * rowH / 2
		for _, p := range column {
			p.x = inset + p.col*colW
			p.y = inset + off + p.row*rowH
		}
	}
	return nodes, inset*2 + max(cols-1, 0)*colW + boxW, inset*2 + max(rows-1, 0)*rowH + boxH
}

// renderTopology draws the topology as inline SVG. Live values go into the
// elements with id v-<node id>; the node groups get a health class.
func renderTopology(t Topology) template.HTML {
	nodes, w, h := layout(t)
	byID := map[string]*placed{}
	for _, p := range nodes {
		byID[p.ID] = p
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="topo" viewBox="0 0 %d %d" role="img" aria-label="topology of %s">`, w, h, esc(t.Title))
	b.WriteString(`<defs><marker id="ah" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L8,4L0,8z"/></marker></defs>`)
	for _, e := range t.Edges {
		from, to := byID[e.From], byID[e.To]
		if from == nil || to == nil {
			continue
		}
		x1, y1 := from.x+boxW, from.y+boxH/2
		x2, y2 := to.x, to.y+boxH/2
		if to.col <= from.col {
			// Same or earlier column: leave from the bottom.
			x1, y1 = from.x+boxW/2, from.y+boxH
		}
		mid := (x1 + x2) / 2
		cls := "edge"
		if e.Failure {
			cls += " fail"
		}
		// Labels are tooltips: between columns there is no room for text.
		fmt.Fprintf(&b, `<path class="%s" d="M%d,%d C%d,%d %d,%d %d,%d" marker-end="url(#ah)"><title>%s → %s%s</title></path>`,
			cls, x1, y1, mid, y1, mid, y2, x2-1, y2, esc(from.Label), esc(to.Label), esc(edgeLabel(e.Label)))
	}
	for _, p := range nodes {
		cls := "node k-" + p.Kind
		if p.Failure {
			cls += " failure"
		}
		fmt.Fprintf(&b, `<g class="%s" id="n-%s" data-id="%s" transform="translate(%d,%d)">`, esc(cls), esc(p.ID), esc(p.ID), p.x, p.y)
		// The full label leads the tooltip: the box may have to clip it.
		title := p.Label + "\n" + p.Type
		if p.Name != "" && p.Name != p.Label {
			title += " " + p.Name
		}
		if p.Help != "" {
			title += "\n" + p.Help
		}
		fmt.Fprintf(&b, `<title>%s</title><rect width="%d" height="%d" rx="6"/>`, esc(title), boxW, boxH)
		fmt.Fprintf(&b, `<text class="l" x="8" y="17"%s>%s</text>`, fit(p.Label, 22), esc(clip(p.Label, 30)))
		// Type and detail on two lines, each fitted to the box, so neither
		// is cut ("Events Rule" / "rate(10 minutes) (held: …)").
		fmt.Fprintf(&b, `<text class="s" x="8" y="32"%s>%s</text>`, fit(shortType(p.Type), 28), esc(clip(shortType(p.Type), 40)))
		if p.Detail != "" {
			fmt.Fprintf(&b, `<text class="s" x="8" y="46"%s>%s</text>`, fit(p.Detail, 28), esc(clip(p.Detail, 44)))
		}
		fmt.Fprintf(&b, `<text class="v" id="v-%s" x="8" y="63">%s</text></g>`, esc(p.ID), esc(initialValue(p.Node)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func edgeLabel(l string) string {
	if l == "" {
		return ""
	}
	return " (" + l + ")"
}

func initialValue(n Node) string {
	if n.Unit == "" {
		return ""
	}
	return "– " + n.Unit
}

// shortType turns "AWS::Kinesis::Stream" into "Kinesis Stream".
func shortType(t string) string {
	if rest, ok := strings.CutPrefix(t, "AWS::"); ok {
		rest = strings.TrimPrefix(rest, "Serverless::")
		return strings.ReplaceAll(rest, "::", " ")
	}
	return t
}

// fit squeezes a text longer than n characters into the box: glyph widths
// of a proportional font are unknown here, so the browser is told the
// length to fit (textLength) instead of trusting a character count.
func fit(s string, n int) string {
	if len([]rune(s)) <= n {
		return ""
	}
	return fmt.Sprintf(` textLength="%d" lengthAdjust="spacingAndGlyphs"`, boxW-16)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func esc(s string) string { return template.HTMLEscapeString(s) }
