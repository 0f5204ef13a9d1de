package light

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/mpc/qp"
)

// qpBenchFlags are the flags of `catch qp bench`.
type qpBenchFlags struct {
	method    string
	linear    string
	eps       float64
	timeLimit time.Duration
	maxSize   int
	asJSON    bool
}

// newQPBenchCmd is `catch qp bench`.
func newQPBenchCmd() *cobra.Command {
	var f qpBenchFlags
	bench := &cobra.Command{
		Use:   "bench DIR|FILE...",
		Short: "Solve a set of JSON QPs and check every \"solved\" claim independently",
		Long: "Bench solves each FILE.json (or DIR/*.json, sorted) with one method and tolerance,\n" +
			"re-evaluates every returned point on the problem's own data (primal and dual residuals,\n" +
			"duality gap: qp.Problem.Optimality) and, where the file has a reference optimum, the\n" +
			"relative objective error |f − f*|/max(1, |f*|). A \"false solved\" is status solved while\n" +
			"the independent check misses the tolerances, or the objective error exceeds 10·eps.\n" +
			"Prints one line per problem (--json: one JSON object each) and a summary with counts and\n" +
			"geometric-mean time (setup + solve) per size class n+m ≤ 200, ≤ 1000, > 1000.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := qp.ParseMethod(f.method); err != nil {
				return err
			}
			if _, err := qp.ParseLinearAlgebra(f.linear); err != nil {
				return err
			}
			if !(f.eps > 0) {
				return fmt.Errorf("qp bench: --eps = %v, want > 0", f.eps)
			}
			files, err := qpBenchFiles(args)
			if err != nil {
				return err
			}
			return qpBench(cmd.OutOrStdout(), cmd.ErrOrStderr(), files, f)
		},
	}
	fl := bench.Flags()
	fl.StringVar(&f.method, "method", "ipm", "admm, ipm, auto or active-set (dense, strictly convex problems)")
	fl.StringVar(&f.linear, "linear", "auto", "auto, dense or sparse linear algebra")
	fl.Float64Var(&f.eps, "eps", 1e-4, "EpsAbs = EpsRel")
	fl.DurationVar(&f.timeLimit, "time-limit", 0, "wall-time limit of each solve (0: none)")
	fl.IntVar(&f.maxSize, "max-size", 0, "skip problems with n+m above this (0: none)")
	fl.BoolVar(&f.asJSON, "json", false, "one JSON object per problem, then a JSON summary")
	return bench
}

func qpBenchFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("qp bench: %w", err)
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		m, err := filepath.Glob(filepath.Join(a, "*.json"))
		if err != nil {
			return nil, fmt.Errorf("qp bench: %w", err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("qp bench: %s holds no *.json", a)
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	return files, nil
}

// qpBenchLine is one problem's outcome.
type qpBenchLine struct {
	Name       string   `json:"name"`
	N          int      `json:"n"`
	M          int      `json:"m"`
	Status     string   `json:"status"`
	Method     string   `json:"method"`
	Iterations int      `json:"iterations"`
	MS         float64  `json:"ms"`
	SetupMS    float64  `json:"setup_ms"`
	Objective  *float64 `json:"objective"`
	RelErr     *float64 `json:"rel_err"`
	Primal     *float64 `json:"primal"`
	Dual       *float64 `json:"dual"`
	Gap        *float64 `json:"gap"`
	CheckMet   bool     `json:"check_met"`
	False      bool     `json:"false_solved"`
}

// qpBenchSummary is the last line.
type qpBenchSummary struct {
	Method      string             `json:"method"`
	Eps         float64            `json:"eps"`
	Problems    int                `json:"problems"`
	Statuses    map[string]int     `json:"statuses"`
	FalseSolved []string           `json:"false_solved"`
	Reached     int                `json:"reached_10eps"`
	GeomeanMS   map[string]float64 `json:"geomean_ms"`
	Count       map[string]int     `json:"count"`
}

func sizeClass(n, m int) string {
	switch {
	case n+m <= 200:
		return "small"
	case n+m <= 1000:
		return "medium"
	}
	return "large"
}

func qpBench(w, progress io.Writer, files []string, f qpBenchFlags) error {
	method, _ := qp.ParseMethod(f.method)
	lin, _ := qp.ParseLinearAlgebra(f.linear)
	set := qp.Settings{Method: method, Linear: lin, EpsAbs: f.eps, EpsRel: f.eps, TimeLimit: f.timeLimit}
	sum := qpBenchSummary{Method: f.method, Eps: f.eps, Statuses: map[string]int{}, FalseSolved: []string{},
		GeomeanMS: map[string]float64{}, Count: map[string]int{}}
	logSum := map[string]float64{}
	for k, path := range files {
		fh, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("qp bench: %w", err)
		}
		prob, err := qp.ReadJSON(fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("qp bench: %s: %w", path, err)
		}
		if f.maxSize > 0 && prob.N+prob.M > f.maxSize {
			continue
		}
		name := prob.Name
		if name == "" {
			name = filepath.Base(path)
		}
		fmt.Fprintf(progress, "qp bench: [%d/%d] %s (n = %d, m = %d)\n", k+1, len(files), name, prob.N, prob.M)
		s, err := qp.New(prob, set)
		if err != nil {
			return fmt.Errorf("qp bench: %s: %w", path, err)
		}
		res := s.Solve()
		total := res.SetupTime + res.SolveTime
		line := qpBenchLine{Name: name, N: prob.N, M: prob.M, Status: res.Status.String(), Method: res.Method.String(),
			Iterations: res.Iterations, MS: float64(total) / 1e6, SetupMS: float64(res.SetupTime) / 1e6}
		if res.Status != qp.PrimalInfeasible && res.Status != qp.DualInfeasible && res.Status != qp.NonConvex {
			o := prob.Optimality(res.X, res.Y, f.eps, f.eps)
			line.Objective, line.Primal, line.Dual, line.Gap = finiteOrNil(o.Objective), finiteOrNil(o.Primal),
				finiteOrNil(o.Dual), finiteOrNil(o.Gap)
			// 1% slack: the solver evaluates the same measures on scaled data.
			line.CheckMet = o.Met(1.01)
			if prob.OptimalObjective != nil {
				ref := *prob.OptimalObjective
				line.RelErr = finiteOrNil(math.Abs(o.Objective-ref) / math.Max(1, math.Abs(ref)))
			}
			good := line.CheckMet && (line.RelErr == nil || *line.RelErr <= 10*f.eps)
			if res.Status == qp.Solved && !good {
				line.False = true
				sum.FalseSolved = append(sum.FalseSolved, name)
			}
			if res.Status == qp.Solved && good && line.RelErr != nil {
				sum.Reached++
			}
		}
		sum.Problems++
		sum.Statuses[line.Status]++
		c := sizeClass(prob.N, prob.M)
		sum.Count[c]++
		logSum[c] += math.Log(math.Max(line.MS, 1e-3))
		if f.asJSON {
			if err := json.NewEncoder(w).Encode(line); err != nil {
				return Failed(err)
			}
			continue
		}
		rel := math.NaN()
		if line.RelErr != nil {
			rel = *line.RelErr
		}
		flag := ""
		if line.False {
			flag = "FALSE SOLVED"
		}
		fmt.Fprintf(w, "%-10s n+m %5d  %-17s %-4s relerr %9.2e  iters %6d  %10.2f ms  %s\n",
			name, prob.N+prob.M, line.Status, line.Method, rel, line.Iterations, line.MS, flag)
	}
	for c, n := range sum.Count {
		sum.GeomeanMS[c] = math.Exp(logSum[c] / float64(n))
	}
	if f.asJSON {
		if err := json.NewEncoder(w).Encode(sum); err != nil {
			return Failed(err)
		}
		return nil
	}
	fmt.Fprintf(w, "method %s eps %g: %d problems, statuses %v\n", sum.Method, sum.Eps, sum.Problems, sum.Statuses)
	fmt.Fprintf(w, "solved and within 10·eps of the reference: %d; false solved: %d %v\n",
		sum.Reached, len(sum.FalseSolved), sum.FalseSolved)
	for _, c := range []string{"small", "medium", "large"} {
		if sum.Count[c] > 0 {
			fmt.Fprintf(w, "geomean time %-6s (%d): %.3f ms\n", c, sum.Count[c], sum.GeomeanMS[c])
		}
	}
	return nil
}
