package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/sim"
	"github.com/agilecatch/catch/sim/bench"
)

func init() {
	var (
		ctrls, scenarios, out, cfgPath, esLog, fidelity, engines string
		traceDir                                                 string
		trials, workers                                          int
		seed                                                     uint64
		asJSON                                                   bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark controllers across scenarios: results.json, report.md and plots",
		Long: `Runs every (controller, scenario) pair for --trials simulated throws, pairs
in parallel (deterministic for a seed), and writes DIR/results.json, DIR/report.md
(success with 95% Clopper–Pearson intervals, the paper's numbers beside ours,
miss distances, compute p50/p99, limit violations, modality) and PNG plots.
Without --controllers it runs whichever of mpc, es, es-paper and fused are built
in (es-paper when its policy file is there; the hold baseline if none is). The
report names where each learned policy came from. Compute times, which depend on the machine, go to
DIR/timing.json, so results.json is identical for a seed. With --engines a,b
every pair also runs in each physics engine on the same throws and the report
adds the sim-to-sim gap table and plot (gap.png).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fidelity != "state" {
				return fmt.Errorf("--fidelity %q: accepted: state", fidelity)
			}
			cfg, rob, err := loadConfigRobot(cfgPath)
			if err != nil {
				return err
			}
			if err := cfg.Check(rob); err != nil {
				return err
			}
			names := splitList(ctrls)
			if len(names) == 0 {
				for _, n := range []string{"mpc", "es", "es-paper", "fused"} {
					if !slices.Contains(launch.Controllers(), n) {
						continue
					}
					if n == "es-paper" {
						// only when a paper policy is there to fly (a
						// checkout may not ship one)
						if _, err := cfg.ES.LoadPaper(); err != nil {
							continue
						}
					}
					names = append(names, n)
				}
				if len(names) == 0 {
					names = []string{"hold"} // baseline until a catching controller is built in
				}
			}
			if out == "" {
				return fmt.Errorf("--out: a directory is required")
			}
			scn := splitList(scenarios)
			if len(scn) == 0 {
				return fmt.Errorf("--scenarios: none given (accepted: %s)", joinNames(sim.Names()))
			}
			for _, s := range scn {
				if _, err := sim.Lookup(s); err != nil {
					return err
				}
			}
			for _, n := range names {
				if _, err := launch.NewController(n, rob, &cfg); err != nil {
					return err
				}
			}
			if trials <= 0 {
				return fmt.Errorf("--trials %d: want > 0", trials)
			}
			if esLog != "" {
				if _, err := os.Stat(esLog); err != nil {
					return fmt.Errorf("--es-log: %w", err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			engs, err := launch.NewEngines(engines, &cfg)
			if err != nil {
				return fmt.Errorf("--engines: %w", err)
			}
			notes, err := policyNotes(names, &cfg, engs)
			if err != nil {
				return err
			}
			bar := newBar(cmd.ErrOrStderr(), trials*len(names)*len(scn)*len(engs), "bench")
			res, err := bench.Run(ctx, bench.Options{Engines: engs,
				Controllers: names, Scenarios: scn, Trials: trials, Seed: seed, Out: out,
				Robot: rob, Sim: cfg.Sim, Workers: workers, ESLog: esLog, Progress: bar, Provenance: record(&cfg, seed), TraceDir: traceDir, Notes: notes,
				NewController: func(name, engine string) (control.Controller, error) {
					return launch.NewController(name, rob, cfg.ForEngine(engine))
				},
			})
			if err != nil {
				return failed(err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			fmt.Fprint(w, bench.Table(res))
			fmt.Fprintf(w, "\nwrote %s/results.json, %s/report.md and plots\n", out, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ctrls, "controllers", "", "comma-separated controllers (default: mpc,es,es-paper,fused where available)")
	f.StringVar(&scenarios, "scenarios", "nominal,fast,slow,wide-yaw,hand-lob,light-ball,laggy", "comma-separated scenarios ("+joinNames(sim.Names())+")")
	countFlag(f, &trials, "trials", 100, 1, sim.MaxTrials, "throws per (controller, scenario) pair")
	f.Uint64Var(&seed, "seed", 1, "random seed (same seed, same results.json)")
	f.StringVar(&out, "out", "", "output directory")
	f.IntVar(&workers, "workers", 0, "pairs run at once (default: all cores); results do not depend on it")
	f.StringVar(&esLog, "es-log", "", "ES training log CSV to plot")
	f.StringVar(&cfgPath, "config", "", "run configuration YAML")
	f.StringVar(&fidelity, "fidelity", "state", "perception fidelity: state")
	f.StringVar(&engines, "engines", "kinematic", "comma-separated physics engines ("+joinNames(launch.Engines())+"); with two or more, every pair runs in each and the report adds the sim-to-sim gap against the first")
	f.BoolVar(&asJSON, "json", false, "print results.json to stdout instead of the table")
	f.StringVar(&traceDir, "trace", "", "write one per-tick trace per trial into this directory (CSV, docs/traces.md)")
	root.AddCommand(cmd)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// policyNotes are the report lines naming where the learned controllers'
// policies came from (training command, seed, episodes, commit).
func policyNotes(names []string, cfg *launch.Config, engs []sim.Engine) ([]string, error) {
	var notes []string
	fusedDone := false
	for _, n := range names {
		// es and fused may run other parameters in each engine
		// (launch.Config.ForEngine)
		var load func(c *launch.Config) (*policy.Policy, error)
		switch n {
		case "es":
			load = func(c *launch.Config) (*policy.Policy, error) { return c.ES.Load() }
		case "es-paper":
			p, err := cfg.ES.LoadPaper()
			if err != nil {
				return nil, err
			}
			notes = append(notes, fmt.Sprintf("Policy of `%s`: %s.", n, p.Origin()))
			continue
		case "fused", "fused-params", "fused-residual", "fused-gate":
			if fusedDone {
				continue
			}
			fusedDone, n = true, "fused"
			load = func(c *launch.Config) (*policy.Policy, error) { return c.Fused.Load() }
		default:
			continue
		}
		for _, e := range engs {
			p, err := load(cfg.ForEngine(e.Name()))
			if err != nil {
				return nil, err
			}
			notes = append(notes, fmt.Sprintf("Parameters of `%s` in the %s engine: %s.", n, e.Name(), p.Origin()))
		}
	}
	return notes, nil
}
