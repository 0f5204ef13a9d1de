package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/agilecatch/catch/dist"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// trainParent returns the `catch train` command, creating it on first use
// (other trainers add their own subcommands to it).
func trainParent() *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == "train" {
			return c
		}
	}
	c := &cobra.Command{Use: "train", Short: "Train the learned models (ES policy, forecaster)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return fmt.Errorf("train: name what to train (see 'catch train --help')")
		}}
	root.AddCommand(c)
	return c
}

func init() {
	var (
		scenarios, out, logDir, cfgPath, engine, class      string
		iterations, perturbations, episodes, workers, evalN int
		evalEvery, ckptEvery, decayEvery                    int
		nf                                                  natsFlags
		seed                                                uint64
		resume, force                                       bool
		stepSize, sigma, target, decayFactor                float64
	)
	cmd := &cobra.Command{
		Use:   "es",
		Short: "Train the ES catching policy with blackbox gradient sensing",
		Long: `Trains the ES policy (package policy) by blackbox gradient sensing on
simulated throws of the given scenarios (mixed uniformly) with domain
randomisation. The run is deterministic for a seed whatever the core count.
--policy picks the class of a new policy: structured (the default: an IK
catch target and cradle profile with a learned residual) or paper (the
reference system's two-tower network from random weights, docs/es-paper.md).

Writes the policy with the best eval over the training scenarios (one
batch of --eval-episodes throws each; the eval scenario's success is logged
separately) to --out, a resumable checkpoint to --out.ckpt
(every checkpoint_every steps and at the end), and train_es.csv and
train_es.png (per-step statistics and the training curve) as
NAME.train_es.csv and NAME.train_es.png, NAME being --out without its
extension, to --log-dir (default: the directory of --out), so runs never
overwrite each other's logs. Policy, CSV and PNG record the provenance
(build, command line, config hash, seed). --resume continues from the checkpoint.

Rollouts fly on NATS JetStream by default: an embedded server on loopback
(streams in NAME.nats beside --out) and --workers local workers; 'catch
worker --nats URL' processes may join it (--nats-port). --nats URL uses a
running server or cluster and its workers; --nats off flies in this
process without NATS. The result is the same for a seed in every mode and
whatever the number of workers, and a restarted run (--resume) takes the
results already published for its steps from the stream
(docs/distributed.md).
Settings not on the command line come from the es.train section of --config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := launch.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			tc := cfg.ES.Train
			f := cmd.Flags()
			if f.Changed("scenario") || len(tc.Scenarios) == 0 {
				tc.Scenarios = nil
				for _, s := range strings.Split(scenarios, ",") {
					if s = strings.TrimSpace(s); s != "" {
						tc.Scenarios = append(tc.Scenarios, s)
					}
				}
				if len(tc.Scenarios) == 0 {
					return errors.New("--scenario: empty, want NAME[,NAME…]")
				}
			}
			setI := func(name string, dst *int, v int) error {
				if f.Changed(name) {
					if v <= 0 {
						return fmt.Errorf("--%s %d: want > 0", name, v)
					}
					*dst = v
				}
				return nil
			}
			for _, x := range []struct {
				n   string
				dst *int
				v   int
			}{{"iterations", &tc.Iterations, iterations}, {"perturbations", &tc.Perturbations, perturbations},
				{"episodes", &tc.EpisodesPerDirection, episodes},
				{"eval-episodes", &tc.EvalEpisodes, evalN}, {"eval-every", &tc.EvalEvery, evalEvery},
				{"checkpoint-every", &tc.CheckpointEvery, ckptEvery}} {
				if err := setI(x.n, x.dst, x.v); err != nil {
					return err
				}
			}
			setF := func(name string, dst *float64, v float64, hi float64) error {
				if f.Changed(name) {
					if !(v > 0 && v <= hi) || math.IsNaN(v) {
						return fmt.Errorf("--%s %v: want (0, %v]", name, v, hi)
					}
					*dst = v
				}
				return nil
			}
			if err := setF("step-size", &tc.StepSize, stepSize, 10); err != nil {
				return err
			}
			if err := setF("sigma", &tc.Sigma, sigma, 10); err != nil {
				return err
			}
			if err := setF("target-success", &tc.TargetSuccess, target, 1); err != nil {
				return err
			}
			if err := setF("decay-factor", &tc.DecayFactor, decayFactor, 1); err != nil {
				return err
			}
			if err := setI("decay-every", &tc.DecayEvery, decayEvery); err != nil {
				return err
			}
			if f.Changed("policy") || tc.Policy == "" {
				if !slices.Contains(policy.Classes(), class) {
					return fmt.Errorf("--policy %q: want one of %s", class, joinNames(policy.Classes()))
				}
				tc.Policy = class
			}
			if err := nf.check(); err != nil {
				return err
			}
			// --workers: goroutines with --nats off, local workers
			// otherwise (0: only remote ones; the default with --nats URL).
			localWorkers := 0
			if f.Changed("workers") {
				if workers < 0 || (workers == 0 && nf.url == "off") {
					return fmt.Errorf("--workers %d: want > 0 (≥ 0 with --nats)", workers)
				}
				tc.Workers, localWorkers = workers, workers
			} else if nf.url == "embedded" {
				localWorkers = tc.Workers
				if localWorkers == 0 {
					localWorkers = runtime.GOMAXPROCS(0)
				}
			}
			if tc.Workers == 0 && nf.url != "off" {
				tc.Workers = 1 // the in-process runner is not used; keep its worlds few
			}
			if err := tc.Validate(); err != nil {
				return fmt.Errorf("train es: %w", err)
			}
			if tc.Engine, err = launch.NewEngine(engine, &cfg); err != nil {
				return fmt.Errorf("--engine: %w", err)
			}
			if out == "" {
				return errors.New("--out: missing, want the policy file to write")
			}
			if st, err := os.Stat(filepath.Dir(out)); err != nil || !st.IsDir() {
				return fmt.Errorf("--out %s: directory %s does not exist", out, filepath.Dir(out))
			}
			dir := logDir // a local copy: the flag's variable outlives this run in-process
			if dir == "" {
				dir = filepath.Dir(out)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("--log-dir: %w", err)
			}
			rob, err := robot.Load(cfg.Robot)
			if err != nil {
				return err
			}
			ckpt := out + ".ckpt"
			var tr *policy.Trainer
			if resume {
				if _, err := os.Stat(ckpt); err != nil {
					return fmt.Errorf("--resume: no checkpoint %s (%v)", ckpt, err)
				}
				tr, err = policy.ResumeTrainer(tc, rob, cfg.Sim, ckpt, policy.ResumeOptions{Seed: seed, Force: force})
			} else {
				tr, err = policy.NewTrainer(tc, rob, cfg.Sim, seed)
			}
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			if nf.url != "off" {
				env, err := envFingerprint(&cfg)
				if err != nil {
					return err
				}
				log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
				nc, err := startNATS(nf.url, natsStoreDir(out), nf.port, localWorkers, rob, &cfg, env, log)
				if err != nil {
					return failed(err)
				}
				defer nc.Close()
				if nf.url == "embedded" {
					fmt.Fprintf(cmd.ErrOrStderr(), "nats: embedded JetStream at %s (store %s), %d local workers; more: catch worker --nats %s\n",
						nc.url, natsStoreDir(out), localWorkers, nc.url)
				}
				r, err := dist.NewRunner(ctx, nc.nc, nf.config(), env, log)
				if err != nil {
					return failed(err)
				}
				tr.SetRunner(r)
			}
			tc = tr.Config()
			// Per-run names: runs sharing a log directory never overwrite
			// each other's logs.
			stem := strings.TrimSuffix(filepath.Base(out), filepath.Ext(out))
			csvPath, pngPath := filepath.Join(dir, stem+".train_es.csv"), filepath.Join(dir, stem+".train_es.png")
			prov := record(&cfg, seed)
			var bar *progressbar.ProgressBar
			if term.IsTerminal(int(os.Stderr.Fd())) {
				bar = progressbar.NewOptions(tc.Iterations, progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionSetDescription("es"), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(),
					progressbar.OptionThrottle(100_000_000))
				_ = bar.Set(tr.State().Iteration)
			}
			w := cmd.ErrOrStderr()
			save := func() error {
				if err := tr.Checkpoint(ckpt); err != nil {
					return err
				}
				p := tr.Result()
				if p.Trained != nil {
					p.Trained.Provenance = json.RawMessage(prov.JSON())
				}
				if err := p.Save(out); err != nil {
					return err
				}
				if err := policy.WriteCSV(csvPath, tr.State().History, prov.Comment()); err != nil {
					return err
				}
				if err := policy.WritePlot(pngPath, tr.State().History); err != nil {
					return err
				}
				return provenance.StampPNG(pngPath, prov)
			}
			for tr.State().Iteration < tc.Iterations {
				is, err := tr.Step(ctx)
				if err != nil {
					if ctx.Err() != nil {
						_ = save()
						return failed(fmt.Errorf("interrupted at step %d (checkpoint %s; --resume continues)", tr.State().Iteration, ckpt))
					}
					return failed(err)
				}
				if bar != nil {
					bar.Describe(fmt.Sprintf("es: reward %.2f, eval %.3f, mix %.3f", is.MeanReward, is.EvalSuccess, is.MixSuccess))
					_ = bar.Set(is.Iteration)
				} else if is.Evaluated {
					fmt.Fprintf(w, "step %d: %d episodes, mean reward %.3f, eval success %.3f, mix success %.3f, %.0f s\n",
						is.Iteration, is.Episodes, is.MeanReward, is.EvalSuccess, is.MixSuccess, is.WallS)
				}
				if is.Iteration%tc.CheckpointEvery == 0 {
					if err := save(); err != nil {
						return failed(err)
					}
				}
				if tc.TargetSuccess > 0 && is.Evaluated && is.EvalSuccess >= tc.TargetSuccess {
					fmt.Fprintf(w, "target success %.3f reached at step %d (%d episodes)\n", tc.TargetSuccess, is.Iteration, is.Episodes)
					break
				}
			}
			if err := save(); err != nil {
				return failed(err)
			}
			st := tr.State()
			fmt.Fprintf(cmd.OutOrStdout(), "trained %d steps, %d episodes (+%d eval), best mix success %.3f at step %d, %.0f s; policy %s\n",
				st.Iteration, st.Episodes, st.EvalEps, st.BestEval, st.BestIter, st.WallS, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenarios, "scenario", "nominal", "training scenarios, NAME[,NAME…] (mixed uniformly)")
	f.StringVar(&class, "policy", policy.ClassStructured, "policy class of a new run: "+joinNames(policy.Classes()))
	f.StringVar(&engine, "engine", "kinematic", "physics engine of the training worlds: "+joinNames(launch.Engines()))
	f.IntVar(&iterations, "iterations", 300, "BGS steps")
	countFlag(f, &perturbations, "perturbations", 16, 1, 4096, "antithetic direction pairs per step")
	countFlag(f, &episodes, "episodes", 4, 1, 1000, "throws per perturbed policy")
	f.Uint64Var(&seed, "seed", 1, "random seed (same seed, same policy)")
	f.StringVar(&out, "out", "", "policy file to write (required)")
	f.BoolVar(&resume, "resume", false, "continue from --out.ckpt (same settings as the run that wrote it)")
	f.BoolVar(&force, "force", false, "with --resume: resume even if the checkpoint was written with other settings")
	f.StringVar(&logDir, "log-dir", "", "directory for NAME.train_es.csv and NAME.train_es.png (default: that of --out)")
	f.StringVar(&cfgPath, "config", "", "run configuration YAML (robot, sim, es.train)")
	f.IntVar(&workers, "workers", 0, "rollouts flown at once in this process (default: all cores; with --nats URL: 0, only remote workers); results do not depend on it")
	f.IntVar(&ckptEvery, "checkpoint-every", 10, "write the checkpoint every so many steps")
	nf.add(cmd)
	countFlag(f, &evalN, "eval-episodes", 200, 1, sim.MaxTrials, "eval batch size per scenario (unperturbed policy; training scenarios and the eval scenario)")
	f.IntVar(&evalEvery, "eval-every", 5, "eval every so many steps")
	f.Float64Var(&stepSize, "step-size", 0.02, "BGS step size α")
	f.Float64Var(&sigma, "sigma", 0.03, "perturbation scale σ")
	f.Float64Var(&target, "target-success", 0, "stop once the eval success reaches this (0: run all steps)")
	f.IntVar(&decayEvery, "decay-every", 0, "multiply σ and the step size by --decay-factor every so many steps (0: constant)")
	f.Float64Var(&decayFactor, "decay-factor", 0.5, "step-decay factor of σ and the step size (with --decay-every)")
	trainParent().AddCommand(cmd)
}
