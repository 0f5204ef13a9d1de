package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/hardware/triallog"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/perception/camera"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// rosArgs reads the arguments roslaunch appends to a node's command line
// (__name:=, __ns:=, __log:=); anything else positional is bad input.
func rosArgs(args []string, name, ns *string) error {
	for _, a := range args {
		k, v, ok := strings.Cut(a, ":=")
		if !ok {
			return fmt.Errorf("unexpected argument %q (only ROS remappings such as __name:=NAME)", a)
		}
		switch k {
		case "__name":
			*name = v
		case "__ns":
			*ns = v
		default:
			// __log, __ip, __master and topic remappings (from:=to):
			// goroslib applies remappings from the command line itself.
		}
	}
	return nil
}

func nodeLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

// lockstepFlag is the nodes' --lockstep (overrides node.lockstep when set).
var lockstepFlag bool

func loadNodeSetup(cfgPath, ns string, load func(string) (launch.Config, error)) (launch.Config, *robot.Robot, error) {
	cfg, err := load(cfgPath)
	if err != nil {
		return cfg, nil, err
	}
	if lockstepFlag {
		cfg.Node.Lockstep = true
	}
	if ns != "" {
		cfg.Node.ROS.Namespace = ns
	}
	if err := cfg.Node.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("config %s: %w", cfgPath, err)
	}
	rob, err := robot.Load(cfg.Robot)
	return cfg, rob, err
}

func init() {
	node := &cobra.Command{
		Use:   "node",
		Short: "ROS 1 nodes: controller, simarm, perception",
		Long: `The ROS 1 nodes of the system, for roslaunch (launch/sim.launch,
launch/robot.launch) or by hand. They find the master through ROS_MASTER_URI
and bind to ROS_IP (default 127.0.0.1, loopback only); a master that is down
is retried every node.ros.retry_s, and a restarted master is re-registered
with.`,
	}

	var ctrlName, cfgPath, statsOut, trialLog string
	var dryRun, armFlag, exitOnDone bool
	controller := &cobra.Command{
		Use:   "controller [__name:=NAME]",
		Short: "Observations → estimator → controller → safety → arm, at 250 Hz over ROS",
		Long: `Subscribes joint states (/joint_states), ball observations
(/ball/observation), the e-stop (/catch/estop), its release
(/catch/estop_release) and re-arms (/catch/rearm);
runs the real-time loop (read → estimate → controller → safety → write) and
publishes the arm command (/arm_controller/command), the ball estimate
(/ball/state), plan and forecast markers and /diagnostics. Topic names,
command type and frame in the config's node.ros section.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, ns := "catch_controller", ""
			if err := rosArgs(args, &name, &ns); err != nil {
				return err
			}
			cfg, rob, err := loadNodeSetup(cfgPath, ns, launch.LoadControllerConfig)
			if err != nil {
				return err
			}
			if trialLog != "" {
				cfg.Node.TrialLog = trialLog
			}
			if dryRun {
				cfg.Node.DryRun = true
			}
			if exitOnDone {
				cfg.Node.ExitOnDone = true
			}
			if armFlag {
				if cfg.Node.DryRun {
					return fmt.Errorf("--arm with a dry run: choose one")
				}
				cfg.Node.RequireArm = true
			}
			log := nodeLogger()
			n, err := launch.NewControllerNode(&cfg, rob, ctrlName, name, log)
			if err != nil {
				return err
			}
			if n.Recorder != nil {
				n.Recorder.SetProvenance(json.RawMessage(record(&cfg, 0).JSON()))
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			log.Info("controller node starting", "controller", ctrlName, "name", name, "master", cfg.Node.ROS.WithDefaults().MasterURI,
				"dry_run", cfg.Node.DryRun, "require_arm", cfg.Node.RequireArm, "trial_log", cfg.Node.TrialLog)
			var armErr error
			if armFlag {
				ctx2, cancel := context.WithCancel(ctx)
				defer cancel()
				ctx = ctx2
				go func() {
					// Arm once the driver's first joint state is in; a failed
					// check stops the node.
					deadline := time.Now().Add(10 * time.Second)
					for ctx.Err() == nil {
						if n.IO.DriverJoints() != nil {
							time.Sleep(50 * time.Millisecond) // a few states: ReadState has one
							if armErr = n.Arm(true); armErr != nil {
								cancel()
							}
							return
						}
						if time.Now().After(deadline) {
							armErr = fmt.Errorf("--arm: no joint state from the driver within 10 s")
							cancel()
							return
						}
						time.Sleep(10 * time.Millisecond)
					}
				}()
			}
			err = n.Run(ctx)
			if err == nil {
				err = armErr
			}
			st := n.Stats()
			if statsOut != "" {
				b, _ := json.MarshalIndent(st, "", "  ")
				if werr := os.WriteFile(statsOut, append(b, '\n'), 0o644); werr != nil && err == nil {
					err = werr
				}
			}
			log.Info("controller node stopped", "ticks", st.Ticks, "overruns", st.Overruns, "jitter_p99_us", st.JitterUS.P99, "interventions", st.Interventions.Total())
			return failed(err)
		},
	}
	f := controller.Flags()
	f.StringVar(&ctrlName, "controller", "hold", "controller: "+joinNames(launch.Controllers()))
	f.StringVar(&cfgPath, "config", "", "run configuration YAML (robot, sim, node); without one, commands are withheld until armed (node.require_arm)")
	f.StringVar(&statsOut, "stats-out", "", "write the loop statistics as JSON to this file on exit")
	f.BoolVar(&lockstepFlag, "lockstep", false, "simulated time: joint-state stamps pace the loop (with 'node simarm --lockstep')")
	f.StringVar(&trialLog, "trial-log", "", "append one JSON line per throw to this file (overrides node.trial_log)")
	f.BoolVar(&dryRun, "dry-run", false, "compute and publish everything, never send a command to the arm (commands go to /catch/dry_run/command)")
	f.BoolVar(&exitOnDone, "exit-on-done", false, "exit when the simulated arm reports the end of a finite run on /catch/done (sets node.exit_on_done)")
	f.BoolVar(&armFlag, "arm", false, "send commands to the arm once the driver's joint names and positions pass the URDF check (else they are withheld until /catch/arm true, with node.require_arm)")
	node.AddCommand(controller)

	var (
		scenario, resultsPath, simCfg, fidelity, engine string
		seed                                            uint64
		trials, first                                   int
		pause                                           float64
		imageScale                                      float64
	)
	simarm := &cobra.Command{
		Use:   "simarm [__name:=NAME]",
		Short: "Simulated arm and thrower behind the topics of a real ros_control arm",
		Long: `Publishes joint states at 250 Hz, obeys commands on the command topic
with the scenario's action latency and the arm's limits, flies the scenario's
throws (throw i is the one 'catch sim --seed S' flies as trial i), publishes
ball observations at the camera rate with the scenario's noise and latency,
judges catches with the pocket model and publishes /catch/sensor. Before each
throw it re-arms the controller (/catch/rearm) and waits for /catch/armed.
With --results, one JSON line per throw (the 'catch sim --log' format).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, ns := "catch_simarm", ""
			if err := rosArgs(args, &name, &ns); err != nil {
				return err
			}
			cfg, rob, err := loadNodeSetup(simCfg, ns, launch.LoadConfig)
			if err != nil {
				return err
			}
			sc, err := sim.Lookup(scenario)
			if err != nil {
				return err
			}
			if fidelity != "state" && fidelity != "camera" {
				return fmt.Errorf("--fidelity %q: accepted: state, camera", fidelity)
			}
			if imageScale != 0 {
				cfg.Node.Camera.Scale = imageScale
			}
			if err := cfg.Node.Validate(); err != nil {
				return err
			}
			eng, err := launch.NewEngine(engine, &cfg)
			if err != nil {
				return fmt.Errorf("--engine: %w", err)
			}
			if trials < 0 || first < 0 || pause < 0 {
				return fmt.Errorf("--trials, --first and --pause must not be negative")
			}
			var out io.Writer
			if resultsPath == "-" {
				out = cmd.OutOrStdout()
			} else if resultsPath != "" {
				w, err := triallog.Open(resultsPath, triallog.Options{NoSync: true, Check: sim.CheckLogLine})
				if err != nil {
					return fmt.Errorf("--results: %w", err)
				}
				defer w.Close()
				out = w
			}
			runID := triallog.NewRunID()
			log := nodeLogger()
			var werr error
			var done []sim.TrialResult
			s, err := launch.NewSimArm(launch.SimArmOptions{
				Config: &cfg, Robot: rob, Scenario: sc, Seed: seed, First: first, Trials: trials, PauseS: pause,
				NodeName: name, Log: log, Fidelity: fidelity, Engine: eng,
				Result: func(r sim.TrialResult) {
					log.Info("throw", "trial", r.Index, "catchable", r.Catchable, "caught", r.Caught, "miss_m", r.MissDistanceM, "limit_violations", r.LimitViolations)
					done = append(done, r)
					if out != nil && werr == nil {
						var line []byte
						line, werr = json.Marshal(sim.LogRecord{Run: runID, Seed: seed, Fidelity: fidelity, TrialResult: r})
						if werr == nil {
							_, werr = out.Write(append(line, '\n'))
						}
					}
				},
			})
			if err != nil {
				return err
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			err = s.Run(ctx)
			if ctx.Err() != nil && trials == 0 {
				err = nil // stopped by a signal: the normal end of an endless run
			}
			if len(done) > 0 {
				// The run's figure, on stderr beside the node's log.
				sum := sim.Summarize(done, nil)
				fmt.Fprintf(cmd.ErrOrStderr(), "simarm: %s, %d throws: %d catchable, %d caught, success %.1f%% (95%% CI %.1f–%.1f%%), limit violations %d, %s engine\n",
					sc.Name, sum.Trials, sum.Catchable, sum.Caught, 100*sum.SuccessRate, 100*sum.CI95[0], 100*sum.CI95[1], sum.LimitViolations, eng.Name())
			}
			if err == nil {
				err = werr
			}
			return failed(err)
		},
	}
	g := simarm.Flags()
	g.StringVar(&scenario, "scenario", "nominal", "scenario name ("+joinNames(sim.Names())+") or a scenario .yaml file")
	g.Uint64Var(&seed, "seed", 1, "random seed (throw i is trial i of 'catch sim --seed')")
	countFlag(g, &trials, "trials", 0, 0, sim.MaxTrials, "number of throws (0: until stopped)")
	g.IntVar(&first, "first", 0, "index of the first throw")
	g.Float64Var(&pause, "pause", 1, "seconds between throws")
	g.StringVar(&resultsPath, "results", "", "append one JSON line per throw to this file (- for stdout)")
	g.StringVar(&simCfg, "config", "", "run configuration YAML (robot, sim, node)")
	g.BoolVar(&lockstepFlag, "lockstep", false, "simulated time: wait for the controller's command of each tick (with 'node controller --lockstep')")
	g.StringVar(&engine, "engine", "kinematic", "physics engine of the simulated arm, ball and net: "+joinNames(launch.Engines()))
	g.StringVar(&fidelity, "fidelity", "state", "perception fidelity: state (3D observations with the scenario's noise on ball/observation) or camera (rendered frames of the default rig on <camera>/image_raw for 'catch node perception'; size and rate in node.camera)")
	g.Float64Var(&imageScale, "image-scale", 0, "camera fidelity: image size as a fraction of 1280×1024 (overrides node.camera.scale, default 0.5; the perception node needs the same)")
	node.AddCommand(simarm)

	var rigPath, percCfg, ballName string
	var percScale float64
	perc := &cobra.Command{
		Use:   "perception [__name:=NAME]",
		Short: "Camera frames (sensor_msgs/Image per camera) → ball observations",
		Long: `Subscribes <camera>/image_raw (bgr8, rgb8 or mono8) for each camera of the
rig, matches the frames of one instant by stamp, detects the ball with the
gocv tracker (perception/vision: colour detection, ROI tracking, stereo
triangulation, outlier gating) and publishes geometry_msgs/PointStamped on
ball/observation, stamped with the frames' capture time.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, ns := "catch_perception", ""
			if err := rosArgs(args, &name, &ns); err != nil {
				return err
			}
			cfg, _, err := loadNodeSetup(percCfg, ns, launch.LoadConfig)
			if err != nil {
				return err
			}
			if percScale != 0 {
				cfg.Node.Camera.Scale = percScale
			}
			if err := cfg.Node.Validate(); err != nil {
				return err
			}
			base := camera.DefaultRig()
			if rigPath != "" {
				if base, err = camera.LoadRig(rigPath); err != nil {
					return err
				}
			}
			// The images' camera model: the rig with its intrinsics scaled
			// as simarm's camera fidelity scales its frames (node.camera.scale;
			// 1 for a real camera at full resolution).
			rig, err := cfg.Node.Camera.Rig(base)
			if err != nil {
				return err
			}
			props, err := ball.ByName(ballName)
			if err != nil {
				return err
			}
			log := nodeLogger()
			n, err := launch.NewPerceptionNode(&cfg, rig, props, name, log)
			if err != nil {
				return err
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			err = n.Run(ctx)
			steps, found, dropped := n.Stats()
			log.Info("perception node stopped", "stereo_steps", steps, "found", found, "frames_dropped", dropped)
			return failed(err)
		},
	}
	h := perc.Flags()
	h.StringVar(&rigPath, "rig", "", "camera rig YAML (camera_info calibrations and poses); default the built-in stereo pair")
	h.StringVar(&percCfg, "config", "", "run configuration YAML (node.ros, sim.estimator)")
	h.StringVar(&ballName, "ball", "tennis", "ball set the tracker looks for")
	h.Float64Var(&percScale, "image-scale", 0, "image size as a fraction of the rig's calibration (overrides node.camera.scale, default 0.5 to match 'node simarm --fidelity camera'; 1 for a real camera's full frames)")
	node.AddCommand(perc)
	root.AddCommand(node)
}
