package control

import (
	"sync"
	"time"
)

// MirrorArm is a fake arm for tests and benchmarks (ros2_control's mock
// hardware): every command written is read back as the joint state, as if
// the arm tracked it perfectly. Safe for concurrent use; allocates nothing.
type MirrorArm struct {
	mu  sync.Mutex
	q   []float64
	qd  []float64
	at  time.Duration
	has bool
	// Writes counts WriteCommand calls.
	Writes int
	// Frozen stops the mirror: ReadState keeps returning the last state and
	// its time (a lost joint-state stream).
	Frozen bool
}

// NewMirrorArm returns a fake arm at rest at q0, first measured at time at.
func NewMirrorArm(q0 []float64, at time.Duration) *MirrorArm {
	return &MirrorArm{q: append([]float64(nil), q0...), qd: make([]float64, len(q0)), at: at, has: true}
}

// ReadState implements ArmIO.
func (m *MirrorArm) ReadState(dst *ArmState) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	copy(dst.Q, m.q)
	copy(dst.Qd, m.qd)
	return m.at, m.has
}

// WriteCommand implements ArmIO.
func (m *MirrorArm) WriteCommand(at time.Duration, cmd *Command) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Writes++
	if m.Frozen {
		return
	}
	copy(m.q, cmd.Q)
	copy(m.qd, cmd.Qd)
	m.at = at
}

// SetFrozen freezes or thaws the mirror.
func (m *MirrorArm) SetFrozen(f bool) {
	m.mu.Lock()
	m.Frozen = f
	m.mu.Unlock()
}
