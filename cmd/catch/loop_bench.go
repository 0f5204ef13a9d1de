package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/perception"
	"github.com/agilecatch/catch/robot"
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
}

func init() {
	var (
		seconds, rate float64
		ctrl, cfgPath string
		asJSON        bool
		rtPrio        int
	)
	cmd := &cobra.Command{
		Use:   "loop-bench",
		Short: "Run the real-time control loop on the wall clock and report jitter, overruns and allocations",
		Long: `Runs the control loop (read → estimate → controller step → safety →
write) against a mirroring fake arm at --rate for --seconds on the wall
clock, with ball observations fed from another goroutine at 125 Hz, and
reports the wake-up jitter (p50/p99/max), the tick's own time, overruns and
skipped deadlines, and allocations per tick.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !(seconds > 0) || !(rate > 0) {
				return fmt.Errorf("--seconds and --rate must be > 0")
			}
			cfg, err := launch.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			rob, err := robot.Load(cfg.Robot)
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
			go feedThrows(ctx, loop, clk, sc)
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			_ = loop.Run(ctx)
			runtime.ReadMemStats(&m1)
			st := loop.Stats()
			out := loopBench{
				Controller: c.Name(), RateHz: rate, Seconds: seconds, Ticks: st.Ticks, Overruns: st.Overruns, Skipped: st.Skipped,
				JitterUS: st.JitterUS, WorkUS: st.WorkUS, AllocsPerTick: allocs,
				ProcessAllocsPerTick: float64(m1.Mallocs-m0.Mallocs) / float64(max(st.Ticks, 1)),
				GCCycles:             m1.NumGC - m0.NumGC, Interventions: st.Interventions.Total(), GOMAXPROCS: runtime.GOMAXPROCS(0), RTPriority: lc.RTPriority,
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s at %.0f Hz for %.0f s: %d ticks, %d overruns (%d skipped); jitter p50 %.0f µs, p99 %.0f µs, max %.0f µs; tick p99 %.0f µs; %.1f allocs/tick\n",
				out.Controller, rate, seconds, out.Ticks, out.Overruns, out.Skipped, out.JitterUS.P50, out.JitterUS.P99, out.JitterUS.Max, out.WorkUS.P99, out.AllocsPerTick)
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
	root.AddCommand(cmd)
}

// feedThrows plays nominal throws (no noise) into the loop's observation
// queue at 125 Hz, one every 1.5 s, re-arming before each.
func feedThrows(ctx context.Context, loop *control.Loop, clk *control.WallClock, sc *sim.Scenario) {
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
			st = sc.Sample(sim.TrialRand(1, i))
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
