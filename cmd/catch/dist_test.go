package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/dist"
	"github.com/agilecatch/catch/policy"
)

// lockedBuffer collects a subprocess's output for the test's failure
// messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startCatch starts the test binary as catch (TestMain's CATCH_AS_BINARY)
// with args; the process is killed when the test ends.
func startCatch(t *testing.T, args ...string) (*exec.Cmd, *lockedBuffer) {
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), "CATCH_AS_BINARY=1")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, out
}

func killHard(t *testing.T, cmd *exec.Cmd) {
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
}

// ckptIteration reads the iteration of a checkpoint (-1: none yet).
func ckptIteration(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	var st struct {
		Iteration int `json:"iteration"`
	}
	if json.Unmarshal(data, &st) != nil {
		return -1
	}
	return st.Iteration
}

// TestDistributedFaults trains through a JetStream server with worker and
// trainer processes, kills (SIGKILL) a worker while it flies a task and
// later the trainer mid-run, resumes the trainer, and gets the parameters
// of the undisturbed in-process run bit for bit.
func TestDistributedFaults(t *testing.T) {
	dir := t.TempDir()
	const iterations = 8
	common := []string{"train", "es", "--scenario", "nominal", "--iterations", fmt.Sprint(iterations), "--perturbations", "4",
		"--episodes", "3", "--eval-episodes", "3", "--eval-every", "2", "--seed", "5"}

	refOut := filepath.Join(dir, "ref.json")
	code, _ := runOut(t, append(common, "--nats", "off", "--workers", "1", "--out", refOut)...)
	require.Equal(t, 0, code)

	srv, err := dist.StartServer(filepath.Join(dir, "store"), 0)
	require.NoError(t, err)
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	url := srv.ClientURL()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := context.Background()

	out := filepath.Join(dir, "p.json")
	trainArgs := append(append([]string{}, common...), "--nats", url, "--nats-ack-wait", "1s",
		"--nats-tasks-per-message", "4", "--checkpoint-every", "1", "--out", out)
	trainer, trainLog := startCatch(t, trainArgs...)
	workerA, logA := startCatch(t, "worker", "--nats", url, "--name", "A")
	_, logB := startCatch(t, "worker", "--nats", url, "--name", "B")
	logs := func() string {
		return fmt.Sprintf("trainer:\n%s\nworker A:\n%s\nworker B:\n%s", trainLog, logA, logB)
	}

	// resultsBy counts the results in the stream per worker, and how many
	// were flown from a redelivered task.
	resultsBy := func() (map[string]int, int) {
		by, redelivered := map[string]int{}, 0
		cons, err := js.OrderedConsumer(ctx, dist.StreamResults, jetstream.OrderedConsumerConfig{})
		if err != nil {
			return by, 0
		}
		for {
			msg, err := cons.Next(jetstream.FetchMaxWait(100 * time.Millisecond))
			if err != nil {
				return by, redelivered
			}
			var rm dist.ResultMsg
			if json.Unmarshal(msg.Data(), &rm) == nil {
				by[rm.Worker]++
				if rm.Delivered > 1 {
					redelivered++
				}
			}
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	// Kill worker A while it holds a task: both workers have a task
	// unacknowledged (each pulls one at a time).
	for {
		require.True(t, time.Now().Before(deadline), "worker A never busy\n%s", logs())
		require.Less(t, ckptIteration(out+".ckpt"), iterations, "the run ended before worker A was seen busy\n%s", logs())
		cons, err := js.Consumer(ctx, dist.StreamTasks, dist.ConsumerWorkers)
		if err == nil {
			info, err := cons.Info(ctx)
			if err == nil && info.NumAckPending >= 2 {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	killHard(t, workerA)
	// Kill the trainer after a checkpoint, mid-run.
	ckpt := out + ".ckpt"
	for {
		require.True(t, time.Now().Before(deadline), "no checkpoint\n%s", logs())
		if it := ckptIteration(ckpt); it >= 2 {
			require.Less(t, it, iterations, "the trainer finished before it could be killed\n%s", logs())
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	killHard(t, trainer)
	killedAt := ckptIteration(ckpt)

	resumed, resumedLog := startCatch(t, append(trainArgs, "--resume")...)
	done := make(chan error, 1)
	go func() { done <- resumed.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "resumed trainer:\n%s\n%s", resumedLog, logs())
	case <-time.After(90 * time.Second):
		t.Fatalf("resumed trainer did not finish\n%s\n%s", resumedLog, logs())
	}
	_, redelivered := resultsBy()
	// A chunk A had published but not yet acked when it died is flown
	// again by B, whose result JetStream de-duplicates: then only B's log
	// shows the redelivery.
	require.True(t, redelivered > 0 || strings.Contains(logB.String(), "flying a redelivered chunk"),
		"worker A's task was flown again by B after A died\n%s", logs())
	t.Logf("killed the trainer after checkpoint %d; %d results from redelivered tasks", killedAt, redelivered)

	load := func(path string) *policy.State {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		var st policy.State
		require.NoError(t, json.Unmarshal(data, &st))
		return &st
	}
	ref, got := load(refOut+".ckpt"), load(ckpt)
	require.Equal(t, iterations, got.Iteration)
	require.Equal(t, ref.Policy.Net.Params, got.Policy.Net.Params, "final parameters")
	require.Equal(t, ref.Policy.Net.ObsMean, got.Policy.Net.ObsMean)
	require.Equal(t, ref.ObsSum, got.ObsSum)
	require.Equal(t, ref.Best.Net.Params, got.Best.Net.Params)
	require.Equal(t, ref.Episodes, got.Episodes)
	refPol, err := policy.LoadFile(refOut)
	require.NoError(t, err)
	gotPol, err := policy.LoadFile(out)
	require.NoError(t, err)
	require.Equal(t, refPol.Net, gotPol.Net, "the shipped policy")
}

// TestDistBench measures with one and two worker processes (tiny sizes):
// two rows, and the same results from both.
func TestDistBench(t *testing.T) {
	code, js := runOut(t, "dist-bench", "--procs", "1,2", "--episodes", "8", "--tasks-per-message", "2", "--seed", "3", "--json")
	require.Equal(t, 0, code)
	var res struct {
		Rows []struct {
			Workers  int     `json:"worker_processes"`
			Episodes int     `json:"episodes"`
			EPS      float64 `json:"episodes_per_s"`
		} `json:"rows"`
		Identical bool `json:"results_identical"`
	}
	require.NoError(t, json.Unmarshal([]byte(js), &res), js)
	require.Len(t, res.Rows, 2)
	require.Equal(t, 2, res.Rows[1].Workers)
	require.Equal(t, 8, res.Rows[0].Episodes)
	require.Positive(t, res.Rows[1].EPS)
	require.True(t, res.Identical, js)
	code, _ = runOut(t, "dist-bench", "--procs", "0")
	require.Equal(t, 2, code)
}
