package qp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// Infinity is the conventional bound magnitude for an absent side. Every
// bound with magnitude ≥ Infinity/2 counts as absent: l[i] ≤ -Infinity/2 means
// no lower bound, u[i] ≥ Infinity/2 no upper. (Converted MPS files write
// infinity as 9.99…e19, just under Infinity; as a finite bound it would only
// ruin the conditioning and the duality gap.)
const Infinity = 1e20

// absentBound is the magnitude from which a bound is absent.
const absentBound = Infinity / 2

// Problem is a convex quadratic program
//
//	minimize ½xᵀPx + qᵀx + r  subject to  l ≤ Ax ≤ u
//
// with dense row-major matrices. Equalities are rows with L[i] == U[i].
type Problem struct {
	// Name is informational (the JSON "name" field).
	Name string
	// N is the number of variables, M the number of constraints (M may be 0).
	N, M int
	// P is the N×N symmetric positive semidefinite cost matrix, row-major
	// (both triangles stored). A nil P means P = 0.
	P []float64
	// Q is the linear cost, length N; nil means 0.
	Q []float64
	// R is a constant added to the objective.
	R float64
	// A is the M×N constraint matrix, row-major.
	A []float64
	// L and U are the constraint bounds, length M; |bound| ≥ Infinity/2 is
	// treated as infinite.
	L, U []float64
	// SparseP and SparseA, when set, hold P (both triangles) and A in
	// compressed sparse columns instead of P and A, which must then be nil.
	// ReadJSON fills them for problems too large to store densely at ease.
	SparseP, SparseA *CSC
	// OptimalObjective is an optional reference optimum (with R included),
	// the JSON field "optimal_objective_osqp_benchmarks"; nil when unknown.
	OptimalObjective *float64
}

// symTol is the relative tolerance for P's symmetry: |Pij−Pji| ≤ symTol·max(1,|Pij|,|Pji|).
// JSON round trips of symmetric data are exact; 1e-9 only forgives assembly rounding.
const symTol = 1e-9

// Validate reports the first malformed field: a dimension mismatch, a
// non-finite entry, l > u or an asymmetric P. It does not check convexity
// (New does, through the factorisation).
func (p *Problem) Validate() error {
	if p == nil {
		return errors.New("qp: problem is nil")
	}
	if p.N <= 0 {
		return fmt.Errorf("qp: n = %d, want > 0", p.N)
	}
	if p.M < 0 {
		return fmt.Errorf("qp: m = %d, want ≥ 0", p.M)
	}
	n, m := p.N, p.M
	if p.SparseP != nil || p.SparseA != nil {
		if err := p.validateSparse(); err != nil {
			return err
		}
	} else if p.P != nil && len(p.P) != n*n {
		return fmt.Errorf("qp: P has %d entries, want n·n = %d", len(p.P), n*n)
	}
	if p.Q != nil && len(p.Q) != n {
		return fmt.Errorf("qp: q has length %d, want n = %d", len(p.Q), n)
	}
	if p.SparseA == nil && len(p.A) != m*n {
		return fmt.Errorf("qp: A has %d entries, want m·n = %d", len(p.A), m*n)
	}
	if len(p.L) != m {
		return fmt.Errorf("qp: l has length %d, want m = %d", len(p.L), m)
	}
	if len(p.U) != m {
		return fmt.Errorf("qp: u has length %d, want m = %d", len(p.U), m)
	}
	if err := finite("P", p.P); err != nil {
		return err
	}
	if err := finite("q", p.Q); err != nil {
		return err
	}
	if math.IsNaN(p.R) || math.IsInf(p.R, 0) {
		return fmt.Errorf("qp: r = %v, want finite", p.R)
	}
	if err := finite("A", p.A); err != nil {
		return err
	}
	for i := range m {
		if math.IsNaN(p.L[i]) {
			return fmt.Errorf("qp: l[%d] is NaN", i)
		}
		if math.IsNaN(p.U[i]) {
			return fmt.Errorf("qp: u[%d] is NaN", i)
		}
		if p.L[i] > p.U[i] {
			return fmt.Errorf("qp: l[%d] = %g > u[%d] = %g", i, p.L[i], i, p.U[i])
		}
	}
	if p.P != nil && p.SparseP == nil {
		for i := range n {
			for j := i + 1; j < n; j++ {
				a, b := p.P[i*n+j], p.P[j*n+i]
				if math.Abs(a-b) > symTol*math.Max(1, math.Max(math.Abs(a), math.Abs(b))) {
					return fmt.Errorf("qp: P not symmetric: P[%d][%d] = %g, P[%d][%d] = %g", i, j, a, j, i, b)
				}
			}
		}
	}
	return nil
}

func (p *Problem) validateSparse() error {
	switch {
	case p.SparseP == nil || p.SparseA == nil:
		return errors.New("qp: SparseP and SparseA must be set together")
	case p.P != nil || p.A != nil:
		return errors.New("qp: set either P and A or SparseP and SparseA, not both")
	}
	if err := p.SparseP.validate("P", p.N, p.N); err != nil {
		return err
	}
	if err := p.SparseA.validate("A", p.M, p.N); err != nil {
		return err
	}
	t := p.SparseP.transpose()
	for j := range p.N {
		a, b := p.SparseP.ColPtr[j], t.ColPtr[j]
		if p.SparseP.ColPtr[j+1]-a != t.ColPtr[j+1]-b {
			return fmt.Errorf("qp: P not symmetric: column %d and row %d have different patterns", j, j)
		}
		for k := a; k < p.SparseP.ColPtr[j+1]; k++ {
			i := p.SparseP.RowIdx[k]
			u, v := p.SparseP.Val[k], t.Val[b+k-a]
			if t.RowIdx[b+k-a] != i {
				return fmt.Errorf("qp: P not symmetric: P[%d][%d] has no mirror entry", i, j)
			}
			if math.Abs(u-v) > symTol*math.Max(1, math.Max(math.Abs(u), math.Abs(v))) {
				return fmt.Errorf("qp: P not symmetric: P[%d][%d] = %g, P[%d][%d] = %g", i, j, u, j, i, v)
			}
		}
	}
	return nil
}

// csc returns P and A in compressed sparse columns (shared when the
// problem is stored sparsely).
func (p *Problem) csc() (pm, am *CSC) {
	if p.SparseP != nil {
		return p.SparseP, p.SparseA
	}
	return cscFromDense(p.P, p.N, p.N), cscFromDense(p.A, p.M, p.N)
}

func finite(name string, v []float64) error {
	// x·0 is 0 for every finite x and NaN for ±Inf and NaN: one multiply-add
	// per entry on the fast path (UpdateA checks the planner's whole matrix
	// on every SQP step).
	var a0, a1, a2, a3 float64
	k := 0
	for ; k+4 <= len(v); k += 4 {
		a0 += v[k] * 0
		a1 += v[k+1] * 0
		a2 += v[k+2] * 0
		a3 += v[k+3] * 0
	}
	for ; k < len(v); k++ {
		a0 += v[k] * 0
	}
	if a0+a1+a2+a3 == 0 {
		return nil
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("qp: %s[%d] = %v, want finite", name, i, x)
		}
	}
	return nil
}

// jsonProblem is the file layout of /maros_meszaros/json: COO triplets, 0-based.
type jsonProblem struct {
	Name    string    `json:"name,omitempty"`
	N       *int      `json:"n"`
	M       *int      `json:"m"`
	Form    string    `json:"form,omitempty"`
	P       *jsonCOO  `json:"P"`
	Q       []float64 `json:"q"`
	R       *float64  `json:"r"`
	A       *jsonCOO  `json:"A"`
	L       []float64 `json:"l"`
	U       []float64 `json:"u"`
	Optimal *float64  `json:"optimal_objective_osqp_benchmarks,omitempty"`
}

type jsonCOO struct {
	Rows  []int     `json:"rows"`
	Cols  []int     `json:"cols"`
	Vals  []float64 `json:"vals"`
	Shape []int     `json:"shape"`
}

const jsonForm = "minimize 0.5 x'Px + q'x + r  s.t.  l <= A x <= u ; |bound| >= 1e20 means infinite; P full symmetric (both triangles stored); 0-based COO triplets"

// ReadJSON decodes a problem in the Maros–Meszaros JSON layout (n, m, P and
// A as 0-based COO triplets {rows, cols, vals, shape}, q, r, l, u, optional
// optimal_objective_osqp_benchmarks) and validates it. Duplicate COO entries
// are summed. Bounds may be given as ±1e20 or larger for "infinite".
func ReadJSON(r io.Reader) (*Problem, error) {
	var j jsonProblem
	dec := json.NewDecoder(r)
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("qp: decoding JSON problem: %w", err)
	}
	switch {
	case j.N == nil:
		return nil, errors.New("qp: JSON problem: missing field \"n\"")
	case j.M == nil:
		return nil, errors.New("qp: JSON problem: missing field \"m\"")
	case j.P == nil:
		return nil, errors.New("qp: JSON problem: missing field \"P\"")
	case j.A == nil:
		return nil, errors.New("qp: JSON problem: missing field \"A\"")
	case j.Q == nil:
		return nil, errors.New("qp: JSON problem: missing field \"q\"")
	case j.L == nil:
		return nil, errors.New("qp: JSON problem: missing field \"l\"")
	case j.U == nil:
		return nil, errors.New("qp: JSON problem: missing field \"u\"")
	}
	n, m := *j.N, *j.M
	if n <= 0 || m < 0 {
		return nil, fmt.Errorf("qp: JSON problem: n = %d, m = %d, want n > 0, m ≥ 0", n, m)
	}
	p := &Problem{Name: j.Name, N: n, M: m, Q: j.Q, L: j.L, U: j.U}
	p.OptimalObjective = j.Optimal
	if j.R != nil {
		p.R = *j.R
	}
	if err := j.P.check("P", n, n); err != nil {
		return nil, err
	}
	if err := j.A.check("A", m, n); err != nil {
		return nil, err
	}
	if n <= denseJSONMax/(n+m) {
		p.P, p.A = make([]float64, n*n), make([]float64, m*n)
		j.P.fill(n, p.P)
		j.A.fill(n, p.A)
	} else {
		p.SparseP = cscFromTriplets(n, n, j.P.Rows, j.P.Cols, j.P.Vals)
		p.SparseA = cscFromTriplets(m, n, j.A.Rows, j.A.Cols, j.A.Vals)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("qp: JSON problem: %w", err)
	}
	return p, nil
}

// denseJSONMax: ReadJSON stores P and A densely when n·(n+m) is at most this.
const denseJSONMax = 1 << 16

func (c *jsonCOO) check(name string, rows, cols int) error {
	if len(c.Shape) != 2 || c.Shape[0] != rows || c.Shape[1] != cols {
		return fmt.Errorf("qp: JSON problem: %s.shape = %v, want [%d, %d]", name, c.Shape, rows, cols)
	}
	if len(c.Rows) != len(c.Vals) || len(c.Cols) != len(c.Vals) {
		return fmt.Errorf("qp: JSON problem: %s has %d rows, %d cols, %d vals, want equal lengths",
			name, len(c.Rows), len(c.Cols), len(c.Vals))
	}
	for k, v := range c.Vals {
		i, jj := c.Rows[k], c.Cols[k]
		if i < 0 || i >= rows || jj < 0 || jj >= cols {
			return fmt.Errorf("qp: JSON problem: %s entry %d at (%d, %d) outside shape [%d, %d]", name, k, i, jj, rows, cols)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("qp: JSON problem: %s entry %d at (%d, %d) = %v, want finite", name, k, i, jj, v)
		}
	}
	return nil
}

// fill adds the (checked) triplets into the row-major dst with cols columns.
func (c *jsonCOO) fill(cols int, dst []float64) {
	for k, v := range c.Vals {
		dst[c.Rows[k]*cols+c.Cols[k]] += v
	}
}

// WriteJSON encodes the problem in the layout ReadJSON reads, storing the
// nonzeros of P (both triangles) and A as COO triplets. Infinite bounds are
// written as ±1e20 so the file stays valid JSON.
func (p *Problem) WriteJSON(w io.Writer) error {
	if err := p.Validate(); err != nil {
		return err
	}
	n, m := p.N, p.M
	q := p.Q
	if q == nil {
		q = make([]float64, n)
	}
	r := p.R
	j := jsonProblem{
		Name: p.Name, N: &n, M: &m, Form: jsonForm,
		Q: q, R: &r,
		L: clampBounds(p.L), U: clampBounds(p.U), Optimal: p.OptimalObjective,
	}
	pm, am := p.csc()
	j.P, j.A = coo(pm), coo(am)
	enc := json.NewEncoder(w)
	if err := enc.Encode(&j); err != nil {
		return fmt.Errorf("qp: encoding JSON problem: %w", err)
	}
	return nil
}

func coo(c *CSC) *jsonCOO {
	o := &jsonCOO{Rows: []int{}, Cols: []int{}, Vals: []float64{}, Shape: []int{c.Rows, c.Cols}}
	for j := range c.Cols {
		for k := c.ColPtr[j]; k < c.ColPtr[j+1]; k++ {
			if c.Val[k] != 0 {
				o.Rows = append(o.Rows, c.RowIdx[k])
				o.Cols = append(o.Cols, j)
				o.Vals = append(o.Vals, c.Val[k])
			}
		}
	}
	return o
}

func clampBounds(b []float64) []float64 {
	out := make([]float64, len(b))
	for i, v := range b {
		out[i] = math.Max(-Infinity, math.Min(Infinity, v))
	}
	return out
}

// Optimality measures a candidate (x, y) on the problem's own data, in its
// units, independently of any solver: what Solved promises.
type Optimality struct {
	// Objective is ½xᵀPx + qᵀx + r.
	Objective float64
	// Primal is ‖Ax − Π(Ax)‖∞ (Π the projection onto [l, u]), Dual
	// ‖Px + q + Aᵀy‖∞, Gap xᵀPx + qᵀx + S(y) with S(y) = Σ uᵢ·max(yᵢ, 0) +
	// lᵢ·min(yᵢ, 0); a multiplier of the wrong sign for an infinite side
	// makes Gap infinite.
	Primal, Dual, Gap float64
	// EpsPrimal, EpsDual and EpsGap are the tolerances for epsAbs, epsRel:
	// epsAbs + epsRel·max(‖Ax‖∞, ‖Π(Ax)‖∞), epsAbs + epsRel·max(‖Px‖∞,
	// ‖Aᵀy‖∞, ‖q‖∞), epsAbs + epsRel·max(|xᵀPx|, |qᵀx|, |S(y)|).
	EpsPrimal, EpsDual, EpsGap float64
}

// Met reports whether all three measures are within factor·tolerance.
func (o Optimality) Met(factor float64) bool {
	return o.Primal <= factor*o.EpsPrimal && o.Dual <= factor*o.EpsDual && math.Abs(o.Gap) <= factor*o.EpsGap
}

// Optimality evaluates (x, y) (lengths n and m) with tolerances epsAbs,
// epsRel. Bounds beyond ±Infinity/2 count as absent, as in the solver.
func (p *Problem) Optimality(x, y []float64, epsAbs, epsRel float64) Optimality {
	n, m := p.N, p.M
	pm, am := p.csc()
	px := make([]float64, n)
	aty := make([]float64, n)
	ax := make([]float64, m)
	pm.mulAdd(x, px)
	am.mulAdd(x, ax)
	am.tMul(y, 0, aty)
	var o Optimality
	var xpx, qx, sup, nAx, nZ float64
	for i := range n {
		xpx += x[i] * px[i]
		if p.Q != nil {
			qx += p.Q[i] * x[i]
		}
	}
	const inf = absentBound
	for i := range m {
		z := math.Min(math.Max(ax[i], p.L[i]), p.U[i])
		o.Primal = math.Max(o.Primal, math.Abs(ax[i]-z))
		nAx, nZ = math.Max(nAx, math.Abs(ax[i])), math.Max(nZ, math.Abs(z))
		switch {
		case y[i] > 0 && p.U[i] < inf:
			sup += y[i] * p.U[i]
		case y[i] < 0 && p.L[i] > -inf:
			sup += y[i] * p.L[i]
		case y[i] != 0:
			sup = math.Inf(1)
		}
	}
	var nPx, nAty, nQ float64
	for j := range n {
		q := 0.0
		if p.Q != nil {
			q = p.Q[j]
		}
		o.Dual = math.Max(o.Dual, math.Abs(px[j]+q+aty[j]))
		nPx, nAty, nQ = math.Max(nPx, math.Abs(px[j])), math.Max(nAty, math.Abs(aty[j])), math.Max(nQ, math.Abs(q))
	}
	o.Objective = 0.5*xpx + qx + p.R
	o.Gap = xpx + qx + sup
	o.EpsPrimal = epsAbs + epsRel*math.Max(nAx, nZ)
	o.EpsDual = epsAbs + epsRel*math.Max(nPx, math.Max(nAty, nQ))
	o.EpsGap = epsAbs + epsRel*math.Max(math.Abs(xpx), math.Max(math.Abs(qx), math.Abs(sup)))
	return o
}
