package dist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/agilecatch/catch/policy"
)

// Names of the streams, the workers' consumer and the subjects.
const (
	StreamTasks     = "CATCH_TASKS"
	StreamResults   = "CATCH_RESULTS"
	StreamSpecs     = "CATCH_SPECS"
	ConsumerWorkers = "catch-workers"

	SubjectTask   = "catch.task"
	subjectSpec   = "catch.spec."   // + spec hash
	subjectResult = "catch.result." // + batch id + "." + chunk
	subjectError  = "catch.error."  // + batch id (core NATS, not stored)
)

// Config sets up the streams and the consumer. The zero value means the
// defaults.
type Config struct {
	// Replicas of each stream: 1 on a single server (default), 3 on a
	// three-node cluster.
	Replicas int `yaml:"replicas"`
	// AckWait is how long a task may stay unacknowledged before JetStream
	// hands it to another worker (workers send in-progress acks every
	// AckWait/3 while they fly); default 30 s.
	AckWait time.Duration `yaml:"ack_wait"`
	// TasksPerMessage is the number of rollouts per task message; default
	// 4. Results do not depend on it (it is part of a batch's id, so a
	// restarted trainer must use the same to find earlier results).
	TasksPerMessage int `yaml:"tasks_per_message"`
	// MaxAge is how long results and specs are kept; default 24 h.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxResultBytes bounds the results stream (oldest dropped first: a
	// restart needs only the steps since the last checkpoint); default
	// 256 MiB.
	MaxResultBytes int64 `yaml:"max_result_bytes"`
}

func (c *Config) setDefaults() {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.TasksPerMessage == 0 {
		c.TasksPerMessage = 4
	}
	if c.MaxAge == 0 {
		c.MaxAge = 24 * time.Hour
	}
	if c.MaxResultBytes == 0 {
		c.MaxResultBytes = 256 << 20
	}
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Replicas < 0 || c.Replicas > 5:
		return fmt.Errorf("replicas: %d, want [1, 5]", c.Replicas)
	case c.AckWait < 0 || (c.AckWait > 0 && c.AckWait < 100*time.Millisecond):
		return fmt.Errorf("ack_wait: %v, want ≥ 100ms", c.AckWait)
	case c.TasksPerMessage < 0 || c.TasksPerMessage > 4096:
		return fmt.Errorf("tasks_per_message: %d, want [1, 4096]", c.TasksPerMessage)
	case c.MaxAge < 0:
		return fmt.Errorf("max_age: %v, want > 0", c.MaxAge)
	case c.MaxResultBytes < 0:
		return fmt.Errorf("max_result_bytes: %d, want > 0", c.MaxResultBytes)
	}
	return nil
}

// Setup creates (or updates) the three streams and the workers' consumer.
func Setup(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	streams := []jetstream.StreamConfig{
		{Name: StreamTasks, Subjects: []string{SubjectTask}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, Replicas: cfg.Replicas, Duplicates: 2 * time.Minute},
		{Name: StreamResults, Subjects: []string{subjectResult + ">"}, Retention: jetstream.LimitsPolicy,
			Storage: jetstream.FileStorage, Replicas: cfg.Replicas, MaxAge: cfg.MaxAge, Duplicates: 2 * time.Minute,
			MaxMsgsPerSubject: 1, MaxBytes: cfg.MaxResultBytes, Discard: jetstream.DiscardOld},
		{Name: StreamSpecs, Subjects: []string{subjectSpec + "*"}, Retention: jetstream.LimitsPolicy,
			Storage: jetstream.FileStorage, Replicas: cfg.Replicas, MaxAge: cfg.MaxAge, MaxMsgsPerSubject: 1,
			MaxMsgs: 1024, Discard: jetstream.DiscardOld},
	}
	for _, sc := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("dist: stream %s: %w", sc.Name, err)
		}
	}
	_, err := js.CreateOrUpdateConsumer(ctx, StreamTasks, jetstream.ConsumerConfig{
		Durable: ConsumerWorkers, AckPolicy: jetstream.AckExplicitPolicy, AckWait: cfg.AckWait,
		MaxDeliver: -1, MaxAckPending: 4096, MaxWaiting: 4096,
	})
	if err != nil {
		return fmt.Errorf("dist: consumer %s: %w", ConsumerWorkers, err)
	}
	return nil
}

// specMsg is the body of a spec message.
type specMsg struct {
	// Env fingerprints what a worker must share with the trainer beyond
	// the Spec (the robot description, engine settings): a worker with
	// another refuses the batch.
	Env  string       `json:"env"`
	Spec *policy.Spec `json:"spec"`
}

// TaskMsg is the body of a task message: a chunk of a batch.
type TaskMsg struct {
	Batch string `json:"batch"`
	Chunk int    `json:"chunk"`
	// Spec is the spec's hash: its message is on catch.spec.<Spec>.
	Spec string `json:"spec"`
	// First is the batch index of Tasks[0].
	First int           `json:"first"`
	Tasks []policy.Task `json:"tasks"`
}

// ResultMsg is the body of a result message: the results of one chunk in
// task order.
type ResultMsg struct {
	Batch   string          `json:"batch"`
	Chunk   int             `json:"chunk"`
	First   int             `json:"first"`
	Results []policy.Result `json:"results"`
	// Worker names the worker that flew the chunk; Delivered is the task
	// message's delivery count (> 1: redelivered after a worker died or
	// stalled).
	Worker    string `json:"worker"`
	Delivered uint64 `json:"delivered"`
}

// errorMsg is what a worker reports (core NATS, on catch.error.<batch>)
// when it cannot fly a chunk.
type errorMsg struct {
	Worker string `json:"worker"`
	Chunk  int    `json:"chunk"`
	Error  string `json:"error"`
}

func hash(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// Runner is the JetStream policy.Runner.
type Runner struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg Config
	env string
	log *slog.Logger
	// Published counts the task messages this runner published (the rest
	// of its batches' chunks were found in the results stream).
	Published int
}

// NewRunner sets up the streams (Setup) and returns a runner publishing
// over nc. env fingerprints the trainer's robot and engine settings
// (workers refuse tasks of another); log may be nil.
func NewRunner(ctx context.Context, nc *nats.Conn, cfg Config, env string, log *slog.Logger) (*Runner, error) {
	cfg.setDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	if err := Setup(ctx, js, cfg); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{nc: nc, js: js, cfg: cfg, env: env, log: log}, nil
}

// Run implements policy.Runner.
func (r *Runner) Run(ctx context.Context, b *policy.Batch, out []policy.Result) error {
	n := len(b.Tasks)
	if len(out) != n {
		return fmt.Errorf("dist: %d result slots for %d tasks", len(out), n)
	}
	if n == 0 {
		return nil
	}
	specData, err := json.Marshal(specMsg{Env: r.env, Spec: b.Spec})
	if err != nil {
		return fmt.Errorf("dist: spec: %w", err)
	}
	sh := hash(specData)
	taskData, err := json.Marshal(b.Tasks)
	if err != nil {
		return err
	}
	K := r.cfg.TasksPerMessage
	batch := hash([]byte(sh), taskData, []byte(fmt.Sprint(K)))
	if _, err := r.js.Publish(ctx, subjectSpec+sh, specData, jetstream.WithMsgID("spec."+sh)); err != nil {
		return fmt.Errorf("dist: publish spec: %w", err)
	}
	nChunks := (n + K - 1) / K
	prefix := subjectResult + batch + "."
	// Chunks already published (by this trainer before a restart) are
	// not asked for again.
	have := map[string]uint64{}
	st, err := r.js.Stream(ctx, StreamResults)
	if err != nil {
		return fmt.Errorf("dist: results stream: %w", err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(prefix+"*"))
	if err != nil {
		return fmt.Errorf("dist: results stream: %w", err)
	}
	have = info.State.Subjects
	errs := make(chan errorMsg, 16)
	sub, err := r.nc.Subscribe(subjectError+batch, func(m *nats.Msg) {
		var e errorMsg
		if json.Unmarshal(m.Data, &e) == nil {
			select {
			case errs <- e:
			default:
			}
		}
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	// Results arrive on a channel from an ordered consumer (a push-style
	// subscription that JetStream recreates when it loses it); the
	// existing ones come first.
	results := make(chan jetstream.Msg, 256)
	cons, err := r.js.OrderedConsumer(ctx, StreamResults, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + "*"}, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("dist: results consumer: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case results <- m:
		case <-ctx.Done():
		}
	})
	if err != nil {
		return fmt.Errorf("dist: results consumer: %w", err)
	}
	defer cc.Stop()
	var acks []jetstream.PubAckFuture
	for c := 0; c < nChunks; c++ {
		if have[fmt.Sprintf("%s%d", prefix, c)] > 0 {
			continue
		}
		lo, hi := c*K, min(n, (c+1)*K)
		data, err := json.Marshal(TaskMsg{Batch: batch, Chunk: c, Spec: sh, First: lo, Tasks: b.Tasks[lo:hi]})
		if err != nil {
			return err
		}
		f, err := r.js.PublishAsync(SubjectTask, data, jetstream.WithMsgID(fmt.Sprintf("%s.%d", batch, c)))
		if err != nil {
			return fmt.Errorf("dist: publish task: %w", err)
		}
		acks = append(acks, f)
		r.Published++
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("dist: publish task: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	got := make([]bool, nChunks)
	left := nChunks
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for left > 0 {
		var msg jetstream.Msg
		select {
		case e := <-errs:
			return fmt.Errorf("dist: worker %s, chunk %d of batch %s: %s", e.Worker, e.Chunk, batch, e.Error)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			r.log.Warn("waiting for workers", "batch", batch, "chunks_left", left, "chunks", nChunks)
			continue
		case msg = <-results:
		}
		tick.Reset(30 * time.Second)
		var rm ResultMsg
		if err := json.Unmarshal(msg.Data(), &rm); err != nil {
			return fmt.Errorf("dist: result on %s: %w", msg.Subject(), err)
		}
		c := rm.Chunk
		lo, hi := c*K, min(n, (c+1)*K)
		if rm.Batch != batch || c < 0 || c >= nChunks || rm.First != lo || len(rm.Results) != hi-lo {
			return fmt.Errorf("dist: result on %s does not fit batch %s (chunk %d, first %d, %d results)",
				msg.Subject(), batch, c, rm.First, len(rm.Results))
		}
		if got[c] {
			continue
		}
		copy(out[lo:hi], rm.Results)
		got[c] = true
		left--
	}
	return nil
}

// StartServer starts an embedded JetStream server on 127.0.0.1 (port: 0
// picks a free one) storing its streams under dir.
func StartServer(dir string, port int) (*server.Server, error) {
	if port == 0 {
		port = -1
	}
	s, err := server.NewServer(&server.Options{ServerName: "catch-embedded", Host: "127.0.0.1", Port: port,
		JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true})
	if err != nil {
		return nil, fmt.Errorf("dist: embedded server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("dist: embedded server not ready within 10 s")
	}
	return s, nil
}
