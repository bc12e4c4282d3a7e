package web

import (
	"slices"

	"github.com/ganpin/ganpin/trace"
)

// graphSVG is a lot graph laid out in columns by distance from the root lot:
// sources to the left, lots made from it to the right. Drawn as inline SVG with
// presentation attributes, so the pages stay script- and inline-style-free.
type graphSVG struct {
	W, H  int
	Nodes []graphNode
	Lines []graphLine
}

type graphNode struct {
	X, Y, ID int64
	Code     string
	Root     bool
	Marked   bool
}

type graphLine struct{ X1, Y1, X2, Y2 int64 }

const (
	nodeW, nodeH = 132, 30
	colW, rowH   = 168, 42
)

func layoutGraph(g *trace.Graph, marked map[int64]bool) *graphSVG {
	depth := map[int64]int{g.Root: 0}
	for changed := true; changed; {
		changed = false
		for _, e := range g.Edges {
			if d, ok := depth[e.Parent]; ok {
				if _, seen := depth[e.Child]; !seen {
					depth[e.Child], changed = d+1, true
				}
			}
			if d, ok := depth[e.Child]; ok {
				if _, seen := depth[e.Parent]; !seen {
					depth[e.Parent], changed = d-1, true
				}
			}
		}
	}
	lo, hi := 0, 0
	for _, d := range depth {
		lo, hi = min(lo, d), max(hi, d)
	}
	out := &graphSVG{}
	pos := map[int64][2]int64{}
	rowsIn := map[int]int{}
	lots := slices.Clone(g.Lots)
	slices.SortFunc(lots, func(a, b trace.Lot) int { return int(a.ID - b.ID) })
	for _, l := range lots {
		d, ok := depth[l.ID]
		if !ok {
			continue
		}
		x, y := int64((d-lo)*colW+8), int64(rowsIn[d]*rowH+8)
		rowsIn[d]++
		pos[l.ID] = [2]int64{x, y}
		out.Nodes = append(out.Nodes, graphNode{X: x, Y: y, ID: l.ID, Code: l.Code, Root: l.ID == g.Root, Marked: marked[l.ID]})
	}
	for _, e := range g.Edges {
		p, ok1 := pos[e.Parent]
		c, ok2 := pos[e.Child]
		if ok1 && ok2 {
			out.Lines = append(out.Lines, graphLine{p[0] + nodeW, p[1] + nodeH/2, c[0], c[1] + nodeH/2})
		}
	}
	rows := 1
	for _, n := range rowsIn {
		rows = max(rows, n)
	}
	out.W, out.H = (hi-lo)*colW+nodeW+16, rows*rowH+8
	return out
}
