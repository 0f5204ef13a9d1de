package control

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agilecatch/catch/ball"
)

// LoopConfig configures the real-time loop. The zero value means the
// defaults on each field.
type LoopConfig struct {
	// RateHz is the tick rate; default 250 (the ABB EGM rate).
	RateHz float64 `yaml:"rate_hz"`
	// ObsCapacity bounds the queue of ball observations between the
	// perception goroutine and the loop; default 64 (0.5 s at 125 Hz).
	ObsCapacity int `yaml:"obs_capacity"`
	// AutoRearmIdleS, when > 0, starts a new catch (controller Reset, trial
	// clock at zero) when a ball track appears after this long without a
	// valid ball estimate — for a real thrower, where nobody sends a re-arm.
	// Default 0: catches start only on Rearm (the simulated thrower sends
	// one before each throw).
	AutoRearmIdleS float64 `yaml:"auto_rearm_idle_s"`
	// RTPriority, when > 0, runs the loop's thread under SCHED_FIFO at this
	// priority (1–99; needs CAP_SYS_NICE or an rtprio limit, otherwise a
	// warning and normal priority). Default 0: normal scheduling, with a
	// 1 ns timer slack either way.
	RTPriority int          `yaml:"rt_priority"`
	Safety     SafetyConfig `yaml:"safety"`
}

// WithDefaults returns c with zero fields set to their defaults.
func (c LoopConfig) WithDefaults() LoopConfig {
	if c.RateHz == 0 {
		c.RateHz = 250
	}
	if c.ObsCapacity == 0 {
		c.ObsCapacity = 64
	}
	c.Safety = c.Safety.WithDefaults()
	return c
}

// Validate reports the first bad field by its YAML name.
func (c LoopConfig) Validate() error {
	c = c.WithDefaults()
	if !(c.RateHz >= 1 && c.RateHz <= 4000) {
		return fmt.Errorf("loop: rate_hz = %v: want [1, 4000] (0 for the default 250)", c.RateHz)
	}
	if c.RTPriority < 0 || c.RTPriority > 99 {
		return fmt.Errorf("loop: rt_priority = %d: want 0..99", c.RTPriority)
	}
	if c.ObsCapacity < 1 || c.ObsCapacity > 1<<16 {
		return fmt.Errorf("loop: obs_capacity = %d: want 1..65536 (0 for the default 64)", c.ObsCapacity)
	}
	if !(c.AutoRearmIdleS >= 0 && c.AutoRearmIdleS <= 3600) {
		return fmt.Errorf("loop: auto_rearm_idle_s = %v: want [0, 3600]", c.AutoRearmIdleS)
	}
	return c.Safety.Validate()
}

// Period returns the tick period.
func (c LoopConfig) Period() time.Duration {
	return time.Duration(float64(time.Second) / c.WithDefaults().RateHz)
}

// ArmIO is the hardware side of the loop (ROS, an in-process simulation, a
// fake). Both methods are called by the loop goroutine only, must not block
// and should not allocate.
type ArmIO interface {
	// ReadState copies the newest joint state into dst and returns when it
	// was received, on the loop's clock; ok is false when none has come yet.
	ReadState(dst *ArmState) (at time.Duration, ok bool)
	// WriteCommand hands cmd (copied; not retained) to the arm.
	WriteCommand(at time.Duration, cmd *Command)
}

// Estimator is the ball estimator the loop feeds (perception.Estimator):
// times are seconds on the loop's clock.
type Estimator interface {
	Reset()
	Observe(t float64, p [3]float64) bool
	Estimate(now float64, dst *ball.Estimate)
}

// Mode is what the loop did in a tick.
type Mode uint8

const (
	ModeWaiting Mode = iota // no joint state yet, or waiting for the catch to start: braking/holding
	ModeRunning             // the controller's command, through the safety filter
	ModeStale               // joint states stale: braking to hold
	ModeAborted             // catch aborted (ball lost): braking
	ModeEStop               // e-stop latched: braking
	ModeError               // the controller returned an error: braking
)

var modeNames = [...]string{"waiting", "running", "stale-joints", "aborted", "estop", "controller-error"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Rearm starts a new catch: the controller is Reset from the arm state at
// Epoch (loop clock), whose trial clock reads zero then.
type Rearm struct {
	Seq   uint32
	Epoch time.Duration
}

// TickState is what one tick saw and did, for visualisation and logs.
type TickState struct {
	Now     time.Duration // loop clock
	TrialT  time.Duration // trial clock (Now − epoch)
	Mode    Mode
	Code    Code
	Ball    ball.Estimate // T on the trial clock
	Cmd     Command
	Armed   uint32 // Seq of the last Rearm that took effect
	Rearms  uint64 // Rearms taken so far
	Aborted bool
	EStop   bool
	// Engaged: the loop's commands reach the arm (Loop.Engage).
	Engaged bool
	// Resyncs counts restarts from the measured state taken so far.
	Resyncs uint64
	// AtRest: the command has come to rest (braked to a hold).
	AtRest bool
}

func copyTick(dst, src *TickState) {
	q, qd := dst.Cmd.Q, dst.Cmd.Qd
	*dst = *src
	dst.Cmd.Q = append(q[:0], src.Cmd.Q...)
	dst.Cmd.Qd = append(qd[:0], src.Cmd.Qd...)
}

// Loop runs read → estimate → controller step → safety → write at a fixed
// rate on absolute deadlines. A tick that ends after the next deadline is an
// overrun: the missed deadlines are skipped (counted), never run late in a
// burst. Inputs from other goroutines — ball observations (a bounded ring),
// re-arm and e-stop requests (latest-value slots) — are read at the start of
// a tick without waiting. Run owns the loop goroutine; the other methods may
// be called from any goroutine. The tick allocates nothing.
type Loop struct {
	cfg    LoopConfig
	period time.Duration
	clock  Clock
	arm    ArmIO
	ctrl   Controller
	est    Estimator
	safety *Safety
	log    *slog.Logger

	obs    *ObsRing
	obsBuf []Observation
	rearm  Slot[Rearm]
	estop  atomic.Uint32 // 1: e-stop requested (latched by the loop)
	// release: a release of the e-stop was requested; resync: the next tick
	// restarts controller and safety filter from the measured state.
	release, resync atomic.Bool
	// engaged: commands reach the arm (see Engage).
	engaged    atomic.Bool
	wasEngaged bool
	// lastReject is the newest rejected re-arm's reason.
	lastReject atomic.Pointer[string]
	// in-loop state
	rearmSeen    uint64
	rearms       uint64
	armed        uint32
	epoch        time.Duration
	needReset    bool
	started      bool // a catch has started (now ≥ epoch after a Rearm, or auto)
	estopLatched bool
	aborted      bool
	hadBall      bool
	lastObsAt    time.Duration
	lastValidAt  time.Duration
	lastCode     Code
	lastWrite    time.Duration
	wrote        bool
	hadState     bool // a joint state has come: commands may be written
	resyncs      uint64
	in           Input
	cmd          Command
	tick         TickState

	statsMu sync.Mutex
	stats   LoopStats
	jitter  histogram
	work    histogram
	out     *Copier[TickState]

	runMu  sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewLoop builds a loop. est may be nil (no ball input; the controller sees
// an invalid estimate). The controller is Reset at the first tick that has a
// joint state, and again on each Rearm.
func NewLoop(cfg LoopConfig, clock Clock, arm ArmIO, ctrl Controller, est Estimator, safety *Safety, log *slog.Logger) (*Loop, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if clock == nil || arm == nil || ctrl == nil || safety == nil {
		return nil, fmt.Errorf("loop: clock, arm, controller and safety are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := len(safety.prevQ)
	l := &Loop{
		cfg: cfg, period: cfg.Period(), clock: clock, arm: arm, ctrl: ctrl, est: est, safety: safety, log: log,
		obs: NewObsRing(cfg.ObsCapacity), obsBuf: make([]Observation, cfg.ObsCapacity),
		cmd: NewCommand(n), needReset: true, started: true,
	}
	l.in.Arm = ArmState{Q: make([]float64, n), Qd: make([]float64, n)}
	l.engaged.Store(true)
	l.wasEngaged = true
	l.tick.Cmd = NewCommand(n)
	l.out = NewCopier(TickState{Cmd: NewCommand(n)}, copyTick)
	l.jitter.init()
	l.work.init()
	return l, nil
}

// SetProps sets the ball the controller is told about (nil: its default).
// Call before Start.
func (l *Loop) SetProps(p *ball.Props) { l.in.Props = p }

// Period returns the tick period.
func (l *Loop) Period() time.Duration { return l.period }

// Observe queues a ball observation captured at `at` on the loop's clock.
func (l *Loop) Observe(at time.Duration, p [3]float64) { l.obs.Push(Observation{At: at, P: p}) }

// Rearm requests a new catch starting at r.Epoch. The tick that takes it
// rejects (counts, and reports through LastRejectedRearm) an epoch older
// than safety.rearm_max_age_s or further ahead than rearm_max_lead_s. A
// Rearm does not release a latched e-stop.
func (l *Loop) Rearm(r Rearm) { l.rearm.Store(&r) }

// EStop latches the e-stop (true): the loop brakes to a hold and stays there
// until Release. A false request does not release it.
func (l *Loop) EStop(on bool) {
	if on {
		l.estop.Store(1)
	}
}

// Release clears a latched e-stop (the only way to); the controller and the
// safety filter restart from the measured state at the next tick.
func (l *Loop) Release() { l.release.Store(true) }

// Resync makes the next tick restart the controller and the safety filter
// from the measured state (bumpless), as a re-arm or an e-stop release do.
func (l *Loop) Resync() { l.resync.Store(true) }

// Engage tells the loop whether its commands reach the arm (default true).
// While disengaged (a dry run, a disarmed node) the arm does not follow, so
// the lead bound is off; engaging again restarts the controller and the
// safety filter from the measured state, so the first command sent is the
// arm's own position.
func (l *Loop) Engage(on bool) { l.engaged.Store(on) }

// LastRejectedRearm returns why the newest rejected re-arm was rejected
// ("" if none was).
func (l *Loop) LastRejectedRearm() string {
	if p := l.lastReject.Load(); p != nil {
		return *p
	}
	return ""
}

// Latest copies the newest tick's state into dst (its Cmd slices are
// reused) and returns false before the first tick.
func (l *Loop) Latest(dst *TickState) bool {
	if len(dst.Cmd.Q) != len(l.cmd.Q) {
		dst.Cmd = NewCommand(len(l.cmd.Q))
	}
	return l.out.Get(dst) > 0
}

// Start runs the loop in its own goroutine until Close.
func (l *Loop) Start(ctx context.Context) {
	l.runMu.Lock()
	defer l.runMu.Unlock()
	if l.done != nil {
		return
	}
	ctx, l.cancel = context.WithCancel(ctx)
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		_ = l.Run(ctx)
	}()
}

// Close stops a loop started with Start and waits for it.
func (l *Loop) Close() {
	l.runMu.Lock()
	cancel, done := l.cancel, l.done
	l.runMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Run ticks until ctx is done; it returns ctx's error.
func (l *Loop) Run(ctx context.Context) error {
	if _, wall := l.clock.(*WallClock); wall {
		undo, err := realtimeThread(l.cfg.RTPriority)
		if err != nil {
			l.log.Warn("loop: cannot run at real-time priority; running at normal priority", "rt_priority", l.cfg.RTPriority, "err", err)
		}
		defer undo()
	}
	start := l.clock.Now()
	k := int64(0)
	for {
		deadline := start + time.Duration(k)*l.period
		if err := l.clock.SleepUntil(ctx, deadline); err != nil {
			return err
		}
		woke := l.clock.Now()
		w0 := time.Now() // the tick's own time is wall time on any clock
		l.Tick(woke)
		work := time.Since(w0)
		end := l.clock.Now()
		next := k + 1
		skipped := int64(0)
		if nd := start + time.Duration(next)*l.period; end > nd {
			// Overrun: skip the deadlines already past.
			skipped = int64((end-nd)/l.period) + 1
			next += skipped
		}
		l.statsMu.Lock()
		l.jitter.add(woke - deadline)
		l.work.add(work)
		if skipped > 0 {
			l.stats.Overruns++
			l.stats.Skipped += uint64(skipped)
		}
		l.statsMu.Unlock()
		k = next
	}
}

// Tick runs one cycle at time now (loop clock). Run calls it on each
// deadline; tests and simulations may call it directly with their own
// clock. It allocates nothing.
func (l *Loop) Tick(now time.Duration) {
	c := &l.safety.Counts
	sc := &l.cfg.Safety
	if r, seq := l.rearm.Load(); seq != l.rearmSeen && r != nil {
		l.rearmSeen = seq
		if reason := l.checkRearm(now, r); reason != "" {
			c.BadRearms++
			l.lastReject.Store(&reason)
			l.log.Warn("re-arm rejected", "seq", r.Seq, "reason", reason)
		} else {
			l.rearms++
			l.armed, l.epoch = r.Seq, r.Epoch
			l.needReset, l.started = true, false
			l.resync.Store(true)
			l.aborted, l.hadBall = false, false
			if l.est != nil {
				l.est.Reset()
			}
			l.lastCode = Waiting
		}
	}
	if l.release.Swap(false) && (l.estopLatched || l.estop.Load() == 1) {
		l.estopLatched = false
		l.estop.Store(0)
		l.aborted = false
		l.resync.Store(true)
		l.log.Warn("e-stop released")
	}
	if l.estop.Load() == 1 && !l.estopLatched {
		l.estopLatched = true
		l.log.Warn("e-stop latched")
	}
	if e := l.engaged.Load(); e != l.wasEngaged {
		l.wasEngaged = e
		l.safety.SetLead(e)
		if e {
			l.resync.Store(true)
		}
	}
	if l.resync.Swap(false) {
		l.safety.Reset()
		l.needReset = true
		l.resyncs++
	}
	at, ok := l.arm.ReadState(&l.in.Arm)
	stale := !ok || now-at > time.Duration(sc.JointStaleTicks)*l.period
	l.hadState = l.hadState || ok

	if l.est != nil {
		k := l.obs.Drain(l.obsBuf)
		skew := time.Duration(sc.ClockSkewS * float64(time.Second))
		for i := 0; i < k; i++ {
			o := &l.obsBuf[i]
			if o.At > now+skew || !plausible(o.P, sc) {
				// One message stamped in the future would make the estimator
				// drop every real one after it as out of order.
				c.BadObs++
				continue
			}
			if !l.started && o.At < l.epoch {
				continue // before the throw this catch is for
			}
			if l.est.Observe(o.At.Seconds(), o.P) {
				l.lastObsAt = o.At
			}
		}
		l.est.Estimate(now.Seconds(), &l.in.Ball)
	}
	if l.in.Ball.Valid {
		// A track after an idle spell is a new throw (every time, not only
		// after the first re-arm).
		if l.cfg.AutoRearmIdleS > 0 && l.started && now-l.lastValidAt > time.Duration(l.cfg.AutoRearmIdleS*float64(time.Second)) {
			l.epoch, l.needReset, l.aborted = now, true, false
			l.armed++
			l.safety.Reset() // the new catch starts from the measured state
		}
		l.lastValidAt = now
	}
	if !l.started && now >= l.epoch {
		l.started = true
	}
	trial := now - l.epoch
	if l.in.Ball.Valid {
		l.in.Ball.T -= l.epoch.Seconds()
	}
	l.in.Now = trial
	l.in.Deadline = trial + l.period

	mode := ModeRunning
	switch {
	case l.estopLatched:
		mode = ModeEStop
		c.EStop++
	case stale:
		mode = ModeStale
		if ok {
			c.StaleJoints++
		}
	case !l.started:
		mode = ModeWaiting
	case l.aborted:
		mode = ModeAborted
	}
	if mode == ModeRunning && l.needReset {
		if err := l.ctrl.Reset(l.in.Arm); err != nil {
			mode = ModeError
			c.CtrlErrors++
		} else {
			l.needReset, l.hadBall = false, false
		}
	}
	if mode == ModeRunning {
		st, err := l.ctrl.Step(&l.in, &l.cmd)
		l.lastCode = st.Code
		if err != nil {
			mode = ModeError
			c.CtrlErrors++
		} else {
			if l.in.Ball.Valid {
				l.hadBall = true
			}
			// Mid-catch without a fresh observation: a stale estimate is worse
			// than none. After the catch (cradling) the net may hide the ball.
			catching := st.Code == Tracking || st.Code == StalePlan
			if l.hadBall && catching && now-l.lastObsAt > time.Duration(l.cfg.Safety.BallStaleS*float64(time.Second)) {
				l.aborted = true
				mode = ModeAborted
				c.BallLost++
			}
		}
	}
	switch {
	case !l.hadState:
		// No joint state yet: there is no position to command; send nothing.
	case mode == ModeRunning:
		dt := l.period
		if l.wrote {
			dt = now - l.lastWrite
		}
		l.safety.FilterDT(&l.cmd, &l.in.Arm, dt.Seconds())
	default:
		l.safety.Brake(&l.cmd, &l.in.Arm)
	}
	if l.hadState {
		l.arm.WriteCommand(now, &l.cmd)
		l.lastWrite, l.wrote = now, true
	}

	t := &l.tick
	t.Now, t.TrialT, t.Mode, t.Code = now, trial, mode, l.lastCode
	t.Ball = l.in.Ball
	copy(t.Cmd.Q, l.cmd.Q)
	copy(t.Cmd.Qd, l.cmd.Qd)
	t.Armed, t.Rearms, t.Aborted, t.EStop = l.armed, l.rearms, l.aborted, l.estopLatched
	t.Engaged, t.Resyncs, t.AtRest = l.wasEngaged, l.resyncs, l.hadState && l.safety.AtRest()
	l.out.Put(t)

	l.statsMu.Lock()
	l.stats.Ticks++
	l.stats.Modes[mode]++
	l.stats.Interventions = *c
	l.stats.MaxStep = l.safety.MaxStep
	l.statsMu.Unlock()
}

// checkRearm returns why r cannot be taken at now ("" if it can).
func (l *Loop) checkRearm(now time.Duration, r *Rearm) string {
	sc := &l.cfg.Safety
	if age := now - r.Epoch; age.Seconds() > sc.RearmMaxAgeS {
		return fmt.Sprintf("re-arm %d: epoch %.3f s in the past (safety.rearm_max_age_s %.3g s): stale", r.Seq, age.Seconds(), sc.RearmMaxAgeS)
	}
	if lead := r.Epoch - now; lead.Seconds() > sc.RearmMaxLeadS {
		return fmt.Sprintf("re-arm %d: epoch %.3f s in the future (safety.rearm_max_lead_s %.3g s): clock skew or a bad stamp", r.Seq, lead.Seconds(), sc.RearmMaxLeadS)
	}
	return ""
}

// plausible reports whether a ball observation is finite and inside the
// configured observation box.
func plausible(p [3]float64, sc *SafetyConfig) bool {
	for k := 0; k < 3; k++ {
		if !(p[k] >= sc.ObsMinM[k] && p[k] <= sc.ObsMaxM[k]) {
			return false
		}
	}
	return true
}

// LoopStats are the loop's counters and timing.
type LoopStats struct {
	Ticks    uint64 `json:"ticks"`
	Overruns uint64 `json:"overruns"` // ticks that ended after the next deadline
	Skipped  uint64 `json:"skipped"`  // deadlines skipped after overruns
	// Modes counts ticks per Mode.
	Modes         [6]uint64     `json:"modes"`
	Interventions Interventions `json:"interventions"`
	// JitterUS is how late each tick woke after its deadline, µs.
	JitterUS Quantiles `json:"jitter_us"`
	// WorkUS is each tick's own (wall) time, µs.
	WorkUS       Quantiles `json:"work_us"`
	ObsDropped   uint64    `json:"obs_dropped"`
	EStopLatched bool      `json:"estop_latched"`
	Aborted      bool      `json:"aborted"`
	// MaxStep is the largest commanded position step per tick so far, as a
	// fraction of what the velocity limit allows (≤ 1).
	MaxStep float64 `json:"max_step"`
}

// Quantiles summarise a timing distribution, µs.
type Quantiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	N   uint64  `json:"n"`
}

// Stats returns a snapshot of the counters; safe from any goroutine.
func (l *Loop) Stats() LoopStats {
	l.statsMu.Lock()
	s := l.stats
	s.JitterUS = l.jitter.quantiles()
	s.WorkUS = l.work.quantiles()
	l.statsMu.Unlock()
	s.ObsDropped = l.obs.Dropped()
	var t TickState
	if l.Latest(&t) {
		s.EStopLatched, s.Aborted = t.EStop, t.Aborted
	}
	return s
}

// histogram of durations: 1 µs bins up to 20 ms, 100 µs bins up to 1 s,
// with an exact maximum. Fixed size, so adding allocates nothing.
type histogram struct {
	bins []uint32
	over uint64
	n    uint64
	max  time.Duration
}

const (
	fineBins   = 20000 // [0, 20 ms) in 1 µs
	coarseBins = 9800  // [20 ms, 1 s) in 100 µs
)

func (h *histogram) init() { h.bins = make([]uint32, fineBins+coarseBins) }

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.n++
	if d > h.max {
		h.max = d
	}
	us := int(d / time.Microsecond)
	switch {
	case us < fineBins:
		h.bins[us]++
	case us < fineBins+100*coarseBins:
		h.bins[fineBins+(us-fineBins)/100]++
	default:
		h.over++
	}
}

// binMid returns bin b's centre, µs.
func binMid(b int) float64 {
	if b < fineBins {
		return float64(b) + 0.5
	}
	return float64(fineBins+(b-fineBins)*100) + 50
}

func (h *histogram) quantiles() Quantiles {
	q := Quantiles{N: h.n, Max: float64(h.max) / 1e3}
	if h.n == 0 {
		return q
	}
	at := func(p float64) float64 {
		rank := uint64(math.Ceil(p * float64(h.n)))
		var cum uint64
		for b, c := range h.bins {
			cum += uint64(c)
			if cum >= rank {
				return math.Min(binMid(b), q.Max)
			}
		}
		return q.Max
	}
	q.P50, q.P99 = at(0.5), at(0.99)
	return q
}
