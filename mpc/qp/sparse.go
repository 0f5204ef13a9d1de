package qp

import (
	"container/heap"
	"fmt"
	"math"
	"sort"
)

// CSC is a sparse matrix in compressed sparse column form: the entries of
// column j are Val[ColPtr[j]:ColPtr[j+1]] in rows RowIdx[ColPtr[j]:ColPtr[j+1]],
// row indices strictly increasing within a column.
type CSC struct {
	Rows, Cols int
	ColPtr     []int
	RowIdx     []int
	Val        []float64
}

// NNZ is the number of stored entries.
func (c *CSC) NNZ() int { return c.ColPtr[c.Cols] }

func (c *CSC) validate(name string, rows, cols int) error {
	if c.Rows != rows || c.Cols != cols {
		return fmt.Errorf("qp: %s is %d×%d, want %d×%d", name, c.Rows, c.Cols, rows, cols)
	}
	if len(c.ColPtr) != cols+1 || c.ColPtr[0] != 0 {
		return fmt.Errorf("qp: %s.ColPtr has length %d (want %d) or does not start at 0", name, len(c.ColPtr), cols+1)
	}
	nnz := c.ColPtr[cols]
	if len(c.RowIdx) != nnz || len(c.Val) != nnz {
		return fmt.Errorf("qp: %s has %d row indices and %d values, want %d", name, len(c.RowIdx), len(c.Val), nnz)
	}
	for j := range cols {
		if c.ColPtr[j+1] < c.ColPtr[j] {
			return fmt.Errorf("qp: %s.ColPtr decreases at column %d", name, j)
		}
		prev := -1
		for k := c.ColPtr[j]; k < c.ColPtr[j+1]; k++ {
			i := c.RowIdx[k]
			if i <= prev || i >= rows {
				return fmt.Errorf("qp: %s column %d: row index %d out of order or range", name, j, i)
			}
			prev = i
			if math.IsNaN(c.Val[k]) || math.IsInf(c.Val[k], 0) {
				return fmt.Errorf("qp: %s[%d][%d] = %v, want finite", name, i, j, c.Val[k])
			}
		}
	}
	return nil
}

// cscFromDense returns the nonzeros of the rows×cols row-major d (nil: zero).
func cscFromDense(d []float64, rows, cols int) *CSC {
	c := &CSC{Rows: rows, Cols: cols, ColPtr: make([]int, cols+1)}
	if d == nil {
		return c
	}
	for j := range cols {
		for i := range rows {
			if v := d[i*cols+j]; v != 0 {
				c.RowIdx = append(c.RowIdx, i)
				c.Val = append(c.Val, v)
			}
		}
		c.ColPtr[j+1] = len(c.RowIdx)
	}
	return c
}

// cscFromTriplets sums duplicate (row, col, val) entries.
func cscFromTriplets(rows, cols int, ri, ci []int, v []float64) *CSC {
	count := make([]int, cols+1)
	for _, j := range ci {
		count[j+1]++
	}
	for j := range cols {
		count[j+1] += count[j]
	}
	idx := make([]int, len(v))
	next := append([]int(nil), count[:cols]...)
	for k, j := range ci {
		idx[next[j]] = k
		next[j]++
	}
	c := &CSC{Rows: rows, Cols: cols, ColPtr: make([]int, cols+1)}
	for j := range cols {
		ks := idx[count[j]:count[j+1]]
		sort.Slice(ks, func(a, b int) bool { return ri[ks[a]] < ri[ks[b]] })
		for _, k := range ks {
			if n := len(c.RowIdx); n > c.ColPtr[j] && c.RowIdx[n-1] == ri[k] {
				c.Val[n-1] += v[k]
				continue
			}
			c.RowIdx = append(c.RowIdx, ri[k])
			c.Val = append(c.Val, v[k])
		}
		c.ColPtr[j+1] = len(c.RowIdx)
	}
	return c
}

// toDense writes c into the row-major dst (rows×cols), which it clears first.
func (c *CSC) toDense(dst []float64) {
	clear(dst)
	for j := range c.Cols {
		for k := c.ColPtr[j]; k < c.ColPtr[j+1]; k++ {
			dst[c.RowIdx[k]*c.Cols+j] = c.Val[k]
		}
	}
}

func (c *CSC) clone() *CSC {
	return &CSC{Rows: c.Rows, Cols: c.Cols, ColPtr: append([]int(nil), c.ColPtr...),
		RowIdx: append([]int(nil), c.RowIdx...), Val: append([]float64(nil), c.Val...)}
}

// transpose returns cᵀ.
func (c *CSC) transpose() *CSC {
	t := &CSC{Rows: c.Cols, Cols: c.Rows, ColPtr: make([]int, c.Rows+1),
		RowIdx: make([]int, c.NNZ()), Val: make([]float64, c.NNZ())}
	for _, i := range c.RowIdx {
		t.ColPtr[i+1]++
	}
	for i := range c.Rows {
		t.ColPtr[i+1] += t.ColPtr[i]
	}
	next := append([]int(nil), t.ColPtr[:c.Rows]...)
	for j := range c.Cols {
		for k := c.ColPtr[j]; k < c.ColPtr[j+1]; k++ {
			i := c.RowIdx[k]
			t.RowIdx[next[i]] = j
			t.Val[next[i]] = c.Val[k]
			next[i]++
		}
	}
	return t
}

// mulAdd: dst += c·x.
func (c *CSC) mulAdd(x, dst []float64) {
	for j := range c.Cols {
		xj := x[j]
		if xj == 0 {
			continue
		}
		for k := c.ColPtr[j]; k < c.ColPtr[j+1]; k++ {
			dst[c.RowIdx[k]] += c.Val[k] * xj
		}
	}
}

// tMul: dst = beta·dst + cᵀ·y.
func (c *CSC) tMul(y []float64, beta float64, dst []float64) {
	for j := range c.Cols {
		t := 0.0
		for k := c.ColPtr[j]; k < c.ColPtr[j+1]; k++ {
			t += c.Val[k] * y[c.RowIdx[k]]
		}
		if beta == 0 {
			dst[j] = t
		} else {
			dst[j] = beta*dst[j] + t
		}
	}
}

// ldl is a sparse LDLᵀ factorisation of a symmetric quasi-definite matrix
// K (n×n) under a fill-reducing permutation: P·K·Pᵀ = L·D·Lᵀ. The symbolic
// part (ordering, elimination tree, column counts, the map from K's upper
// triangle to the permuted one) is computed once; factor refills the values
// and refactors without allocating.
type ldl struct {
	n           int
	perm, iperm []int // perm[new] = old
	// Permuted upper triangle of K (columns of PKPᵀ, rows ≤ column).
	cp, ri  []int
	cv      []float64
	parent  []int
	lp      []int // column pointers of L (strictly lower, by column)
	li      []int
	lx      []float64
	d, dinv []float64
	// work
	y       []float64
	flag    []int
	pattern []int
	lnz     []int
	x       []float64
}

// newLDL analyses the pattern of the symmetric n×n matrix whose upper
// triangle (diagonal included, every diagonal entry present) is given by
// columns (colPtr, rowIdx). src[k] then tells where entry k of that upper
// triangle sits in the permuted storage: factor takes values in the same
// order as rowIdx.
func newLDL(n int, colPtr, rowIdx []int) (*ldl, []int) {
	f := &ldl{n: n}
	f.perm = minDegreeOrder(n, colPtr, rowIdx)
	f.iperm = make([]int, n)
	for k, o := range f.perm {
		f.iperm[o] = k
	}
	// Permute: entry (i, j), i ≤ j, goes to (min, max) of (iperm[i], iperm[j]).
	nnz := colPtr[n]
	cnt := make([]int, n+1)
	for j := range n {
		for k := colPtr[j]; k < colPtr[j+1]; k++ {
			a, b := f.iperm[rowIdx[k]], f.iperm[j]
			cnt[max(a, b)+1]++
		}
	}
	for j := range n {
		cnt[j+1] += cnt[j]
	}
	f.cp = cnt
	f.ri = make([]int, nnz)
	f.cv = make([]float64, nnz)
	src := make([]int, nnz)
	next := append([]int(nil), cnt[:n]...)
	for j := range n {
		for k := colPtr[j]; k < colPtr[j+1]; k++ {
			a, b := f.iperm[rowIdx[k]], f.iperm[j]
			c := max(a, b)
			f.ri[next[c]] = min(a, b)
			src[k] = next[c]
			next[c]++
		}
	}
	// Elimination tree and column counts (Davis, LDL).
	f.parent = make([]int, n)
	f.flag = make([]int, n)
	f.lnz = make([]int, n)
	for k := range n {
		f.parent[k] = -1
		f.flag[k] = k
		for p := f.cp[k]; p < f.cp[k+1]; p++ {
			for i := f.ri[p]; i < k && f.flag[i] != k; i = f.parent[i] {
				if f.parent[i] == -1 {
					f.parent[i] = k
				}
				f.lnz[i]++
				f.flag[i] = k
			}
		}
	}
	f.lp = make([]int, n+1)
	for k := range n {
		f.lp[k+1] = f.lp[k] + f.lnz[k]
	}
	f.li = make([]int, f.lp[n])
	f.lx = make([]float64, f.lp[n])
	f.d = make([]float64, n)
	f.dinv = make([]float64, n)
	f.y = make([]float64, n)
	f.pattern = make([]int, n)
	f.x = make([]float64, n)
	return f, src
}

// factor computes L and D from the values in f.cv. It fails on a zero or
// non-finite pivot, or when the sign of a pivot differs from want (want[k]
// > 0: positive pivot expected for original index k, < 0 negative, 0 any),
// which is how a quasi-definite matrix reports that its (1,1) block is not
// positive definite.
func (f *ldl) factor(want []int8) bool {
	n := f.n
	for k := range n {
		f.y[k] = 0
		top := n
		f.flag[k] = k
		f.lnz[k] = 0
		for p := f.cp[k]; p < f.cp[k+1]; p++ {
			i := f.ri[p]
			f.y[i] += f.cv[p]
			ln := 0
			for ; f.flag[i] != k; i = f.parent[i] {
				f.pattern[ln] = i
				ln++
				f.flag[i] = k
			}
			for ln > 0 {
				top--
				ln--
				f.pattern[top] = f.pattern[ln]
			}
		}
		dk := f.y[k]
		f.y[k] = 0
		for ; top < n; top++ {
			i := f.pattern[top]
			yi := f.y[i]
			f.y[i] = 0
			p2 := f.lp[i] + f.lnz[i]
			for p := f.lp[i]; p < p2; p++ {
				f.y[f.li[p]] -= f.lx[p] * yi
			}
			lki := yi * f.dinv[i]
			dk -= lki * yi
			f.li[p2] = k
			f.lx[p2] = lki
			f.lnz[i]++
		}
		if dk == 0 || math.IsNaN(dk) || math.IsInf(dk, 0) {
			return false
		}
		if w := want[f.perm[k]]; (w > 0 && dk < 0) || (w < 0 && dk > 0) {
			return false
		}
		f.d[k] = dk
		f.dinv[k] = 1 / dk
	}
	return true
}

// solve overwrites b (original order) with K⁻¹b.
func (f *ldl) solve(b []float64) {
	x := f.x
	for k, o := range f.perm {
		x[k] = b[o]
	}
	for j := range f.n {
		xj := x[j]
		if xj == 0 {
			continue
		}
		for p := f.lp[j]; p < f.lp[j+1]; p++ {
			x[f.li[p]] -= f.lx[p] * xj
		}
	}
	for j := range f.n {
		x[j] *= f.dinv[j]
	}
	for j := f.n - 1; j >= 0; j-- {
		t := x[j]
		for p := f.lp[j]; p < f.lp[j+1]; p++ {
			t -= f.lx[p] * x[f.li[p]]
		}
		x[j] = t
	}
	for k, o := range f.perm {
		b[o] = x[k]
	}
}

// minDegreeOrder orders the symmetric pattern (upper triangle by columns) by
// minimum degree on the explicit elimination graph: eliminate a vertex of
// least current degree, join its neighbours into a clique, repeat (ties to
// the lower index, so the order is deterministic). Vertices of degree above
// 10·√n are ordered last, AMD's treatment of dense rows (a dense column of A
// would otherwise make every clique dense).
func minDegreeOrder(n int, colPtr, rowIdx []int) []int {
	adj := make([][]int32, n)
	for j := range n {
		for k := colPtr[j]; k < colPtr[j+1]; k++ {
			i := rowIdx[k]
			if i != j {
				adj[i] = append(adj[i], int32(j))
				adj[j] = append(adj[j], int32(i))
			}
		}
	}
	dense := int(10 * math.Sqrt(float64(n)))
	dense = max(dense, 16)
	alive := make([]bool, n)
	isDense := make([]bool, n)
	for v := range n {
		alive[v] = true
		if len(adj[v]) > dense {
			isDense[v] = true
		}
	}
	// Dense vertices leave the graph at once (ordered last).
	for v := range n {
		if isDense[v] {
			alive[v] = false
		}
	}
	mark := make([]int, n)
	for i := range mark {
		mark[i] = -1
	}
	deg := make([]int, n)
	h := &degHeap{}
	for v := range n {
		if !alive[v] {
			continue
		}
		adj[v] = compact(adj[v], alive, mark, v)
		deg[v] = len(adj[v])
		heap.Push(h, degItem{deg[v], int32(v)})
	}
	order := make([]int, 0, n)
	stamp := n
	for h.Len() > 0 {
		it := heap.Pop(h).(degItem)
		v := int(it.v)
		if !alive[v] || it.d != deg[v] {
			continue
		}
		alive[v] = false
		order = append(order, v)
		nv := adj[v]
		for _, u32 := range nv {
			u := int(u32)
			if !alive[u] {
				continue
			}
			stamp++
			// adj(u) ∪ N(v) without u, v and dead vertices.
			merged := adj[u][:0:0]
			for _, w := range adj[u] {
				if alive[w] && mark[w] != stamp {
					mark[w] = stamp
					merged = append(merged, w)
				}
			}
			for _, w := range nv {
				if int(w) != u && alive[w] && mark[w] != stamp {
					mark[w] = stamp
					merged = append(merged, w)
				}
			}
			adj[u] = merged
			if len(merged) != deg[u] {
				deg[u] = len(merged)
				heap.Push(h, degItem{deg[u], u32})
			}
		}
		adj[v] = nil
	}
	for v := range n {
		if isDense[v] {
			order = append(order, v)
		}
	}
	return order
}

// compact drops dead vertices, v itself and duplicates from a.
func compact(a []int32, alive []bool, mark []int, v int) []int32 {
	out := a[:0]
	for _, w := range a {
		if int(w) != v && alive[w] && mark[w] != -2-v {
			mark[w] = -2 - v
			out = append(out, w)
		}
	}
	return out
}

type degItem struct {
	d int
	v int32
}

type degHeap []degItem

func (h degHeap) Len() int { return len(h) }
func (h degHeap) Less(i, j int) bool {
	if h[i].d != h[j].d {
		return h[i].d < h[j].d
	}
	return h[i].v < h[j].v
}
func (h degHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *degHeap) Push(x any)   { *h = append(*h, x.(degItem)) }
func (h *degHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
