package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/perception"
	"github.com/agilecatch/catch/sim"
)

// loopBench is the JSON printed by `catch loop-bench`.
type loopBench struct {
	Controller    string            `json:"controller"`
	RateHz        float64           `json:"rate_hz"`
	Seconds       float64           `json:"seconds"`
	Ticks         uint64            `json:"ticks"`
	Overruns      uint64            `json:"overruns"`
	Skipped       uint64            `json:"skipped"`
	JitterUS      control.Quantiles `json:"jitter_us"`
	WorkUS        control.Quantiles `json:"work_us"`
	AllocsPerTick float64           `json:"allocs_per_tick"`
	// ProcessAllocsPerTick divides every heap allocation of the process
	// during the run (including the observation feeder and the runtime) by
	// the ticks: an upper bound on the tick's own.
	ProcessAllocsPerTick float64 `json:"process_allocs_per_tick"`
	GCCycles             uint32  `json:"gc_cycles"`
	Interventions        uint64  `json:"safety_interventions"`
	GOMAXPROCS           int     `json:"gomaxprocs"`
	RTPriority           int     `json:"rt_priority"`
	// Hog is the number of busy child processes (`catch hog`) that ran
	// beside the loop; NumCPU the machine's cores.
	Hog    int    `json:"hog_processes"`
	NumCPU int    `json:"num_cpu"`
	Seed   uint64 `json:"seed"`
}

func init() {
	var (
		seconds, rate float64
		ctrl, cfgPath string
		asJSON        bool
		rtPrio, hog   int
		seed          uint64
	)
	cmd := &cobra.Command{
		Use:   "loop-bench",
		Short: "Run the real-time control loop on the wall clock and report jitter, overruns and allocations",
		Long: `Runs the control loop (read → estimate → controller step → safety →
write) against a mirroring fake arm at --rate for --seconds on the wall
clock, with ball observations fed from another goroutine at 125 Hz, and
reports the wake-up jitter (p50/p99/max), the tick's own time, overruns and
skipped deadlines, and allocations per tick. --hog N runs N busy child
processes (sh spinning in a loop, one core each) beside the loop for the
whole run: the loop under a CPU hog. The throws fed are scenario nominal's,
sampled with --seed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !(seconds > 0) || !(rate > 0) {
				return fmt.Errorf("--seconds and --rate must be > 0")
			}
			if hog < 0 || hog > 256 {
				return fmt.Errorf("--hog %d: want 0..256 busy processes", hog)
			}
			cfg, rob, err := loadConfigRobot(cfgPath)
			if err != nil {
				return err
			}
			c, err := launch.NewController(ctrl, rob, &cfg)
			if err != nil {
				return err
			}
			lc := cfg.Node.Loop
			lc.RateHz = rate
			if cmd.Flags().Changed("rt-priority") {
				lc.RTPriority = rtPrio
			}
			if err := lc.Validate(); err != nil {
				return err
			}
			sc, _ := sim.Lookup("nominal")
			props := sc.BallProps()
			est, err := perception.NewEstimator(cfg.Sim.Estimator, props)
			if err != nil {
				return err
			}
			safety, err := control.NewSafety(lc.Safety, rob, lc.Period().Seconds())
			if err != nil {
				return err
			}
			clk := control.NewWallClock()
			arm := control.NewMirrorArm(sim.DefaultReadyQ, 0)
			loop, err := control.NewLoop(lc, clk, arm, c, est, safety, nodeLogger())
			if err != nil {
				return err
			}
			loop.SetProps(&props)
			// Exact allocation count of one tick, outside the timed run.
			now := time.Duration(0)
			allocs := allocsPerRun(500, func() {
				now += lc.Period()
				arm.WriteCommand(now, &control.Command{})
				loop.Observe(now, [3]float64{3, 0, 1})
				loop.Tick(now)
			})
			loop, _ = control.NewLoop(lc, clk, arm, c, est, safety, nodeLogger())
			loop.SetProps(&props)
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Duration(seconds*float64(time.Second)))
			defer cancel()
			stopHogs, err := startHogs(hog, seconds)
			if err != nil {
				return failed(err)
			}
			defer stopHogs()
			go feedThrows(ctx, loop, clk, sc, seed)
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			_ = loop.Run(ctx)
			runtime.ReadMemStats(&m1)
			stopHogs()
			st := loop.Stats()
			out := loopBench{
				Controller: c.Name(), RateHz: rate, Seconds: seconds, Ticks: st.Ticks, Overruns: st.Overruns, Skipped: st.Skipped,
				JitterUS: st.JitterUS, WorkUS: st.WorkUS, AllocsPerTick: allocs,
				ProcessAllocsPerTick: float64(m1.Mallocs-m0.Mallocs) / float64(max(st.Ticks, 1)),
				GCCycles:             m1.NumGC - m0.NumGC, Interventions: st.Interventions.Total(), GOMAXPROCS: runtime.GOMAXPROCS(0), RTPriority: lc.RTPriority,
				Hog: hog, NumCPU: runtime.NumCPU(), Seed: seed,
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s at %.0f Hz for %.0f s with %d hog processes on %d cores: %d ticks, %d overruns (%d skipped); jitter p50 %.0f µs, p99 %.0f µs, max %.0f µs; tick p99 %.0f µs; %.1f allocs/tick\n",
				out.Controller, rate, seconds, hog, out.NumCPU, out.Ticks, out.Overruns, out.Skipped, out.JitterUS.P50, out.JitterUS.P99, out.JitterUS.Max, out.WorkUS.P99, out.AllocsPerTick)
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&seconds, "seconds", 60, "run time, s")
	f.Float64Var(&rate, "rate", 250, "loop rate, Hz")
	f.StringVar(&ctrl, "controller", "hold", "controller: "+joinNames(launch.Controllers()))
	f.StringVar(&cfgPath, "config", "", "run configuration YAML")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.IntVar(&rtPrio, "rt-priority", 0, "run the loop thread under SCHED_FIFO at this priority (0: normal scheduling)")
	f.IntVar(&hog, "hog", 0, "busy child processes to run beside the loop (a CPU hog; 0: none)")
	f.Uint64Var(&seed, "seed", 1, "random seed of the throws fed to the loop")
	root.AddCommand(cmd)
}

// startHogs starts n busy child processes (a POSIX shell spinning in an
// empty loop, one core each); the returned stop kills and reaps them (it
// may be called more than once). They also end after a little more than
// seconds, should this process die first.
func startHogs(n int, seconds float64) (stop func(), err error) {
	var procs []*exec.Cmd
	stop = func() {
		for _, p := range procs {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
		procs = nil
	}
	if n == 0 {
		return stop, nil
	}
	// SECONDS is the shell's own clock: the loop ends on its own.
	script := "end=$((SECONDS+" + strconv.Itoa(int(math.Ceil(seconds))+5) + ")); while [ $SECONDS -lt $end ]; do :; done"
	for i := 0; i < n; i++ {
		p := exec.Command("sh", "-c", script)
		if err := p.Start(); err != nil {
			stop()
			return stop, fmt.Errorf("--hog: start hog %d: %w", i, err)
		}
		procs = append(procs, p)
	}
	return stop, nil
}

// feedThrows plays nominal throws (no noise) into the loop's observation
// queue at 125 Hz, one every 1.5 s, re-arming before each.
func feedThrows(ctx context.Context, loop *control.Loop, clk *control.WallClock, sc *sim.Scenario, seed uint64) {
	t := time.NewTicker(8 * time.Millisecond)
	defer t.Stop()
	var i int
	var throwAt time.Duration
	var st sim.Throw
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := clk.Now()
		if i == 0 || now-throwAt > 1500*time.Millisecond {
			st = sc.Sample(sim.TrialRand(seed, i))
			throwAt = now
			loop.Rearm(control.Rearm{Seq: uint32(i), Epoch: now})
			i++
		}
		b := st.Init
		st.Ball.Propagate(&b, (now - throwAt).Seconds(), 0)
		if b.P[2] > 0 {
			loop.Observe(now, b.P)
		}
	}
}
