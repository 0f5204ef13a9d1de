package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/fused"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// evalSeedOffset separates the before/after evaluation throws from the
// fine-tuning throws: evaluation uses seed + evalSeedOffset, so the success
// before and after is measured on throws the fine-tuning never flew.
// The validation throws that choose among the fine-tuning's snapshots use
// seed + valSeedOffset: neither the fine-tuning's nor the evaluation's.
const (
	evalSeedOffset = 1_000_003
	valSeedOffset  = 2_000_006
)

// FineTuneResult is the JSON printed by `catch finetune es|fused`.
type FineTuneResult struct {
	// Kind is what was tuned: es or fused.
	Kind       string `json:"kind"`
	Engine     string `json:"engine"`
	Scenario   string `json:"scenario"`
	Seed       uint64 `json:"seed"`
	EvalSeed   uint64 `json:"eval_seed"`
	Iterations int    `json:"iterations"`
	Throws     int    `json:"throws_per_iteration"`
	// Pairs is the number of antithetic pairs per step; each pair's + and
	// − policy fly the same Throws/(2·Pairs) throws.
	Pairs int `json:"pairs"`
	// Free is the indices of θ the fine-tuning moves (empty: all).
	Free       []int               `json:"free,omitempty"`
	Sigma      float64             `json:"sigma"`
	StepSize   float64             `json:"step_size"`
	Validation *FineTuneValidation `json:"validation,omitempty"`
	// Before and After are over all the scenarios' eval throws; with
	// several scenarios, BeforeBy and AfterBy give each one's.
	Before     sim.Summary       `json:"before"`
	After      sim.Summary       `json:"after"`
	BeforeBy   []sim.Summary     `json:"before_by_scenario,omitempty"`
	AfterBy    []sim.Summary     `json:"after_by_scenario,omitempty"`
	History    []FineTuneStep    `json:"history"`
	Policy     string            `json:"policy"`
	Candidates string            `json:"candidates_dir"`
	Provenance provenance.Record `json:"provenance"`
}

// FineTuneValidation is the choice among the fine-tuning's snapshots: each
// flew the same Throws validation throws (seed ValSeed; Throws per
// scenario). By catches (Select "catches"), a snapshot beats the start
// when, on the throws one of the two caught and the other did not, the
// one-sided sign test puts it ahead at level Alpha/(number of snapshots)
// (Bonferroni: the choice among several must not let noise through); of
// those the one that caught the most is kept (Kept, a step number), else
// the start (0). At catch rates near 100% a few hundred throws separate
// only large gains, and often none: every snapshot catches every throw.
// By reward (Select "reward", the fine-tuning's own objective: how close
// and aligned the net met the ball, how still it held it, the catch, less
// the limit violations), the sign test is on the throws where the two
// policies' rewards differ, and a snapshot must also catch at least as
// many validation throws as the start; of those the one with the highest
// mean reward is kept.
type FineTuneValidation struct {
	ValSeed    uint64              `json:"val_seed"`
	Throws     int                 `json:"throws"`
	Alpha      float64             `json:"alpha"`
	Select     string              `json:"select"`
	Candidates []FineTuneCandidate `json:"candidates"`
	Kept       int                 `json:"kept_iteration"`
}

// FineTuneCandidate is one snapshot's validation result: its catches, the
// throws it caught and the start did not (Gained) and the reverse (Lost),
// its mean reward and limit violations, the throws on which its reward
// beat the start's (RewardWins) and the reverse (RewardLosses), and the
// one-sided sign test's p-value of the selection's criterion (Gained
// against Lost by catches, RewardWins against RewardLosses by reward).
type FineTuneCandidate struct {
	Iteration       int     `json:"iteration"`
	Caught          int     `json:"caught"`
	Catchable       int     `json:"catchable"`
	Success         float64 `json:"success_rate"`
	Gained          int     `json:"gained"`
	Lost            int     `json:"lost"`
	MeanReward      float64 `json:"mean_reward"`
	LimitViolations int     `json:"limit_violations"`
	RewardWins      int     `json:"reward_wins"`
	RewardLosses    int     `json:"reward_losses"`
	P               float64 `json:"p"`
}

// signTestP is the one-sided sign test's p-value of gained wins against
// lost ones: P(X ≥ gained) for X ~ Binomial(gained + lost, 1/2); 1 when
// both are 0.
func signTestP(gained, lost int) float64 {
	n := gained + lost
	var p float64
	for i := gained; i <= n; i++ {
		lc, _ := math.Lgamma(float64(n + 1))
		la, _ := math.Lgamma(float64(i + 1))
		lb, _ := math.Lgamma(float64(n - i + 1))
		p += math.Exp(lc - la - lb - float64(n)*math.Ln2)
	}
	return math.Min(1, p)
}

// pairedSigns counts the throws on which a beats b and the reverse (a
// and b per throw, the same throws in the same order).
func pairedSigns(a, b []float64) (wins, losses int) {
	for i := range a {
		switch {
		case a[i] > b[i]:
			wins++
		case a[i] < b[i]:
			losses++
		}
	}
	return wins, losses
}

// chooseSnapshot is the validation's choice (FineTuneValidation): the
// step number of the snapshot kept, 0 for the start (Candidates[0]).
func chooseSnapshot(v *FineTuneValidation) int {
	best := 0
	level := v.Alpha / float64(max(1, len(v.Candidates)-1))
	for k := 1; k < len(v.Candidates); k++ {
		c, b := &v.Candidates[k], &v.Candidates[best]
		if c.P > level {
			continue
		}
		if v.Select == "reward" {
			if c.Caught >= v.Candidates[0].Caught && (best == 0 || c.MeanReward > b.MeanReward) {
				best = k
			}
		} else if best == 0 || c.Caught > b.Caught {
			best = k
		}
	}
	return v.Candidates[best].Iteration
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
		pairs, valTrials, selectEvery                       int
		free, selectBy                                      string
		seed                                                uint64
		stepSize, sigma, valAlpha                           float64
		asJSON                                              bool
	)
	what := map[string]string{"es": "the ES policy", "fused": "the fused controller's parameters (class fused)"}[kind]
	cmd := &cobra.Command{
		Use:   kind,
		Short: "Fine-tune " + what + " with another simulator as the external evaluator (sim-to-sim transfer)",
		Long: `Runs the ES trainer's external-evaluator loop (the paper's fine-tuning
protocol) with a physics engine standing in for the real arm: each of
--iterations steps writes the 2·P perturbed policies (P = --throws/2, one throw
each) into --dir as files, flies them in --engine on fresh throws of
--scenario (a comma-separated list: the throws go round it; the + and − policy of a pair on the same --throws/(2·--pairs)
throws, so the pair's difference is the perturbation's, not the throws'),
logs every throw as a JSONL line (policy_id + trial result, the format a real
arm's evaluator writes) and applies the BGS update from that log. --free
restricts the perturbations to some of θ. Every --select-every steps the
policy is kept as a snapshot; the start and the snapshots fly the same
--validate throws of each scenario (seed + 2000006). With --select reward
(the default) a snapshot beats the start when the one-sided sign test on the
throws where their rewards differ puts it ahead (level --val-alpha over the
number of snapshots) and it catches no fewer validation throws; the one with
the highest mean reward is written, else the start. With --select catches
the test is on the throws only one of the two caught and the one that
catches the most is written (--validate 0: the last step's policy). Success
before and after is measured on --eval-trials held-out throws of each
scenario (seed + 1000003, never flown during fine-tuning or validation) in
the same engine, with 95% Clopper–Pearson
intervals. Writes the fine-tuned policy to --out. "finetune es" tunes the ES
policy (--policy, es.policy, else the one shipped for --engine:
policy.ShippedFor); "finetune fused" tunes the fused controller's θ
(--policy, fused.params, else the one shipped for --engine:
fused.ShippedFor), by
default the decisive subset (--free decisive: fused.FreeSet) in 5 pairs of 3
throws with σ and α 0.3 and 0.05 (θ is in the units of the MPC's tunables).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t0 := time.Now()
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
			case pairs < 0 || (pairs > 0 && throws%(2*pairs) != 0):
				return fmt.Errorf("--pairs %d: want a number that divides --throws %d / 2", pairs, throws)
			case valTrials < 0:
				return fmt.Errorf("--validate %d: want ≥ 0", valTrials)
			case !(valAlpha > 0 && valAlpha < 1):
				return fmt.Errorf("--val-alpha %v: want (0, 1)", valAlpha)
			case selectEvery <= 0:
				return fmt.Errorf("--select-every %d: want > 0", selectEvery)
			case selectBy != "catches" && selectBy != "reward":
				return fmt.Errorf("--select %q: want catches or reward", selectBy)
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
			names := strings.Split(scenario, ",")
			scs := make([]*sim.Scenario, len(names))
			var (
				rob *robot.Robot
				eng sim.Engine
			)
			for i, name := range names {
				if i == 0 {
					scs[0], rob, eng, err = trialSetup(name, engine, &cfg)
				} else {
					scs[i], err = sim.Lookup(name)
				}
				if err != nil {
					return err
				}
				names[i] = scs[i].Name
			}
			var pol *policy.Policy
			if kind == "fused" {
				pol, err = cfg.ForEngine(eng.Name()).Fused.Load() // by default the θ shipped for the engine
			} else {
				pol, err = cfg.ForEngine(eng.Name()).ES.Load()
			}
			if err != nil {
				return fmt.Errorf("policy: %w", err)
			}
			tc := cfg.ES.Train
			tc.Policy = pol.ClassName()
			if free == "" {
				free = "all"
				if kind == "fused" {
					free = "decisive"
				}
			}
			if tc.Free, err = freeIndices(kind, free, len(pol.Params())); err != nil {
				return fmt.Errorf("--free %s: %w", free, err)
			}
			if pairs == 0 {
				pairs = throws / 2
				if kind == "fused" && throws%10 == 0 {
					pairs = min(5, throws/2)
				}
			}
			if kind == "fused" {
				tc.Sigma, tc.StepSize = fusedSigma, fusedStepSize
			}
			tc.Perturbations, tc.EpisodesPerDirection = pairs, throws/(2*pairs)
			tc.Scenarios, tc.Workers = names, 1
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
			// flyAll flies p on trials throws of every scenario (seed s)
			// and returns the summary over all of them, each scenario's,
			// and the results in scenario order.
			flyAll := func(p *policy.Policy, trials int, s uint64, label string) (sim.Summary, []sim.Summary, []sim.TrialResult, error) {
				var by []sim.Summary
				var all []sim.TrialResult
				for _, sc := range scs {
					l := label
					if len(scs) > 1 {
						l += " " + sc.Name
					}
					sum, results, err := sim.Run(ctx, sim.RunOptions{Scenario: sc, Robot: rob, Config: cfg.Sim, Trials: trials,
						Seed: s, Workers: workers, Engine: eng,
						NewController: func() (control.Controller, error) { return policy.NewAgent(p, rob, rate) },
						Progress:      newBar(cmd.ErrOrStderr(), trials, l)})
					if err != nil {
						return sim.Summary{}, nil, nil, err
					}
					by, all = append(by, sum), append(all, results...)
				}
				if len(by) == 1 {
					return by[0], nil, all, nil
				}
				sum := sim.Summarize(all, nil)
				sum.Controller, sum.Scenario, sum.Engine, sum.Fidelity, sum.Seed = by[0].Controller, strings.Join(names, ","), by[0].Engine, by[0].Fidelity, s
				return sum, by, all, nil
			}
			evalSeed := seed + evalSeedOffset
			res := FineTuneResult{Engine: eng.Name(), Scenario: strings.Join(names, ","), Seed: seed, EvalSeed: evalSeed,
				Iterations: iterations, Throws: throws, Pairs: pairs, Free: tc.Free, Sigma: tr.Config().Sigma,
				StepSize: tr.Config().StepSize, Policy: out, Candidates: workDir, Provenance: record(&cfg, seed)}
			if res.Before, res.BeforeBy, _, err = flyAll(pol, evalTrials, evalSeed, "eval before"); err != nil {
				return failed(err)
			}
			// The "external" evaluator: one world per scenario in the
			// engine flies every candidate once per step, throw index
			// iteration·throws + k (of scenario k mod the count).
			worlds := make([]*sim.World, len(scs))
			for i, sc := range scs {
				if worlds[i], err = sim.NewWorldEngine(cfg.Sim, rob, sc, eng); err != nil {
					return err
				}
				defer worlds[i].Close()
			}
			progress := cmd.ErrOrStderr()
			snaps := []*policy.Policy{pol}
			snapIter := []int{0}
			m := throws / (2 * pairs)
			for it := 0; it < iterations; it++ {
				ids, err := tr.WriteCandidates(workDir)
				if err != nil {
					return err
				}
				logPath := filepath.Join(workDir, fmt.Sprintf("it%06d.jsonl", it))
				if err := flyCandidates(ctx, worlds, rob, scs, rate, workDir, ids, m, seed, it*pairs*m, logPath); err != nil {
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
					it+1, iterations, len(ids)*m, is.CatchRate, is.MeanReward)
				if (it+1)%selectEvery == 0 || it+1 == iterations {
					snaps, snapIter = append(snaps, tr.State().Policy.Clone()), append(snapIter, it+1)
				}
			}
			tuned := tr.State().Policy
			if valTrials > 0 {
				v := &FineTuneValidation{ValSeed: seed + valSeedOffset, Throws: valTrials, Alpha: valAlpha, Select: selectBy}
				var start, startR []float64
				for k, p := range snaps {
					sum, _, results, err := flyAll(p, valTrials, v.ValSeed, fmt.Sprintf("validate step %d", snapIter[k]))
					if err != nil {
						return failed(err)
					}
					caught, reward := make([]float64, len(results)), make([]float64, len(results))
					c := FineTuneCandidate{Iteration: snapIter[k], Caught: sum.Caught, Catchable: sum.Catchable,
						Success: sum.SuccessRate, LimitViolations: sum.LimitViolations, P: 1}
					for i := range results {
						if results[i].Catchable && results[i].Caught {
							caught[i] = 1
						}
						reward[i] = tr.ExternalReward(&results[i])
						c.MeanReward += reward[i] / float64(len(results))
					}
					if k == 0 {
						start, startR = caught, reward
					} else {
						c.Gained, c.Lost = pairedSigns(caught, start)
						c.RewardWins, c.RewardLosses = pairedSigns(reward, startR)
						if selectBy == "reward" {
							c.P = signTestP(c.RewardWins, c.RewardLosses)
						} else {
							c.P = signTestP(c.Gained, c.Lost)
						}
					}
					v.Candidates = append(v.Candidates, c)
				}
				v.Kept = chooseSnapshot(v)
				for k, it := range snapIter {
					if it == v.Kept {
						tuned = snaps[k]
					}
				}
				res.Validation = v
			}
			if tuned != pol {
				// a fine-tuned θ records how it was made; a kept start
				// keeps its own record
				tuned = tuned.Clone()
				steps := len(res.History)
				if res.Validation != nil {
					steps = res.Validation.Kept
				}
				prov, err := json.Marshal(res.Provenance)
				if err != nil {
					return err
				}
				tuned.Trained = &policy.TrainInfo{Scenarios: names, Seed: seed, Iterations: steps,
					Episodes: int64(steps * throws), WallS: time.Since(t0).Seconds(), Provenance: prov}
				if v := res.Validation; v != nil {
					for _, c := range v.Candidates {
						if c.Iteration == v.Kept {
							tuned.Trained.EvalSuccess = c.Success
						}
					}
				}
			}
			if err := tuned.Save(out); err != nil {
				return err
			}
			if res.After, res.AfterBy, _, err = flyAll(tuned, evalTrials, evalSeed, "eval after"); err != nil {
				return failed(err)
			}
			res.Kind = kind
			return printFineTune(cmd.OutOrStdout(), &res, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&engine, "engine", "mujoco", "physics engine that plays the real world: "+joinNames(launch.Engines()))
	f.StringVar(&scenario, "scenario", "nominal", "scenario of the fine-tuning and evaluation throws, or a comma-separated list (fine-tuning throws go round the list; validation and eval fly each)")
	f.StringVar(&selectBy, "select", "reward", "what the validation chooses a snapshot by: reward (the fine-tuning's objective; no fewer catches than the start) or catches")
	f.IntVar(&iterations, "iterations", 40, "BGS steps (the paper: 40)")
	f.IntVar(&throws, "throws", 30, "throws per step, over all perturbed policies (the paper: 30)")
	f.IntVar(&pairs, "pairs", 0, "antithetic pairs per step; each policy of a pair flies the same --throws/(2·pairs) throws (default: es --throws/2; fused 5)")
	f.StringVar(&free, "free", "", "what of θ the perturbations move: all, a comma-separated list of indices, or for fused a named subset (fused.FreeSet: gate, tunables, residual, decisive; default es all, fused decisive)")
	f.IntVar(&valTrials, "validate", 100, "validation throws that choose among the start and the snapshots (0: keep the last step's policy)")
	f.IntVar(&selectEvery, "select-every", 10, "steps between the snapshots validation chooses among")
	f.Float64Var(&valAlpha, "val-alpha", 0.05, "a snapshot replaces the start when the sign test on the validation throws puts it ahead at this level (Bonferroni over the snapshots)")
	f.IntVar(&evalTrials, "eval-trials", 300, "held-out throws for the success before and after")
	f.Uint64Var(&seed, "seed", 1, "random seed (directions and throws; same seed, same policy)")
	f.StringVar(&out, "out", "", "fine-tuned policy file to write (required)")
	f.StringVar(&workDir, "dir", "", "directory for the candidate policies and the per-step JSONL logs (default: --out without extension + .finetune)")
	f.StringVar(&cfgPath, "config", "", "run configuration YAML (robot, sim, es, mujoco)")
	f.StringVar(&policyPath, "policy", "", "policy file to fine-tune (default: es.policy for es, fused.params for fused, else the shipped one)")
	f.IntVar(&workers, "workers", 0, "parallel workers of the evaluations (default: all cores); results do not depend on it")
	f.Float64Var(&stepSize, "step-size", 0, fmt.Sprintf("BGS step size α (default: es.train.step_size, else 0.02; fused %v)", fusedStepSize))
	f.Float64Var(&sigma, "sigma", 0, fmt.Sprintf("perturbation scale σ (default: es.train.sigma, else 0.03; fused %v)", fusedSigma))
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// fusedSigma and fusedStepSize are the fused fine-tuning's default σ and α
// (θ is in the units of the MPC's tunables and of the gate's score).
const (
	fusedSigma    = 0.3
	fusedStepSize = 0.05
)

// freeIndices resolves --free: "all" (every index of a θ of length n), a
// fused.FreeSet name for kind fused, or a comma-separated list of indices.
func freeIndices(kind, name string, n int) ([]int, error) {
	if name == "all" {
		return nil, nil
	}
	if name != "" && strings.Trim(name, "0123456789,") == "" {
		var idx []int
		for _, f := range strings.Split(name, ",") {
			i, err := strconv.Atoi(f)
			if err != nil || i >= n {
				return nil, fmt.Errorf("index %q: want an integer in [0, %d)", f, n)
			}
			idx = append(idx, i)
		}
		return idx, nil
	}
	if kind != "fused" {
		return nil, fmt.Errorf("want all or a comma-separated list of indices")
	}
	return fused.FreeSet(name)
}

// flyCandidates flies the candidate policy files ids (+, − per direction)
// m throws each, the + and − of direction k on throws first+k·m … first+k·m+m−1
// for the seed (throw g of scenario scs[g mod len(scs)], in worlds[g mod len(scs)]), and writes one policy.TrialLog line per
// throw to logPath, as an external evaluator would.
func flyCandidates(ctx context.Context, worlds []*sim.World, rob *robot.Robot, scs []*sim.Scenario, rate float64,
	dir string, ids []string, m int, seed uint64, first int, logPath string) error {
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
		for e := 0; e < m; e++ {
			var res sim.TrialResult
			g := first + (k/2)*m + e
			if err := sim.RunTrial(worlds[g%len(scs)], c, scs[g%len(scs)], seed, g, &res); err != nil {
				f.Close()
				return fmt.Errorf("candidate %s: %w", id, err)
			}
			if err := enc.Encode(policy.TrialLog{PolicyID: id, TrialResult: res}); err != nil {
				f.Close()
				return err
			}
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
