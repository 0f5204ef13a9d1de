package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// evalSeedOffset separates the before/after evaluation throws from the
// fine-tuning throws: evaluation uses seed + evalSeedOffset, so the success
// before and after is measured on throws the fine-tuning never flew.
const evalSeedOffset = 1_000_003

// FineTuneResult is the JSON printed by `catch finetune es|fused`.
type FineTuneResult struct {
	// Kind is what was tuned: es or fused.
	Kind       string            `json:"kind"`
	Engine     string            `json:"engine"`
	Scenario   string            `json:"scenario"`
	Seed       uint64            `json:"seed"`
	EvalSeed   uint64            `json:"eval_seed"`
	Iterations int               `json:"iterations"`
	Throws     int               `json:"throws_per_iteration"`
	Before     sim.Summary       `json:"before"`
	After      sim.Summary       `json:"after"`
	History    []FineTuneStep    `json:"history"`
	Policy     string            `json:"policy"`
	Candidates string            `json:"candidates_dir"`
	Provenance provenance.Record `json:"provenance"`
}

// FineTuneStep is one fine-tuning step's log: the throws flown by its
// perturbed policies, their catch rate and mean reward.
type FineTuneStep struct {
	Iteration  int     `json:"iteration"`
	Throws     int64   `json:"throws_so_far"`
	CatchRate  float64 `json:"catch_rate"`
	MeanReward float64 `json:"mean_reward"`
}

func init() {
	parent := &cobra.Command{
		Use:   "finetune",
		Short: "Fine-tune a trained policy against an external evaluator",
	}
	parent.AddCommand(fineTuneCmd("es"), fineTuneCmd("fused"))
	root.AddCommand(parent)
}

// fineTuneCmd is `catch finetune es` (the ES policy) or `catch finetune
// fused` (the fused controller's θ, a policy of class fused): the same
// trainer and external-evaluator loop.
func fineTuneCmd(kind string) *cobra.Command {
	var (
		engine, scenario, out, workDir, cfgPath, policyPath string
		iterations, throws, evalTrials, workers             int
		seed                                                uint64
		stepSize, sigma                                     float64
		asJSON                                              bool
	)
	what := map[string]string{"es": "the ES policy", "fused": "the fused controller's parameters (class fused)"}[kind]
	cmd := &cobra.Command{
		Use:   kind,
		Short: "Fine-tune " + what + " with another simulator as the external evaluator (sim-to-sim transfer)",
		Long: `Runs the ES trainer's external-evaluator loop (the paper's fine-tuning
protocol) with a physics engine standing in for the real arm: each of
--iterations steps writes the 2·P perturbed policies (P = --throws/2, one throw
each) into --dir as files, flies each once in --engine on fresh throws of
--scenario, logs every throw as a JSONL line (policy_id + trial result, the
format a real arm's evaluator writes) and applies the BGS update from that log.
Success before and after is measured on --eval-trials held-out throws (seed +
1000003, never flown during fine-tuning) in the same engine, with 95%
Clopper–Pearson intervals. Writes the fine-tuned policy to --out. "finetune es"
tunes the ES policy (--policy, es.policy, else the shipped one); "finetune fused"
tunes the fused controller's θ (--policy, fused.params, else the shipped one),
whose σ and α default to 0.3 and 0.05 (θ is in the units of the MPC's tunables).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := launch.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			if policyPath != "" {
				cfg.ES.Policy = policyPath
				cfg.Fused.Params = policyPath
			}
			switch {
			case iterations <= 0:
				return fmt.Errorf("--iterations %d: want > 0", iterations)
			case throws < 2 || throws%2 != 0:
				return fmt.Errorf("--throws %d: want an even number ≥ 2 (antithetic pairs, one throw per perturbed policy)", throws)
			case evalTrials <= 0:
				return fmt.Errorf("--eval-trials %d: want > 0", evalTrials)
			case out == "":
				return errors.New("--out: missing, want the policy file to write")
			}
			if st, err := os.Stat(filepath.Dir(out)); err != nil || !st.IsDir() {
				return fmt.Errorf("--out %s: directory %s does not exist", out, filepath.Dir(out))
			}
			if workDir == "" {
				workDir = strings.TrimSuffix(out, filepath.Ext(out)) + ".finetune"
			}
			sc, rob, eng, err := trialSetup(scenario, engine, &cfg)
			if err != nil {
				return err
			}
			var pol *policy.Policy
			if kind == "fused" {
				pol, err = cfg.Fused.Load()
			} else {
				pol, err = cfg.ES.Load()
			}
			if err != nil {
				return fmt.Errorf("policy: %w", err)
			}
			tc := cfg.ES.Train
			tc.Policy = pol.ClassName()
			if kind == "fused" {
				tc.Sigma, tc.StepSize = 0.3, 0.05
			}
			tc.Perturbations, tc.EpisodesPerDirection = throws/2, 1
			tc.Scenarios, tc.Workers = []string{sc.Name}, 1
			tc.EvalEvery = 0
			if stepSize > 0 {
				tc.StepSize = stepSize
			}
			if sigma > 0 {
				tc.Sigma = sigma
			}
			tr, err := policy.FineTuneTrainer(tc, rob, cfg.Sim, pol, seed)
			if err != nil {
				return fmt.Errorf("finetune %s: %w", kind, err)
			}
			if err := os.MkdirAll(workDir, 0o755); err != nil {
				return fmt.Errorf("--dir: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			rate := cfg.Sim.ControlRateHz
			if rate == 0 {
				rate = 250
			}
			evalSeed := seed + evalSeedOffset
			eval := func(p *policy.Policy, label string) (sim.Summary, error) {
				sum, _, err := sim.Run(ctx, sim.RunOptions{Scenario: sc, Robot: rob, Config: cfg.Sim, Trials: evalTrials,
					Seed: evalSeed, Workers: workers, Engine: eng,
					NewController: func() (control.Controller, error) { return policy.NewAgent(p, rob, rate) },
					Progress:      newBar(cmd.ErrOrStderr(), evalTrials, "eval "+label)})
				return sum, err
			}
			res := FineTuneResult{Engine: eng.Name(), Scenario: sc.Name, Seed: seed, EvalSeed: evalSeed,
				Iterations: iterations, Throws: throws, Policy: out, Candidates: workDir, Provenance: record(&cfg, seed)}
			if res.Before, err = eval(pol, "before"); err != nil {
				return failed(err)
			}
			// The "external" evaluator: one world in the engine flies every
			// candidate once per step, throw index iteration·throws + k.
			w, err := sim.NewWorldEngine(cfg.Sim, rob, sc, eng)
			if err != nil {
				return err
			}
			defer w.Close()
			progress := cmd.ErrOrStderr()
			for it := 0; it < iterations; it++ {
				ids, err := tr.WriteCandidates(workDir)
				if err != nil {
					return err
				}
				logPath := filepath.Join(workDir, fmt.Sprintf("it%06d.jsonl", it))
				if err := flyCandidates(ctx, w, rob, sc, rate, workDir, ids, seed, it*throws, logPath); err != nil {
					return failed(err)
				}
				f, err := os.Open(logPath)
				if err != nil {
					return err
				}
				is, err := tr.StepFromLogs(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("step %d: %w", it+1, err)
				}
				res.History = append(res.History, FineTuneStep{Iteration: is.Iteration, Throws: is.Episodes, CatchRate: is.CatchRate, MeanReward: is.MeanReward})
				fmt.Fprintf(progress, "finetune step %d/%d: %d throws, catch rate %.2f, mean reward %.3f\n",
					it+1, iterations, len(ids), is.CatchRate, is.MeanReward)
			}
			tuned := tr.State().Policy
			if err := tuned.Save(out); err != nil {
				return err
			}
			if res.After, err = eval(tuned, "after"); err != nil {
				return failed(err)
			}
			res.Kind = kind
			return printFineTune(cmd.OutOrStdout(), &res, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&engine, "engine", "mujoco", "physics engine that plays the real world: "+joinNames(launch.Engines()))
	f.StringVar(&scenario, "scenario", "nominal", "scenario of the fine-tuning and evaluation throws")
	f.IntVar(&iterations, "iterations", 40, "BGS steps (the paper: 40)")
	f.IntVar(&throws, "throws", 30, "throws per step, one per perturbed policy (the paper: 30)")
	f.IntVar(&evalTrials, "eval-trials", 300, "held-out throws for the success before and after")
	f.Uint64Var(&seed, "seed", 1, "random seed (directions and throws; same seed, same policy)")
	f.StringVar(&out, "out", "", "fine-tuned policy file to write (required)")
	f.StringVar(&workDir, "dir", "", "directory for the candidate policies and the per-step JSONL logs (default: --out without extension + .finetune)")
	f.StringVar(&cfgPath, "config", "", "run configuration YAML (robot, sim, es, mujoco)")
	f.StringVar(&policyPath, "policy", "", "policy file to fine-tune (default: es.policy for es, fused.params for fused, else the shipped one)")
	f.IntVar(&workers, "workers", 0, "parallel workers of the evaluations (default: all cores); results do not depend on it")
	f.Float64Var(&stepSize, "step-size", 0, "BGS step size α (default: es.train.step_size, else 0.02; fused 0.05)")
	f.Float64Var(&sigma, "sigma", 0, "perturbation scale σ (default: es.train.sigma, else 0.03; fused 0.3)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// flyCandidates flies each candidate policy file once (throw first+k of the
// scenario for the seed) and writes one policy.TrialLog line per throw to
// logPath, as an external evaluator would.
func flyCandidates(ctx context.Context, w *sim.World, rob *robot.Robot, sc *sim.Scenario, rate float64,
	dir string, ids []string, seed uint64, first int, logPath string) error {
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for k, id := range ids {
		if err := ctx.Err(); err != nil {
			f.Close()
			return err
		}
		p, err := policy.LoadFile(filepath.Join(dir, id+".json"))
		if err != nil {
			f.Close()
			return err
		}
		c, err := policy.NewAgent(p, rob, rate)
		if err != nil {
			f.Close()
			return err
		}
		var res sim.TrialResult
		if err := sim.RunTrial(w, c, sc, seed, first+k, &res); err != nil {
			f.Close()
			return fmt.Errorf("candidate %s: %w", id, err)
		}
		if err := enc.Encode(policy.TrialLog{PolicyID: id, TrialResult: res}); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func printFineTune(w io.Writer, r *FineTuneResult, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(w, "%s fine-tuned in the %s engine on %s: %d steps × %d throws (seed %d); held-out eval %d throws (seed %d)\n",
		strings.ToUpper(r.Kind), r.Engine, r.Scenario, r.Iterations, r.Throws, r.Seed, r.Before.Trials, r.EvalSeed)
	for _, s := range []struct {
		label string
		sum   *sim.Summary
	}{{"before", &r.Before}, {"after", &r.After}} {
		fmt.Fprintf(w, "  %-6s success %.1f%% (95%% CI %.1f–%.1f%%), %d / %d catchable, limit violations %d\n",
			s.label, 100*s.sum.SuccessRate, 100*s.sum.CI95[0], 100*s.sum.CI95[1], s.sum.Caught, s.sum.Catchable, s.sum.LimitViolations)
	}
	fmt.Fprintf(w, "  wrote %s (candidates and logs in %s)\n", r.Policy, r.Candidates)
	return nil
}
