package dist

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

func testRobot(t testing.TB) *robot.Robot {
	rob, err := robot.Load(robot.Config{})
	require.NoError(t, err)
	return rob
}

func tinyConfig() policy.TrainConfig {
	return policy.TrainConfig{Scenarios: []string{"nominal", "fast"}, Iterations: 2, Perturbations: 3,
		EpisodesPerDirection: 2, Hidden: 4, EvalEvery: 1, EvalEpisodes: 3, Workers: 1, Sigma: 0.1, StepSize: 0.05}
}

// train runs steps BGS steps of the tiny config through r (nil: local).
func train(t *testing.T, r policy.Runner, steps int) *policy.Trainer {
	tr, err := policy.NewTrainer(tinyConfig(), testRobot(t), sim.Config{}, 9)
	require.NoError(t, err)
	tr.SetRunner(r)
	for i := 0; i < steps; i++ {
		_, err := tr.Step(context.Background())
		require.NoError(t, err)
	}
	return tr
}

func connect(t testing.TB, url string) *nats.Conn {
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// startWorkers runs n workers, each on its own connection to one of urls
// (round robin), until the test ends; flown counts the chunks they
// published.
func startWorkers(t testing.TB, urls []string, n int, env string, flown *atomic.Int64) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	rob := testRobot(t)
	for k := 0; k < n; k++ {
		nc := connect(t, urls[k%len(urls)])
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := Work(ctx, nc, WorkerOptions{Name: fmt.Sprintf("w%d", k), Robot: rob, Env: env,
				Flown: func(*ResultMsg) {
					if flown != nil {
						flown.Add(1)
					}
				}})
			if err != nil && ctx.Err() == nil {
				t.Errorf("worker %d: %v", k, err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func embedded(t testing.TB) *server.Server {
	s, err := StartServer(t.TempDir(), 0)
	require.NoError(t, err)
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// TestRunnerBitIdentical trains through an embedded JetStream server with
// two workers and gets the parameters, normaliser and statistics of the
// in-process run, bit for bit.
func TestRunnerBitIdentical(t *testing.T) {
	s := embedded(t)
	ctx := context.Background()
	r, err := NewRunner(ctx, connect(t, s.ClientURL()), Config{TasksPerMessage: 3}, "env-a", nil)
	require.NoError(t, err)
	var flown atomic.Int64
	startWorkers(t, []string{s.ClientURL()}, 2, "env-a", &flown)
	local := train(t, nil, 2)
	remote := train(t, r, 2)
	require.Equal(t, local.State().Policy.Net.Params, remote.State().Policy.Net.Params)
	require.Equal(t, local.State().Policy.Net.ObsMean, remote.State().Policy.Net.ObsMean)
	require.Equal(t, local.State().Policy.Net.ObsStd, remote.State().Policy.Net.ObsStd)
	lh, rh := local.State().History, remote.State().History
	require.Len(t, rh, 2)
	for i := range lh {
		lh[i].WallS, rh[i].WallS = 0, 0
	}
	require.Equal(t, lh, rh)
	require.Positive(t, flown.Load(), "the workers flew the chunks")
	// The workers count a chunk after they acknowledge it, which may be
	// after the trainer has its result.
	require.Eventually(t, func() bool { return int(flown.Load()) == r.Published }, 5*time.Second, 10*time.Millisecond,
		"each published chunk flown once: %d flown, %d published", flown.Load(), r.Published)
}

// TestRunnerResumesFromStream: a second runner (a restarted trainer) asking
// for a batch whose results are in the stream gets them without
// publishing a task, with no worker running; a batch that differs by one
// task is asked for anew.
func TestRunnerResumesFromStream(t *testing.T) {
	s := embedded(t)
	ctx := context.Background()
	tr, err := policy.NewTrainer(tinyConfig(), testRobot(t), sim.Config{}, 9)
	require.NoError(t, err)
	b := &policy.Batch{Spec: &policy.Spec{Run: &policy.RunSettings{Train: tr.Config()}, Seed: 9, Policy: tr.State().Policy},
		Tasks: []policy.Task{{Stream: policy.StreamEval, Rollout: 0, Scenario: "nominal", Dir: -1},
			{Stream: policy.StreamTrain, Rollout: 1, Dir: 2, Sign: -1}, {Stream: policy.StreamTrain, Rollout: 2, Dir: 0, Sign: 1}}}
	want := make([]policy.Result, 3)
	require.NoError(t, policy.NewLocalRunner(testRobot(t), nil, 1).Run(ctx, b, want))

	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Work(wctx, connect(t, s.ClientURL()), WorkerOptions{Name: "w", Robot: testRobot(t), Env: "e"})
	}()
	r1, err := NewRunner(ctx, connect(t, s.ClientURL()), Config{TasksPerMessage: 2}, "e", nil)
	require.NoError(t, err)
	got := make([]policy.Result, 3)
	require.NoError(t, r1.Run(ctx, b, got))
	require.Equal(t, want, got)
	require.Equal(t, 2, r1.Published)
	stop()
	require.NoError(t, <-done)

	r2, err := NewRunner(ctx, connect(t, s.ClientURL()), Config{TasksPerMessage: 2}, "e", nil)
	require.NoError(t, err)
	again := make([]policy.Result, 3)
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, r2.Run(tctx, b, again))
	require.Equal(t, want, again)
	require.Zero(t, r2.Published, "nothing re-published")

	b.Tasks[2].Sign = -1
	tctx2, cancel2 := context.WithTimeout(ctx, time.Second)
	defer cancel2()
	err = r2.Run(tctx2, b, again)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the changed batch waits for workers")
	require.Equal(t, 2, r2.Published)
}

// TestWorkerRefusesOtherEnv: a worker whose robot/engine fingerprint is
// not the trainer's reports it, and the trainer fails with that message.
func TestWorkerRefusesOtherEnv(t *testing.T) {
	s := embedded(t)
	ctx := context.Background()
	r, err := NewRunner(ctx, connect(t, s.ClientURL()), Config{}, "trainer-env", nil)
	require.NoError(t, err)
	startWorkers(t, []string{s.ClientURL()}, 1, "other-env", nil)
	tr, err := policy.NewTrainer(tinyConfig(), testRobot(t), sim.Config{}, 9)
	require.NoError(t, err)
	tr.SetRunner(r)
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err = tr.Step(tctx)
	require.ErrorContains(t, err, "are not the trainer's")
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCluster starts a three-node JetStream cluster on loopback and
// returns its client URLs.
func startCluster(t testing.TB) []string {
	ports := []int{freePort(t), freePort(t), freePort(t)}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var urls []string
	for i, p := range ports {
		s, err := server.NewServer(&server.Options{ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: filepath.Join(t.TempDir(), fmt.Sprint(i)), NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "catch", Host: "127.0.0.1", Port: p},
			Routes:  server.RoutesFromStr(strings.Join(routes, ","))})
		require.NoError(t, err)
		go s.Start()
		require.True(t, s.ReadyForConnections(10*time.Second))
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		urls = append(urls, s.ClientURL())
	}
	return urls
}

// TestThreeNodeCluster trains through a real three-node JetStream cluster
// on loopback (streams replicated three times), the trainer on one node
// and a worker on each of the others: the run is the in-process run.
func TestThreeNodeCluster(t *testing.T) {
	urls := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc := connect(t, urls[0])
	// The cluster elects its JetStream meta leader after the routes are up.
	var r *Runner
	var err error
	for ctx.Err() == nil {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		r, err = NewRunner(actx, nc, Config{Replicas: 3, TasksPerMessage: 2}, "env", nil)
		acancel()
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	st, err := js.Stream(ctx, StreamResults)
	require.NoError(t, err)
	require.Equal(t, 3, st.CachedInfo().Config.Replicas)
	var flown atomic.Int64
	startWorkers(t, urls[1:], 2, "env", &flown)
	local := train(t, nil, 2)
	remote := train(t, r, 2)
	require.Equal(t, local.State().Policy.Net.Params, remote.State().Policy.Net.Params)
	require.Equal(t, local.State().Policy.Net.ObsMean, remote.State().Policy.Net.ObsMean)
	require.Equal(t, local.State().Best.Net.Params, remote.State().Best.Net.Params)
	require.Positive(t, flown.Load())
}
