package light

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/mpc/qp"
)

// QP is `catch qp`: solve one QP file, or bench a set of them.
func QP() *cobra.Command {
	qpCmd := &cobra.Command{
		Use:   "qp",
		Short: "Tools for the dense QP solver of the MPC planner",
	}
	var (
		asJSON    bool
		set       qp.Settings
		noPolish  bool
		timeLimit time.Duration
		method    string
		linear    string
	)
	solve := &cobra.Command{
		Use:   "solve FILE.json",
		Short: "Solve a QP stored in the Maros–Meszaros JSON layout and print the result",
		Long: "Solve reads minimize ½xᵀPx + qᵀx + r s.t. l ≤ Ax ≤ u from FILE.json (n, m, P and A as\n" +
			"0-based COO triplets, q, r, l, u) and prints status, objective (r included), x, iterations\n" +
			"and solve time. A status other than solved is a result, not a failure: the exit status is\n" +
			"0 whenever the file was valid.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set.TimeLimit = timeLimit
			set.DisablePolish = noPolish
			m, err := qp.ParseMethod(method)
			if err != nil {
				return err
			}
			set.Method = m
			if set.Linear, err = qp.ParseLinearAlgebra(linear); err != nil {
				return err
			}
			return qpSolve(cmd.OutOrStdout(), args[0], set, asJSON)
		},
	}
	f := solve.Flags()
	f.BoolVar(&asJSON, "json", false, "print one JSON object {status, objective, x, iterations, solve_ms}")
	f.IntVar(&set.MaxIter, "max-iter", 0, "ADMM iteration limit (0: default 10000)")
	f.Float64Var(&set.EpsAbs, "eps-abs", 0, "absolute tolerance (0: default 1e-4)")
	f.Float64Var(&set.EpsRel, "eps-rel", 0, "relative tolerance (0: default 1e-4)")
	f.DurationVar(&timeLimit, "time-limit", 0, "wall-time limit, e.g. 50ms (0: none): reading, validation and setup must finish within it, and then the solve (status time_limit otherwise)")
	f.BoolVar(&noPolish, "no-polish", false, "skip solution polishing")
	f.StringVar(&method, "method", "ipm", "admm, ipm, auto (ADMM, then interior point when ADMM does not converge or polish) or active-set (exact, for small dense strictly convex problems); ipm is the most robust")
	f.StringVar(&linear, "linear", "auto", "auto (sparse for large sparse problems), dense or sparse linear algebra")
	f.IntVar(&set.IPMMaxIter, "ipm-max-iter", 0, "interior-point iteration limit (0: default 100)")
	qpCmd.AddCommand(solve, newQPBenchCmd())
	return qpCmd
}

// qpSolveOutput is the --json line; solve_ms covers setup and solve.
type qpSolveOutput struct {
	Status     string    `json:"status"`
	Objective  *float64  `json:"objective"`
	X          []float64 `json:"x"`
	Iterations int       `json:"iterations"`
	Method     string    `json:"method"`
	IPMIters   int       `json:"ipm_iterations"`
	SolveMS    float64   `json:"solve_ms"`
	SetupMS    float64   `json:"setup_ms"`
	PrimalRes  *float64  `json:"primal_residual"`
	DualRes    *float64  `json:"dual_residual"`
	Polished   bool      `json:"polished"`
	// StoppedIn is "setup" when --time-limit ran out before the solver was
	// set up (reading, validation, factorisation).
	StoppedIn string `json:"stopped_in,omitempty"`
}

func qpSolve(w io.Writer, path string, set qp.Settings, asJSON bool) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("qp solve: %w", err)
	}
	defer fh.Close()
	// --time-limit covers reading, validation and setup too: a problem too
	// big to set up in time ends as a time_limit result instead of running
	// on (the setup runs in a goroutine the process leaves behind).
	t0 := time.Now()
	type setup struct {
		prob *qp.Problem
		s    *qp.Solver
		err  error
	}
	done := make(chan setup, 1)
	go func() {
		prob, err := qp.ReadJSON(fh)
		if err != nil {
			done <- setup{err: err}
			return
		}
		s, err := qp.New(prob, set)
		done <- setup{prob, s, err}
	}()
	var timeUp <-chan time.Time
	if set.TimeLimit > 0 {
		timeUp = time.After(set.TimeLimit)
	}
	var su setup
	select {
	case su = <-done:
	case <-timeUp:
		if asJSON {
			return json.NewEncoder(w).Encode(qpSolveOutput{Status: qp.TimeLimit.String(), StoppedIn: "setup",
				SolveMS: float64(time.Since(t0)) / 1e6, SetupMS: float64(time.Since(t0)) / 1e6})
		}
		fmt.Fprintf(w, "status      %s (reading, validation and setup of %s did not finish within %v)\n", qp.TimeLimit, path, set.TimeLimit)
		return nil
	}
	if su.err != nil {
		return fmt.Errorf("qp solve: %s: %w", path, su.err)
	}
	prob, s := su.prob, su.s
	res := s.Solve()
	total := res.SetupTime + res.SolveTime
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	if asJSON {
		out := qpSolveOutput{
			Status: res.Status.String(), X: res.X, Iterations: res.Iterations,
			Method: res.Method.String(), IPMIters: res.IPMIterations,
			SolveMS: ms(total), SetupMS: ms(res.SetupTime), Polished: res.Polished,
			Objective: finiteOrNil(res.Objective), PrimalRes: finiteOrNil(res.PrimalResidual),
			DualRes: finiteOrNil(res.DualResidual),
		}
		if res.Status == qp.PrimalInfeasible || res.Status == qp.DualInfeasible {
			out.X = nil
		}
		if err := json.NewEncoder(w).Encode(out); err != nil {
			return Failed(err)
		}
		return nil
	}
	name := prob.Name
	if name == "" {
		name = path
	}
	fmt.Fprintf(w, "problem     %s (n = %d, m = %d)\n", name, prob.N, prob.M)
	fmt.Fprintf(w, "status      %s\n", res.Status)
	fmt.Fprintf(w, "objective   %.10g\n", res.Objective)
	if prob.OptimalObjective != nil {
		ref := *prob.OptimalObjective
		fmt.Fprintf(w, "reference   %.10g (relative error %.2e)\n", ref,
			math.Abs(res.Objective-ref)/math.Max(1, math.Abs(ref)))
	}
	fmt.Fprintf(w, "method      %s\n", res.Method)
	fmt.Fprintf(w, "iterations  %d (%d interior point; rho %.3g, %d rho updates, polished %v)\n",
		res.Iterations, res.IPMIterations, res.Rho, res.RhoUpdates, res.Polished)
	fmt.Fprintf(w, "residuals   primal %.3e, dual %.3e\n", res.PrimalResidual, res.DualResidual)
	fmt.Fprintf(w, "time        %.3f ms (setup %.3f, factor %.3f, iterate %.3f, interior point %.3f, polish %.3f)\n",
		ms(total), ms(res.SetupTime), ms(res.FactorTime), ms(res.IterateTime), ms(res.IPMTime), ms(res.PolishTime))
	return nil
}

func finiteOrNil(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
