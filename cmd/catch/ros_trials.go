package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/hardware/triallog"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// rosTrialsSummary is `catch sim`'s JSON plus what the ROS run adds.
type rosTrialsSummary struct {
	sim.Summary
	ROS rosTrialsExtra `json:"ros"`
}

type rosTrialsExtra struct {
	Master    string            `json:"master"`
	Namespace string            `json:"namespace"`
	Lockstep  bool              `json:"lockstep"`
	Loop      control.LoopStats `json:"controller_loop"`
	// Requested is --trials; Partial is set when a node died or the run was
	// stopped before all of them completed (the summary covers those that
	// did).
	Requested int  `json:"requested_trials"`
	Partial   bool `json:"partial,omitempty"`
	// ComputeMS above is the controller node's whole tick (read, estimate,
	// controller, safety, write), not the controller step alone.
	Note string `json:"note"`
}

func init() {
	var (
		ctrl, scenario, cfgPath, fidelity, logPath, engine string
		trials                                             int
		seed                                               uint64
		asJSON, keep                                       bool
		pause                                              float64
		niceness                                           int
		lockstep                                           bool
	)
	cmd := &cobra.Command{
		Use:   "ros-trials",
		Short: "Run catching trials through ROS: simarm and controller as separate node processes",
		Long: `Starts 'catch node controller' and 'catch node simarm' as separate
processes in a fresh namespace on the ROS master at ROS_MASTER_URI (or, when
none answers there, on Debian's rosmaster started on a free loopback port
for this run), flies --trials throws of the scenario in real time, and prints
the same summary as 'catch sim' (same throws and observation noise for the
same seed), plus the controller loop's statistics under "ros".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fidelity != "state" && fidelity != "camera" {
				return fmt.Errorf("--fidelity %q: accepted: state, camera", fidelity)
			}
			if fidelity == "camera" && lockstep {
				return fmt.Errorf("--fidelity camera runs in real time only (no --lockstep)")
			}
			cfg, err := launch.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			if _, err := sim.Lookup(scenario); err != nil {
				return err
			}
			rob, err := robot.Load(cfg.Robot)
			if err != nil {
				return err
			}
			if _, err := launch.NewController(ctrl, rob, &cfg); err != nil {
				return err
			}
			if _, err := launch.NewEngine(engine, &cfg); err != nil {
				return fmt.Errorf("--engine: %w", err)
			}
			if trials <= 0 {
				return fmt.Errorf("--trials %d: want > 0", trials)
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			var log *triallog.Writer
			if logPath != "" {
				// Open before any node starts: a file that is not a sim trial
				// log is refused here, not after the run.
				if log, err = triallog.Open(logPath, triallog.Options{NoSync: true, Check: sim.CheckLogLine}); err != nil {
					return fmt.Errorf("--log: %w", err)
				}
				defer log.Close()
			}
			sum, err := rosTrials(ctx, rosTrialsOpts{ctrl: ctrl, scenario: scenario, cfgPath: cfgPath, trials: trials, seed: seed, pause: pause, keep: keep, log: log, nice: niceness, lockstep: lockstep, fidelity: fidelity, engine: engine})
			if err != nil {
				if sum.ROS.Partial {
					// What completed before the failure still counts: print it,
					// then fail.
					_ = printROSTrials(cmd.OutOrStdout(), sum, asJSON)
					fmt.Fprintf(cmd.ErrOrStderr(), "ros-trials: partial results: %d of %d trials completed\n", sum.Trials, trials)
				}
				return failed(err)
			}
			return printROSTrials(cmd.OutOrStdout(), sum, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&ctrl, "controller", "hold", "controller: "+joinNames(launch.Controllers()))
	f.StringVar(&scenario, "scenario", "nominal", "scenario name ("+joinNames(sim.Names())+") or a scenario .yaml file")
	countFlag(f, &trials, "trials", 20, 1, sim.MaxTrials, "number of throws")
	f.Uint64Var(&seed, "seed", 1, "random seed (same throws as 'catch sim --seed')")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.StringVar(&cfgPath, "config", "", "run configuration YAML (robot, sim, node)")
	f.StringVar(&engine, "engine", "kinematic", "physics engine of the simulated arm, ball and net behind ROS: "+joinNames(launch.Engines()))
	f.StringVar(&fidelity, "fidelity", "state", "perception fidelity: state (simarm publishes noisy 3D observations) or camera (simarm publishes rendered images, node.camera: 640×512 by default; a third process, 'catch node perception', detects and triangulates)")
	f.Float64Var(&pause, "pause", 0.1, "seconds between throws")
	f.StringVar(&logPath, "log", "", "append one JSON line per trial to this file as each completes (the 'catch sim --log' format; another kind of file is refused)")
	f.BoolVar(&lockstep, "lockstep", false, "simulated time: the simulated arm waits for the controller's command of each 4 ms tick, so results do not depend on the machine's load (default: real time)")
	f.IntVar(&niceness, "nice", 0, "run the node processes under nice(1) with this niceness (negative needs root or CAP_SYS_NICE): real-time trials on a busy machine")
	f.BoolVar(&keep, "keep-logs", false, "keep the nodes' logs (printed paths) even on success")
	root.AddCommand(cmd)
}

func printROSTrials(w io.Writer, sum rosTrialsSummary, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	if err := printSummary(w, sum.Summary, false); err != nil {
		return err
	}
	l := sum.ROS.Loop
	fmt.Fprintf(w, "  controller loop: %d ticks, %d overruns, jitter p99 %.0f µs, %d safety interventions\n",
		l.Ticks, l.Overruns, l.JitterUS.P99, l.Interventions.Total())
	return nil
}

type rosTrialsOpts struct {
	ctrl, scenario, cfgPath string
	engine                  string
	log                     *triallog.Writer
	trials                  int
	seed                    uint64
	pause                   float64
	keep                    bool
	nice                    int
	lockstep                bool
	fidelity                string
}

func rosTrials(ctx context.Context, o rosTrialsOpts) (rosTrialsSummary, error) {
	var out rosTrialsSummary
	start := time.Now()
	dir, err := os.MkdirTemp("", "catch-ros-trials-")
	if err != nil {
		return out, err
	}
	defer func() {
		if !o.keep {
			os.RemoveAll(dir)
		}
	}()
	master, stopMaster, err := ensureMaster(ctx, dir)
	if err != nil {
		return out, err
	}
	defer stopMaster()
	self, err := os.Executable()
	if err != nil {
		return out, err
	}
	if b := os.Getenv("CATCH_NODE_BINARY"); b != "" {
		self = b // tests: the test binary acting as catch
	}
	ns := fmt.Sprintf("/catch_trials_%d", os.Getpid())
	env := append(os.Environ(), "ROS_MASTER_URI="+master)
	if os.Getenv("ROS_IP") == "" && os.Getenv("ROS_HOSTNAME") == "" {
		env = append(env, "ROS_IP=127.0.0.1")
	}
	statsPath := filepath.Join(dir, "controller-stats.json")
	resultsPath := filepath.Join(dir, "results.jsonl")
	cfgArgs := []string{}
	if o.cfgPath != "" {
		cfgArgs = []string{"--config", o.cfgPath}
	} else {
		// A controller node without a config withholds its commands until
		// armed (safe for a real arm); the simulated arm here needs them,
		// so it gets the defaults from an explicit, empty config.
		empty := filepath.Join(dir, "defaults.yaml")
		if err := os.WriteFile(empty, []byte("# catch ros-trials: defaults, commands sent without arming (simulated arm)\n"), 0o644); err != nil {
			return out, err
		}
		cfgArgs = []string{"--config", empty}
	}
	if o.lockstep {
		cfgArgs = append(cfgArgs, "--lockstep")
	}
	start1 := func(name string, args ...string) (*exec.Cmd, *os.File, error) {
		logf, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			return nil, nil, err
		}
		c := exec.Command(self, args...)
		if o.nice != 0 {
			nice, err := exec.LookPath("nice")
			if err != nil {
				return nil, nil, fmt.Errorf("--nice: %w", err)
			}
			c = exec.Command(nice, append([]string{"-n", strconv.Itoa(o.nice), self}, args...)...)
		}
		c.Env = env
		c.Stdout, c.Stderr = logf, logf
		if err := c.Start(); err != nil {
			logf.Close()
			return nil, nil, fmt.Errorf("starting %s: %w", name, err)
		}
		return c, logf, nil
	}
	ctl, ctlLog, err := start1("controller", append(append([]string{"node", "controller", "--controller", o.ctrl, "--stats-out", statsPath}, cfgArgs...), "__name:=controller", "__ns:="+ns)...)
	if err != nil {
		return out, err
	}
	defer ctlLog.Close()
	ctlDone := make(chan error, 1)
	go func() { ctlDone <- ctl.Wait() }()
	stopCtl := func() error {
		_ = ctl.Process.Signal(os.Interrupt)
		select {
		case err := <-ctlDone:
			return err
		case <-time.After(10 * time.Second):
			_ = ctl.Process.Kill()
			return fmt.Errorf("controller node did not stop on SIGINT within 10 s")
		}
	}
	if o.fidelity == "" {
		o.fidelity = "state"
	}
	percDone := make(chan error, 1)
	if o.fidelity == "camera" {
		perc, percLog, err := start1("perception", append(append([]string{"node", "perception"}, cfgArgs...), "__name:=perception", "__ns:="+ns)...)
		if err != nil {
			stopCtl()
			return out, err
		}
		defer percLog.Close()
		go func() { percDone <- perc.Wait() }()
		defer func() {
			_ = perc.Process.Signal(os.Interrupt)
			select {
			case <-percDone:
			case <-time.After(10 * time.Second):
				_ = perc.Process.Kill()
				<-percDone
			}
		}()
	}
	if o.engine == "" {
		o.engine = "kinematic"
	}
	simArgs := append([]string{"node", "simarm", "--engine", o.engine, "--scenario", o.scenario, "--seed", strconv.FormatUint(o.seed, 10),
		"--trials", strconv.Itoa(o.trials), "--pause", strconv.FormatFloat(o.pause, 'g', -1, 64), "--results", resultsPath, "--fidelity", o.fidelity}, cfgArgs...)
	sa, saLog, err := start1("simarm", append(simArgs, "__name:=simarm", "__ns:="+ns)...)
	if err != nil {
		stopCtl()
		return out, err
	}
	defer saLog.Close()
	saDone := make(chan error, 1)
	go func() { saDone <- sa.Wait() }()
	// The simarm writes one line per throw as it lands; fol copies each to
	// --log as it appears, so a node that dies loses nothing completed.
	fol := &resultFollower{path: resultsPath, log: o.log, run: triallog.NewRunID(), ctrl: o.ctrl}
	partial := func(err error) (rosTrialsSummary, error) {
		if ferr := fol.poll(); ferr != nil {
			err = fmt.Errorf("%w; and reading its results: %v", err, ferr)
		}
		if len(fol.results) > 0 {
			out.Summary = sim.Summarize(fol.results, nil)
			out.Controller, out.Scenario, out.Fidelity, out.Seed = o.ctrl, fol.results[0].Scenario, o.fidelity, o.seed
			out.Engine = fol.results[0].Engine
			out.ROS.Requested, out.ROS.Partial = o.trials, true
			out.ROS.Master, out.ROS.Namespace, out.ROS.Lockstep = master, ns, o.lockstep
			out.WallS = time.Since(start).Seconds()
			out.ROS.Note = fmt.Sprintf("partial: %d of %d trials completed before the failure", len(fol.results), o.trials)
		}
		return out, err
	}
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	var runErr error
wait:
	for {
		select {
		case <-poll.C:
			if err := fol.poll(); err != nil {
				_ = sa.Process.Signal(os.Interrupt)
				<-saDone
				stopCtl()
				return partial(err)
			}
		case runErr = <-saDone:
			if runErr != nil {
				runErr = fmt.Errorf("simarm node failed (%v); its log:\n%s", runErr, tail(filepath.Join(dir, "simarm.log")))
			}
			break wait
		case err := <-percDone:
			_ = sa.Process.Signal(os.Interrupt)
			<-saDone
			stopCtl()
			percDone <- err // for the deferred stop
			return partial(fmt.Errorf("perception node exited early (%v); its log:\n%s", err, tail(filepath.Join(dir, "perception.log"))))
		case err := <-ctlDone:
			_ = sa.Process.Signal(os.Interrupt)
			<-saDone
			return partial(fmt.Errorf("controller node exited early (%v); its log:\n%s", err, tail(filepath.Join(dir, "controller.log"))))
		case <-ctx.Done():
			_ = sa.Process.Signal(os.Interrupt)
			<-saDone
			stopCtl()
			return partial(ctx.Err())
		}
	}
	if err := stopCtl(); err != nil && runErr == nil {
		runErr = fmt.Errorf("controller node: %w; its log:\n%s", err, tail(filepath.Join(dir, "controller.log")))
	}
	if runErr != nil {
		return partial(runErr)
	}
	if err := fol.poll(); err != nil {
		return partial(err)
	}
	results := fol.results
	if len(results) != o.trials {
		return partial(fmt.Errorf("simarm reported %d of %d throws", len(results), o.trials))
	}
	b, err := os.ReadFile(statsPath)
	if err != nil {
		return out, fmt.Errorf("controller statistics: %w", err)
	}
	if err := json.Unmarshal(b, &out.ROS.Loop); err != nil {
		return out, fmt.Errorf("controller statistics: %w", err)
	}
	out.Summary = sim.Summarize(results, nil)
	out.Controller, out.Scenario, out.Fidelity, out.Seed = o.ctrl, results[0].Scenario, o.fidelity, o.seed
	out.Engine = results[0].Engine
	w := out.ROS.Loop.WorkUS
	out.ComputeMS = sim.ComputeStats{P50: w.P50 / 1e3, P99: w.P99 / 1e3, Max: w.Max / 1e3}
	out.WallS = time.Since(start).Seconds()
	out.TrialsPerS = float64(o.trials) / out.WallS
	out.ROS.Master, out.ROS.Namespace = master, ns
	out.ROS.Requested = o.trials
	out.ROS.Note = "compute_ms is the controller node's whole loop tick; trials run in real time"
	if o.lockstep {
		out.ROS.Note = "compute_ms is the controller node's whole loop tick; lockstep: simulated time paced by the controller's answers"
	}
	out.ROS.Lockstep = o.lockstep
	if o.keep {
		fmt.Fprintf(os.Stderr, "ros-trials: node logs in %s\n", dir)
	}
	return out, nil
}

// resultFollower reads the simarm's results file as it grows: each complete
// line is a trial, kept in results and appended to log (with this run's id
// and the controller) at once.
type resultFollower struct {
	path      string
	off       int64
	log       *triallog.Writer
	run, ctrl string
	results   []sim.TrialResult
}

func (r *resultFollower) poll() error {
	f, err := os.Open(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // no throw has landed yet
	}
	if err != nil {
		return fmt.Errorf("simarm results: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, r.off, 1<<40))
	if err != nil {
		return fmt.Errorf("simarm results: %w", err)
	}
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil // a line being written: the next poll reads it whole
		}
		line := b[:i]
		b = b[i+1:]
		r.off += int64(i + 1)
		var rec sim.LogRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("simarm results line %d: %w", len(r.results)+1, err)
		}
		r.results = append(r.results, rec.TrialResult)
		if r.log != nil {
			rec.Run, rec.Controller = r.run, r.ctrl
			out, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			if _, err := r.log.Write(append(out, '\n')); err != nil {
				return fmt.Errorf("--log: %w", err)
			}
		}
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// ensureMaster returns the URI of a ROS master that answers: ROS_MASTER_URI's
// when something listens there, otherwise Debian's rosmaster started on a
// free loopback port (stopped by the returned func).
func ensureMaster(ctx context.Context, dir string) (string, func(), error) {
	if uri := os.Getenv("ROS_MASTER_URI"); uri != "" {
		if u, err := url.Parse(uri); err == nil && u.Host != "" {
			if c, err := net.DialTimeout("tcp", u.Host, 500*time.Millisecond); err == nil {
				c.Close()
				return uri, func() {}, nil
			}
		}
	}
	bin, err := exec.LookPath("rosmaster")
	if err != nil {
		return "", nil, fmt.Errorf("no ROS master answers at ROS_MASTER_URI=%q and rosmaster is not on PATH (make deps installs python3-rosmaster)", os.Getenv("ROS_MASTER_URI"))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	uri := fmt.Sprintf("http://127.0.0.1:%d/", port)
	logf, err := os.Create(filepath.Join(dir, "rosmaster.log"))
	if err != nil {
		return "", nil, err
	}
	c := exec.Command(bin, "--core", "-p", strconv.Itoa(port))
	c.Env = append(os.Environ(), "ROS_IP=127.0.0.1", "ROS_HOSTNAME=127.0.0.1", "ROS_MASTER_URI="+uri, "ROS_HOME="+dir)
	c.Stdout, c.Stderr = logf, logf
	if err := c.Start(); err != nil {
		logf.Close()
		return "", nil, fmt.Errorf("starting rosmaster: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done); logf.Close() }()
	stop := func() {
		_ = c.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond); err == nil {
			conn.Close()
			fmt.Fprintf(os.Stderr, "ros-trials: started rosmaster at %s\n", uri)
			return uri, stop, nil
		}
		select {
		case <-done:
			return "", nil, fmt.Errorf("rosmaster exited before answering; its log:\n%s", tail(filepath.Join(dir, "rosmaster.log")))
		case <-ctx.Done():
			stop()
			return "", nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("rosmaster did not answer at %s within 20 s", uri)
		}
	}
}
