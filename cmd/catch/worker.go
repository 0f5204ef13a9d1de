package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/dist"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// envFingerprint hashes what a rollout depends on beyond its task's Spec:
// the robot description (config and URDF file) and the MuJoCo engine's
// settings. Trainer and workers must agree on it.
func envFingerprint(cfg *launch.Config) (string, error) {
	h := sha256.New()
	rc, err := json.Marshal(cfg.Robot)
	if err != nil {
		return "", err
	}
	h.Write(rc)
	if cfg.Robot.URDF != "" {
		data, err := os.ReadFile(cfg.Robot.URDF)
		if err != nil {
			return "", fmt.Errorf("robot urdf: %w", err)
		}
		h.Write(data)
	}
	mc, err := json.Marshal(cfg.MuJoCo)
	if err != nil {
		return "", err
	}
	h.Write(mc)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// engineResolver resolves a Spec's engine name with the run's config.
func engineResolver(cfg *launch.Config) func(string) (sim.Engine, error) {
	return func(name string) (sim.Engine, error) { return launch.NewEngine(name, cfg) }
}

// connectNATS connects to url, retrying while the server comes up.
func connectNATS(url, name string) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("--nats %s: %w", url, err)
	}
	return nc, nil
}

// natsCluster is the NATS side of a distributed run: an embedded server
// (when no URL was given), the trainer's connection and its local
// workers.
type natsCluster struct {
	srv     *server.Server
	nc      *nats.Conn
	url     string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	workErr error
	mu      sync.Mutex
}

// startNATS connects to url, or with url "embedded" starts a JetStream
// server on loopback storing under storeDir (port 0: a free one), and
// runs nLocal workers in this process.
func startNATS(url, storeDir string, port, nLocal int, rob *robot.Robot, cfg *launch.Config, env string, log *slog.Logger) (*natsCluster, error) {
	c := &natsCluster{url: url}
	if url == "embedded" {
		if err := os.MkdirAll(storeDir, 0o755); err != nil {
			return nil, fmt.Errorf("nats store: %w", err)
		}
		s, err := dist.StartServer(storeDir, port)
		if err != nil {
			return nil, err
		}
		c.srv, c.url = s, s.ClientURL()
	}
	nc, err := connectNATS(c.url, "catch-trainer")
	if err != nil {
		c.Close()
		return nil, err
	}
	c.nc = nc
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	for k := 0; k < nLocal; k++ {
		wnc, err := connectNATS(c.url, fmt.Sprintf("catch-local-worker-%d", k))
		if err != nil {
			c.Close()
			return nil, err
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer wnc.Close()
			host, _ := os.Hostname()
			err := dist.Work(ctx, wnc, dist.WorkerOptions{Name: fmt.Sprintf("%s/%d/local-%d", host, os.Getpid(), k),
				Robot: rob, Engine: engineResolver(cfg), Env: env, Log: log})
			if err != nil {
				c.mu.Lock()
				c.workErr = errors.Join(c.workErr, err)
				c.mu.Unlock()
			}
		}()
	}
	return c, nil
}

// Close stops the local workers, the connection and the embedded server.
func (c *natsCluster) Close() {
	if c.cancel != nil {
		c.cancel()
		c.wg.Wait()
	}
	if c.nc != nil {
		c.nc.Close()
	}
	if c.srv != nil {
		c.srv.Shutdown()
		c.srv.WaitForShutdown()
	}
}

// natsFlags are the distributed-rollout flags of train es (and bench).
type natsFlags struct {
	url      string
	port     int
	ackWait  time.Duration
	perMsg   int
	replicas int
}

func (n *natsFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&n.url, "nats", "embedded", "where rollouts fly: 'embedded' (a JetStream server on loopback with its store beside --out, and --workers local workers), 'off' (goroutines in this process, no NATS), or nats://HOST:PORT of a running JetStream server or cluster that 'catch worker' processes serve (docs/distributed.md)")
	f.IntVar(&n.port, "nats-port", 0, "with --nats embedded: the client port on 127.0.0.1 (0: a free one), for 'catch worker' processes to join")
	f.DurationVar(&n.ackWait, "nats-ack-wait", 30*time.Second, "a task not acknowledged within this goes to another worker (workers heartbeat every third of it)")
	countFlag(f, &n.perMsg, "nats-tasks-per-message", 4, 1, 4096, "rollouts per task message (a restarted run must keep it to reuse published results)")
	countFlag(f, &n.replicas, "nats-replicas", 1, 1, 5, "replicas of each stream (3 on a three-node cluster)")
}

func (n *natsFlags) check() error {
	switch {
	case n.url == "off" || n.url == "embedded":
	case strings.HasPrefix(n.url, "nats://") || strings.HasPrefix(n.url, "tls://"):
	default:
		return fmt.Errorf("--nats %q: want embedded, off or nats://HOST:PORT", n.url)
	}
	if n.port < 0 || n.port > 65535 {
		return fmt.Errorf("--nats-port %d: want [0, 65535]", n.port)
	}
	if n.ackWait < 100*time.Millisecond {
		return fmt.Errorf("--nats-ack-wait %v: want ≥ 100ms", n.ackWait)
	}
	return nil
}

func init() {
	var (
		url, cfgPath, name string
		parallel           int
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Fly ES training rollouts for a trainer on a NATS JetStream server or cluster",
		Long: `Connects to --nats, pulls rollout tasks that 'catch train es --nats URL'
(or a trainer's embedded server) publishes, flies them in this process
and publishes their results, until interrupted (SIGINT/SIGTERM). Start
any number on any machine that reaches the server; --config must
describe the same robot (and MuJoCo settings) as the trainer's, which the
worker checks. A worker killed mid-task loses nothing: its task goes to
another worker after the trainer's --nats-ack-wait (docs/distributed.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !strings.HasPrefix(url, "nats://") && !strings.HasPrefix(url, "tls://") {
				return fmt.Errorf("--nats %q: want nats://HOST:PORT", url)
			}
			if parallel <= 0 {
				return fmt.Errorf("--parallel %d: want > 0", parallel)
			}
			cfg, rob, err := loadConfigRobot(cfgPath)
			if err != nil {
				return err
			}
			env, err := envFingerprint(&cfg)
			if err != nil {
				return err
			}
			if name == "" {
				host, _ := os.Hostname()
				name = fmt.Sprintf("%s/%d", host, os.Getpid())
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var wg sync.WaitGroup
			errs := make([]error, parallel)
			for k := 0; k < parallel; k++ {
				nc, err := connectNATS(url, "catch-worker")
				if err != nil {
					return err
				}
				defer nc.Close()
				wg.Add(1)
				go func() {
					defer wg.Done()
					wname := name
					if parallel > 1 {
						wname = fmt.Sprintf("%s/%d", name, k)
					}
					errs[k] = dist.Work(ctx, nc, dist.WorkerOptions{Name: wname, Robot: rob, Engine: engineResolver(&cfg), Env: env, Log: log})
				}()
			}
			log.Info("worker started", "nats", url, "parallel", parallel, "env", env)
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return failed(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "nats", "", "NATS server URL, nats://HOST:PORT (required)")
	f.StringVar(&cfgPath, "config", "", "run configuration YAML (robot, mujoco): the trainer's")
	f.StringVar(&name, "name", "", "worker name in results and logs (default HOST/PID)")
	f.IntVar(&parallel, "parallel", 1, "rollouts flown at once (one core each)")
	root.AddCommand(cmd)
}

// config is the dist.Config of the flags.
func (n *natsFlags) config() dist.Config {
	return dist.Config{AckWait: n.ackWait, TasksPerMessage: n.perMsg, Replicas: n.replicas}
}

// natsStoreDir is where the embedded server of a run writing out keeps
// its streams.
func natsStoreDir(out string) string {
	return filepath.Join(filepath.Dir(out), strings.TrimSuffix(filepath.Base(out), filepath.Ext(out))+".nats")
}
