package launch

import (
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/hardware/triallog"
)

// Recorder sits between the controller loop and its ArmIO and records each
// throw as a triallog.Throw: the joint state every tick read, the command it
// wrote, the loop's mode, the controller's status, the ball estimate, and
// every observation together with the tick that consumed it.
//
// To make that last part exact (and a replay therefore deterministic), the
// inputs that other goroutines give the loop pass through the recorder:
// observations are handed to the loop in ReadState, at the start of the tick
// that drains them; re-arms and e-stops after WriteCommand, so the next tick
// takes them. That delays nothing the loop would have seen earlier, except
// a re-arm or e-stop arriving inside a tick, which is taken one tick later.
//
// The loop goroutine calls ReadState/WriteCommand; the hooks (Observe,
// Rearm, EStop, Sensor) may be called from any goroutine. Finished throws
// go to a writer goroutine through a bounded channel (dropped and counted
// when it is full); the loop never waits on the disk.
type Recorder struct {
	arm   control.ArmIO
	loop  *control.Loop
	clock control.TimeBase
	w     *triallog.Writer
	base  triallog.Throw
	n     int
	log   *slog.Logger

	mu        sync.Mutex
	pendObs   []triallog.Obs
	pendRearm *control.Rearm
	pendEStop bool

	// loop goroutine only
	cur       *triallog.Throw
	rotate    *control.Rearm
	estopNext bool
	rearmNext int64 // epoch of a re-sent re-arm, for the next tick's record
	arena     []float64
	ts        control.TickState
	lastCmdQ  []float64
	lastCmdQd []float64
	lastNow   time.Duration
	wrote     bool

	caught   atomic.Int32 // 0 none, 1 false, 2 true
	caughtAt atomic.Int64

	out     chan *triallog.Throw
	done    chan struct{}
	dropped atomic.Uint64
	written atomic.Uint64
	errs    atomic.Uint64
}

// SetProvenance puts the run's provenance record (JSON) into every Throw;
// call before the loop runs.
func (r *Recorder) SetProvenance(p json.RawMessage) { r.base.Provenance = p }

// NewRecorder wraps arm; base holds the fields every Throw shares (Source,
// Controller, Clock, PeriodNS, Joints, Ball). Call SetLoop before the loop
// starts.
func NewRecorder(arm control.ArmIO, clock control.TimeBase, w *triallog.Writer, base triallog.Throw, log *slog.Logger) *Recorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := len(base.Joints)
	r := &Recorder{arm: arm, clock: clock, w: w, base: base, n: n, log: log,
		lastCmdQ: make([]float64, n), lastCmdQd: make([]float64, n),
		out: make(chan *triallog.Throw, 8), done: make(chan struct{})}
	r.ts.Cmd = control.NewCommand(n)
	go r.writeLoop()
	return r
}

// SetLoop sets the loop the recorder feeds.
func (r *Recorder) SetLoop(l *control.Loop) { r.loop = l }

// Observe is the observation hook: at is the capture time (loop clock).
func (r *Recorder) Observe(at time.Duration, p [3]float64) {
	o := triallog.Obs{StampNS: int64(at), ArriveNS: int64(r.clock.Now()), P: p}
	r.mu.Lock()
	r.pendObs = append(r.pendObs, o)
	r.mu.Unlock()
}

// Rearm is the re-arm hook.
func (r *Recorder) Rearm(seq uint32, epoch time.Duration) {
	r.mu.Lock()
	r.pendRearm = &control.Rearm{Seq: seq, Epoch: epoch}
	r.mu.Unlock()
}

// EStop is the e-stop hook.
func (r *Recorder) EStop(on bool) {
	if !on {
		return
	}
	r.mu.Lock()
	r.pendEStop = true
	r.mu.Unlock()
}

// Sensor is the catch-sensor hook.
func (r *Recorder) Sensor(caught bool) {
	if caught {
		if r.caught.Load() != 2 {
			r.caughtAt.Store(int64(r.clock.Now()))
		}
		r.caught.Store(2)
		return
	}
	r.caught.Store(1)
}

func (r *Recorder) floats(v []float64) []float64 {
	if len(r.arena) < len(v) {
		r.arena = make([]float64, 4*r.n*1024)
	}
	s := r.arena[:len(v):len(v)]
	r.arena = r.arena[len(v):]
	copy(s, v)
	return s
}

// fillLast completes the previous tick's record from the loop's published
// tick state.
func (r *Recorder) fillLast() {
	if r.cur == nil || len(r.cur.Ticks) == 0 || r.loop == nil || !r.loop.Latest(&r.ts) {
		return
	}
	t := &r.cur.Ticks[len(r.cur.Ticks)-1]
	if int64(r.ts.Now) != t.NowNS {
		return
	}
	t.Mode, t.Code = r.ts.Mode.String(), r.ts.Code.String()
	if b := &r.ts.Ball; b.Valid {
		t.Est = &triallog.Estimate{T: b.T, P: b.State.P, V: b.State.V}
	}
}

// ReadState implements control.ArmIO.
func (r *Recorder) ReadState(dst *control.ArmState) (time.Duration, bool) {
	r.fillLast()
	if r.rotate != nil && r.cur != nil && r.cur.Seq == r.rotate.Seq && len(r.cur.Obs) == 0 {
		// The same throw re-armed again before any ball was seen: the
		// sender re-sent a re-arm it saw no acknowledgement for in time
		// (simarm under load). One throw, one record, which goes on and
		// marks the tick the loop was re-armed before, so that the record
		// still follows the throw before it and a replay re-arms where the
		// loop did.
		r.rearmNext = int64(r.rotate.Epoch)
		r.rotate = nil
	}
	if r.rotate != nil {
		r.finish(true)
		th := r.base
		th.Version = triallog.Version
		th.Seq, th.EpochNS = r.rotate.Seq, int64(r.rotate.Epoch)
		th.PrevCmdQ = append([]float64(nil), r.lastCmdQ...)
		th.PrevCmdQd = append([]float64(nil), r.lastCmdQd...)
		th.PrevNS = int64(r.lastNow)
		th.Ticks = make([]triallog.Tick, 0, 1024)
		r.cur = &th
		r.rotate = nil
		r.caught.Store(0)
	}
	at, ok := r.arm.ReadState(dst)
	if r.cur != nil {
		t := triallog.Tick{StateOK: ok, EStop: r.estopNext, RearmEpochNS: r.rearmNext}
		if ok {
			t.StateAtNS = int64(at)
			t.Q, t.Qd = r.floats(dst.Q), r.floats(dst.Qd)
		}
		r.cur.Ticks = append(r.cur.Ticks, t)
	}
	r.estopNext, r.rearmNext = false, 0
	r.mu.Lock()
	for _, o := range r.pendObs {
		if r.loop != nil {
			r.loop.Observe(time.Duration(o.StampNS), o.P)
		}
		if r.cur != nil {
			o.Tick = len(r.cur.Ticks) - 1
			r.cur.Obs = append(r.cur.Obs, o)
		}
	}
	r.pendObs = r.pendObs[:0]
	r.mu.Unlock()
	return at, ok
}

// WriteCommand implements control.ArmIO.
func (r *Recorder) WriteCommand(at time.Duration, cmd *control.Command) {
	r.arm.WriteCommand(at, cmd)
	if r.cur != nil && len(r.cur.Ticks) > 0 {
		t := &r.cur.Ticks[len(r.cur.Ticks)-1]
		t.NowNS = int64(at)
		t.CmdQ, t.CmdQd = r.floats(cmd.Q), r.floats(cmd.Qd)
	}
	copy(r.lastCmdQ, cmd.Q)
	copy(r.lastCmdQd, cmd.Qd)
	r.lastNow, r.wrote = at, true
	r.mu.Lock()
	rearm, estop := r.pendRearm, r.pendEStop
	r.pendRearm, r.pendEStop = nil, false
	r.mu.Unlock()
	if r.loop == nil {
		return
	}
	if rearm != nil {
		r.loop.Rearm(*rearm)
		r.rotate = rearm
	}
	if estop {
		r.loop.EStop(true)
		r.estopNext = true
	}
}

// finish hands the current throw to the writer.
func (r *Recorder) finish(complete bool) {
	if r.cur == nil {
		return
	}
	th := r.cur
	r.cur = nil
	th.Complete = complete
	switch r.caught.Load() {
	case 1:
		f := false
		th.Caught = &f
	case 2:
		tr := true
		th.Caught, th.CaughtNS = &tr, r.caughtAt.Load()
	}
	select {
	case r.out <- th:
	default:
		r.dropped.Add(1)
	}
}

func (r *Recorder) writeLoop() {
	defer close(r.done)
	for th := range r.out {
		if err := r.w.Append(th); err != nil {
			r.errs.Add(1)
			r.log.Error("trial log", "err", err)
			continue
		}
		r.written.Add(1)
	}
}

// Close records the throw in progress (Complete false) after the loop has
// stopped, waits for the writer and closes the log.
func (r *Recorder) Close() error {
	r.fillLast()
	r.finish(false)
	close(r.out)
	<-r.done
	return r.w.Close()
}

// Counts returns throws written, dropped (writer behind) and failed writes.
func (r *Recorder) Counts() (written, dropped, failed uint64) {
	return r.written.Load(), r.dropped.Load(), r.errs.Load()
}
