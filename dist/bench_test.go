package dist

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/sim"
)

// benchBatches returns a function giving n training tasks of a fresh
// run at step iter (a new batch id at every step).
func benchBatches(b *testing.B, n int) func(iter int) *policy.Batch {
	tr, err := policy.NewTrainer(policy.TrainConfig{Perturbations: 8, Workers: 1}, testRobot(b), sim.Config{}, 1)
	require.NoError(b, err)
	cfg := tr.Config()
	run := &policy.RunSettings{Train: cfg}
	var tasks []policy.Task
	for i := 0; i < n; i++ {
		tasks = append(tasks, policy.Task{Stream: policy.StreamTrain, Rollout: i, Dir: i % 8, Sign: 1 - 2*(i/8%2)})
	}
	return func(iter int) *policy.Batch {
		return &policy.Batch{Spec: &policy.Spec{Run: run, Seed: 1, Iter: iter, Policy: tr.State().Policy}, Tasks: tasks}
	}
}

// BenchmarkRoundTrip is the JetStream overhead per task: one batch of 64
// tasks per iteration through an embedded server and one worker whose
// flight does nothing (it returns an empty result), so ns/task is the
// publish, pull, result publish, ack and collection of a task, with
// tasks_per_message tasks in a message.
func BenchmarkRoundTrip(b *testing.B) {
	for _, perMsg := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("tasks_per_message=%d", perMsg), func(b *testing.B) {
			s := embedded(b)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r, err := NewRunner(ctx, connect(b, s.ClientURL()), Config{TasksPerMessage: perMsg}, "e", nil)
			require.NoError(b, err)
			nc := connect(b, s.ClientURL())
			done := make(chan error, 1)
			go func() {
				done <- Work(ctx, nc, WorkerOptions{Name: "w", Robot: testRobot(b), Env: "e",
					fly: func(*policy.Spec, policy.Task, *policy.Result) error { return nil }})
			}()
			const n = 64
			out := make([]policy.Result, n)
			batch := benchBatches(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				require.NoError(b, r.Run(ctx, batch(i), out))
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
			cancel()
			require.NoError(b, <-done)
		})
	}
}

// BenchmarkRunner flies 32 real training episodes per iteration in
// process (one goroutine) and through JetStream (one in-process worker):
// the difference of their ns/task is the overhead with real flights.
func BenchmarkRunner(b *testing.B) {
	const n = 32
	out := make([]policy.Result, n)
	batch := benchBatches(b, n)
	b.Run("local", func(b *testing.B) {
		r := policy.NewLocalRunner(testRobot(b), nil, 1)
		for i := 0; i < b.N; i++ {
			require.NoError(b, r.Run(context.Background(), batch(i), out))
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
	})
	b.Run("jetstream", func(b *testing.B) {
		s := embedded(b)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r, err := NewRunner(ctx, connect(b, s.ClientURL()), Config{}, "e", nil)
		require.NoError(b, err)
		startWorkers(b, []string{s.ClientURL()}, 1, "e", nil)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			require.NoError(b, r.Run(ctx, batch(i), out))
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
	})
}
