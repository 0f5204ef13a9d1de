package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/dist"
	"github.com/agilecatch/catch/policy"
)

// distBenchRow is one measurement of catch dist-bench.
type distBenchRow struct {
	Workers    int     `json:"worker_processes"`
	Episodes   int     `json:"episodes"`
	WallS      float64 `json:"wall_s"`
	EpisodesPS float64 `json:"episodes_per_s"`
	// WorkerCPUS is the CPU time (user + system) of the worker processes,
	// warm-up and start included; EpisodesPerCPUS the episodes (warm-up
	// included) per second of it: the throughput a quiet core would give.
	WorkerCPUS      float64 `json:"worker_cpu_s"`
	EpisodesPerCPUS float64 `json:"episodes_per_worker_cpu_s"`
	ResultsHash     string  `json:"results_sha256"`
}

func init() {
	var (
		procs, scenario, cfgPath, class string
		episodes, perMsg                int
		seed                            uint64
		asJSON                          bool
	)
	cmd := &cobra.Command{
		Use:   "dist-bench",
		Short: "Measure rollout throughput through JetStream with 1, 2, … worker processes",
		Long: `Starts an embedded JetStream server on loopback and, for each count in
--procs, that many 'catch worker' processes (this binary); flies one warm-up
batch and then --episodes training rollouts of a fresh policy (--policy
class) through them, and prints episodes per second per count, the speed-up
over the first count, and a hash of the results (equal for every count: the
results do not depend on the workers). Run it on a quiet machine: the
numbers are wall-clock throughput.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var counts []int
			for _, p := range splitList(procs) {
				k, err := strconv.Atoi(p)
				if err != nil || k < 1 || k > 64 {
					return fmt.Errorf("--procs %q: want counts in [1, 64], e.g. 1,2", procs)
				}
				counts = append(counts, k)
			}
			if len(counts) == 0 {
				return fmt.Errorf("--procs: none given")
			}
			if !slices.Contains(policy.Classes(), class) {
				return fmt.Errorf("--policy %q: want one of %s", class, joinNames(policy.Classes()))
			}
			cfg, rob, err := loadConfigRobot(cfgPath)
			if err != nil {
				return err
			}
			env, err := envFingerprint(&cfg)
			if err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			tc := policy.TrainConfig{Scenarios: []string{scenario}, Perturbations: 8, Workers: 1, Policy: class}
			tr, err := policy.NewTrainer(tc, rob, cfg.Sim, seed)
			if err != nil {
				return err
			}
			run := &policy.RunSettings{Train: tr.Config(), Sim: cfg.Sim}
			batch := func(iter, n int) *policy.Batch {
				b := &policy.Batch{Spec: &policy.Spec{Run: run, Seed: seed, Iter: iter, Policy: tr.State().Policy}}
				for i := 0; i < n; i++ {
					b.Tasks = append(b.Tasks, policy.Task{Stream: policy.StreamTrain, Rollout: i / 2, Dir: (i / 2) % 8, Sign: 1 - 2*(i%2)})
				}
				return b
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			var rows []distBenchRow
			for _, k := range counts {
				row, err := func() (distBenchRow, error) {
					dir, err := os.MkdirTemp("", "catch-dist-bench-")
					if err != nil {
						return distBenchRow{}, err
					}
					defer os.RemoveAll(dir)
					c, err := startNATS("embedded", dir, 0, 0, rob, &cfg, env, nil)
					if err != nil {
						return distBenchRow{}, err
					}
					defer c.Close()
					r, err := dist.NewRunner(ctx, c.nc, dist.Config{TasksPerMessage: perMsg}, env, nil)
					if err != nil {
						return distBenchRow{}, err
					}
					var ws []*exec.Cmd
					stopWorkers := func() (cpu float64) {
						for _, w := range ws {
							_ = w.Process.Signal(os.Interrupt)
							_ = w.Wait()
							if w.ProcessState != nil {
								cpu += (w.ProcessState.UserTime() + w.ProcessState.SystemTime()).Seconds()
							}
						}
						ws = nil
						return cpu
					}
					defer stopWorkers()
					for i := 0; i < k; i++ {
						args := []string{"worker", "--nats", c.url, "--name", fmt.Sprintf("bench-%d", i)}
						if cfgPath != "" {
							args = append(args, "--config", cfgPath)
						}
						w := exec.Command(self, args...)
						w.Env = append(os.Environ(), "CATCH_AS_BINARY=1")
						w.Stderr = nil
						if err := w.Start(); err != nil {
							return distBenchRow{}, err
						}
						ws = append(ws, w)
					}
					// Warm-up: every worker builds its worlds and controller.
					warm := batch(1, 4*k*perMsg)
					if err := r.Run(ctx, warm, make([]policy.Result, len(warm.Tasks))); err != nil {
						return distBenchRow{}, err
					}
					b := batch(0, episodes)
					out := make([]policy.Result, episodes)
					start := time.Now()
					if err := r.Run(ctx, b, out); err != nil {
						return distBenchRow{}, err
					}
					wall := time.Since(start).Seconds()
					data, err := json.Marshal(out)
					if err != nil {
						return distBenchRow{}, err
					}
					h := sha256.Sum256(data)
					cpu := stopWorkers()
					return distBenchRow{Workers: k, Episodes: episodes, WallS: wall, EpisodesPS: float64(episodes) / wall,
						WorkerCPUS: cpu, EpisodesPerCPUS: float64(episodes+len(warm.Tasks)) / cpu,
						ResultsHash: hex.EncodeToString(h[:8])}, nil
				}()
				if err != nil {
					return failed(err)
				}
				rows = append(rows, row)
				fmt.Fprintf(cmd.ErrOrStderr(), "%d worker processes: %.1f episodes/s\n", k, row.EpisodesPS)
			}
			res := struct {
				Rows      []distBenchRow  `json:"rows"`
				Speedup   []float64       `json:"speedup_over_first"`
				Identical bool            `json:"results_identical"`
				Scenario  string          `json:"scenario"`
				Policy    string          `json:"policy"`
				PerMsg    int             `json:"tasks_per_message"`
				Prov      json.RawMessage `json:"provenance"`
			}{Rows: rows, Identical: true, Scenario: scenario, Policy: class, PerMsg: perMsg, Prov: json.RawMessage(record(&cfg, seed).JSON())}
			for _, row := range rows {
				res.Speedup = append(res.Speedup, row.EpisodesPS/rows[0].EpisodesPS)
				res.Identical = res.Identical && row.ResultsHash == rows[0].ResultsHash
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			var parts []string
			for i, row := range rows {
				parts = append(parts, fmt.Sprintf("%d: %.1f episodes/s (×%.2f)", row.Workers, row.EpisodesPS, res.Speedup[i]))
			}
			fmt.Fprintf(w, "%s; results identical: %v\n", strings.Join(parts, ", "), res.Identical)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&procs, "procs", "1,2", "worker process counts to measure, comma-separated")
	countFlag(f, &episodes, "episodes", 400, 1, 1_000_000, "training rollouts per measurement")
	countFlag(f, &perMsg, "tasks-per-message", 4, 1, 4096, "rollouts per task message")
	f.StringVar(&scenario, "scenario", "nominal", "throw scenario")
	f.StringVar(&class, "policy", "structured", "policy class of the fresh policy that flies")
	f.StringVar(&cfgPath, "config", "", "run configuration YAML (robot, sim)")
	f.Uint64Var(&seed, "seed", 1, "random seed")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	root.AddCommand(cmd)
}
