package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// WorkerOptions configure Work.
type WorkerOptions struct {
	// Name identifies the worker in results and logs.
	Name string
	// Robot is the robot the worker flies.
	Robot *robot.Robot
	// Engine resolves a Spec's engine name ("" is the kinematic engine);
	// nil: only the kinematic engine.
	Engine func(name string) (sim.Engine, error)
	// Env is the worker's fingerprint of the robot and engine settings;
	// it must equal the trainer's.
	Env string
	// Log may be nil.
	Log *slog.Logger
	// Flown, when not nil, is called after each chunk's result is
	// published (tests and progress).
	Flown func(rm *ResultMsg)

	// fly replaces the flight (the transport benchmark measures the
	// round trip without an episode); nil: the Flyer.
	fly func(spec *policy.Spec, task policy.Task, res *policy.Result) error
}

// Work pulls task chunks from the catch-workers consumer of the server nc
// is connected to, flies them and publishes their results, until ctx ends
// (then it returns nil) or the connection fails. It waits for the
// streams when the trainer has not set them up yet.
func Work(ctx context.Context, nc *nats.Conn, opt WorkerOptions) error {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Engine == nil {
		opt.Engine = func(name string) (sim.Engine, error) {
			if name == "" || name == sim.Kinematic.Name() {
				return sim.Kinematic, nil
			}
			return nil, fmt.Errorf("engine %q not available on this worker", name)
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	var cons jetstream.Consumer
	for logged := false; ; logged = true {
		cons, err = js.Consumer(ctx, StreamTasks, ConsumerWorkers)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrConsumerNotFound) &&
			!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
			return fmt.Errorf("dist: consumer %s: %w", ConsumerWorkers, err)
		}
		if !logged {
			opt.Log.Info("waiting for the trainer to set up the streams", "worker", opt.Name)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
	ackWait := cons.CachedInfo().Config.AckWait
	w := &worker{opt: opt, js: js, nc: nc, specs: map[string]*policy.Spec{}, envs: map[string]string{}, runs: map[string]*policy.RunSettings{},
		flyers: map[string]*policy.Flyer{}, dirs: &policy.DirCache{}, beat: max(ackWait/3, 50*time.Millisecond)}
	for {
		if ctx.Err() != nil {
			return nil
		}
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			if nc.IsClosed() {
				return fmt.Errorf("dist: worker %s: connection closed: %w", opt.Name, err)
			}
			// A cluster electing a new leader answers with errors for a
			// moment: retry.
			opt.Log.Warn("pull failed", "worker", opt.Name, "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		w.handle(ctx, msg)
	}
}

type worker struct {
	opt    WorkerOptions
	js     jetstream.JetStream
	nc     *nats.Conn
	specs  map[string]*policy.Spec
	envs   map[string]string // spec hash → its environment fingerprint
	order  []string          // spec hashes, oldest first
	runs   map[string]*policy.RunSettings
	flyers map[string]*policy.Flyer // by engine name
	dirs   *policy.DirCache
	beat   time.Duration
}

// handle flies one task message. Problems that another worker could not
// solve either (a bad message, a failed flight) are reported to the
// trainer and the message is terminated; a worker whose environment
// differs from the trainer's reports it and hands the message back.
func (w *worker) handle(ctx context.Context, msg jetstream.Msg) {
	var tm TaskMsg
	if err := json.Unmarshal(msg.Data(), &tm); err != nil {
		w.opt.Log.Error("bad task message", "err", err)
		_ = msg.Term()
		return
	}
	report := func(err error) {
		data, _ := json.Marshal(errorMsg{Worker: w.opt.Name, Chunk: tm.Chunk, Error: err.Error()})
		_ = w.nc.Publish(subjectError+tm.Batch, data)
		w.opt.Log.Error("chunk failed", "worker", w.opt.Name, "batch", tm.Batch, "chunk", tm.Chunk, "err", err)
	}
	spec, env, err := w.spec(ctx, tm.Spec)
	if err != nil {
		report(err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if env != w.opt.Env {
		report(fmt.Errorf("this worker's robot or engine settings (%s) are not the trainer's (%s): start it with the trainer's --config", w.opt.Env, env))
		_ = msg.NakWithDelay(time.Second)
		return
	}
	f, err := w.flyer(spec.Run.Engine)
	if err != nil {
		report(err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	// Heartbeat: in-progress acks keep the chunk ours while we fly.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(w.beat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	rm := ResultMsg{Batch: tm.Batch, Chunk: tm.Chunk, First: tm.First, Results: make([]policy.Result, len(tm.Tasks)), Worker: w.opt.Name}
	if md, err := msg.Metadata(); err == nil {
		rm.Delivered = md.NumDelivered
		if md.NumDelivered > 1 {
			w.opt.Log.Info("flying a redelivered chunk", "worker", w.opt.Name, "batch", tm.Batch, "chunk", tm.Chunk, "delivered", md.NumDelivered)
		}
	}
	fly := f.Fly
	if w.opt.fly != nil {
		fly = w.opt.fly
	}
	for i, task := range tm.Tasks {
		if err = fly(spec, task, &rm.Results[i]); err != nil {
			err = fmt.Errorf("task %d: %w", tm.First+i, err)
			break
		}
	}
	var data []byte
	if err == nil {
		data, err = json.Marshal(&rm)
	}
	if err == nil {
		_, err = w.js.Publish(ctx, fmt.Sprintf("%s%s.%d", subjectResult, tm.Batch, tm.Chunk), data,
			jetstream.WithMsgID(fmt.Sprintf("%s.%d", tm.Batch, tm.Chunk)))
		if err != nil {
			// Not published: leave the chunk to be redelivered.
			close(done)
			wg.Wait()
			w.opt.Log.Warn("publish result failed", "worker", w.opt.Name, "err", err)
			return
		}
		close(done)
		wg.Wait()
		// A lost ack costs a second flight of the chunk, whose result
		// the trainer skips: no need to wait for the server's receipt.
		if err := msg.Ack(); err != nil {
			w.opt.Log.Warn("ack failed (the chunk may be flown again; its result is kept once)", "worker", w.opt.Name, "err", err)
		}
		if w.opt.Flown != nil {
			w.opt.Flown(&rm)
		}
		return
	}
	close(done)
	wg.Wait()
	report(err)
	_ = msg.Term()
}

// spec returns the decoded spec of hash h (cached) and its environment
// fingerprint.
func (w *worker) spec(ctx context.Context, h string) (*policy.Spec, string, error) {
	if s := w.specs[h]; s != nil {
		return s, w.envs[h], nil
	}
	st, err := w.js.Stream(ctx, StreamSpecs)
	if err != nil {
		return nil, "", fmt.Errorf("spec stream: %w", err)
	}
	raw, err := st.GetLastMsgForSubject(ctx, subjectSpec+h)
	if err != nil {
		return nil, "", fmt.Errorf("spec %s: %w", h, err)
	}
	if got := hash(raw.Data); got != h {
		return nil, "", fmt.Errorf("spec %s: content hashes to %s", h, got)
	}
	var sm specMsg
	if err := json.Unmarshal(raw.Data, &sm); err != nil {
		return nil, "", fmt.Errorf("spec %s: %w", h, err)
	}
	if sm.Spec == nil || sm.Spec.Run == nil || sm.Spec.Policy == nil {
		return nil, "", fmt.Errorf("spec %s: incomplete", h)
	}
	if err := sm.Spec.Policy.Validate(); err != nil {
		return nil, "", fmt.Errorf("spec %s: %w", h, err)
	}
	// Specs of one run share their settings: intern them so the flyer
	// keeps its worlds from batch to batch.
	runData, err := json.Marshal(sm.Spec.Run)
	if err != nil {
		return nil, "", err
	}
	rk := hash(runData)
	if r := w.runs[rk]; r != nil {
		sm.Spec.Run = r
	} else {
		w.runs[rk] = sm.Spec.Run
	}
	w.specs[h] = sm.Spec
	w.envs[h] = sm.Env
	w.order = append(w.order, h)
	if len(w.order) > 8 {
		delete(w.specs, w.order[0])
		delete(w.envs, w.order[0])
		w.order = w.order[1:]
	}
	return sm.Spec, sm.Env, nil
}

func (w *worker) flyer(engine string) (*policy.Flyer, error) {
	if f := w.flyers[engine]; f != nil {
		return f, nil
	}
	e, err := w.opt.Engine(engine)
	if err != nil {
		return nil, err
	}
	f := policy.NewFlyer(w.opt.Robot, e, w.dirs)
	w.flyers[engine] = f
	return f, nil
}
