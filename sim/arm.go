package sim

import (
	"fmt"
	"math"
)

// ArmConfig sets the arm's low-level joint tracking. The zero value means
// the defaults on each field.
type ArmConfig struct {
	// BandwidthHz is the natural frequency of each joint's PD tracking loop;
	// default 12 Hz (an industrial position interface such as ABB EGM).
	BandwidthHz float64 `yaml:"bandwidth_hz"`
	// DampingRatio of the tracking loop; default 1 (critically damped).
	DampingRatio float64 `yaml:"damping_ratio"`
}

func (c *ArmConfig) setDefaults() {
	if c.BandwidthHz == 0 {
		c.BandwidthHz = 12
	}
	if c.DampingRatio == 0 {
		c.DampingRatio = 1
	}
}

// Validate reports the first bad field.
func (c ArmConfig) Validate() error {
	if c.BandwidthHz < 0 || c.BandwidthHz > 200 || math.IsNaN(c.BandwidthHz) {
		return fmt.Errorf("arm.bandwidth_hz: %v, want (0, 200]", c.BandwidthHz)
	}
	if c.DampingRatio < 0 || c.DampingRatio > 10 || math.IsNaN(c.DampingRatio) {
		return fmt.Errorf("arm.damping_ratio: %v, want (0, 10]", c.DampingRatio)
	}
	return nil
}

// JointLimits are per-joint bounds: position (rad or m), velocity and
// acceleration magnitudes.
type JointLimits struct {
	Lower, Upper, Vel, Acc []float64
}

// Arm is the simulated arm's low-level controller and joint dynamics: each
// joint tracks the latest commanded (q, q̇) — which reaches it after the
// action latency — with a PD loop plus the commanded acceleration as feed
// forward, saturated at the acceleration and velocity limits, and braked so
// that it never passes a position limit. Not safe for concurrent use.
type Arm struct {
	lim    JointLimits
	kp, kd float64
	lat    float64

	Q, Qd []float64

	// active command and its reference time
	cq, cqd, cff []float64
	ct           float64
	has          bool

	// pending commands in a ring buffer, applied at their due time
	ring   []float64 // slots × (2n+1): due, q…, qd…
	head   int
	count  int
	slots  int
	period float64

	// Guarded counts the integration steps in which the arm's own limit
	// guard had to brake or stop a joint.
	Guarded int
}

// NewArm returns an arm with n joints at rest at q0.
func NewArm(cfg ArmConfig, lim JointLimits, q0 []float64, actionLatency, cmdPeriod float64) (*Arm, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := len(q0)
	if len(lim.Lower) != n || len(lim.Upper) != n || len(lim.Vel) != n || len(lim.Acc) != n {
		return nil, fmt.Errorf("arm: limits for %d/%d/%d/%d joints, want %d", len(lim.Lower), len(lim.Upper), len(lim.Vel), len(lim.Acc), n)
	}
	w := 2 * math.Pi * cfg.BandwidthHz
	slots := int(math.Ceil(actionLatency/cmdPeriod)) + 4
	a := &Arm{
		lim: lim, kp: w * w, kd: 2 * cfg.DampingRatio * w, lat: actionLatency,
		Q: make([]float64, n), Qd: make([]float64, n),
		cq: make([]float64, n), cqd: make([]float64, n), cff: make([]float64, n),
		ring: make([]float64, slots*(2*n+1)), slots: slots, period: cmdPeriod,
	}
	a.Reset(q0)
	return a, nil
}

// SetLatency changes the action latency (s) for the following commands; the
// command queue grows if needed (setup-time allocation only).
func (a *Arm) SetLatency(lat float64) {
	a.lat = lat
	if need := int(math.Ceil(lat/a.period)) + 4; need > a.slots {
		a.ring = make([]float64, need*(2*len(a.Q)+1))
		a.slots, a.head, a.count = need, 0, 0
	}
}

// Reset puts the arm at rest at q0 and drops pending commands.
func (a *Arm) Reset(q0 []float64) {
	copy(a.Q, q0)
	for i := range a.Qd {
		a.Qd[i] = 0
	}
	a.has, a.count, a.head, a.Guarded = false, 0, 0, 0
}

// Command queues a command sent at time t; it acts from t + latency. The
// slices are copied. When the queue is full the oldest pending command is
// dropped (it would be overtaken anyway).
func (a *Arm) Command(t float64, q, qd []float64) {
	n := len(a.Q)
	w := 2*n + 1
	if a.count == a.slots {
		a.head = (a.head + 1) % a.slots
		a.count--
	}
	i := (a.head + a.count) % a.slots
	s := a.ring[i*w : (i+1)*w]
	s[0] = t + a.lat
	copy(s[1:1+n], q)
	copy(s[1+n:], qd)
	a.count++
}

// Step applies due commands and integrates the joints from t to t+dt.
func (a *Arm) Step(t, dt float64) {
	n := len(a.Q)
	w := 2*n + 1
	for a.count > 0 {
		s := a.ring[a.head*w : (a.head+1)*w]
		if s[0] > t+1e-12 {
			break
		}
		for j := 0; j < n; j++ {
			qd := s[1+n+j]
			if a.has {
				a.cff[j] = (qd - a.cqd[j]) / a.period
			} else {
				a.cff[j] = 0
			}
			a.cq[j], a.cqd[j] = s[1+j], qd
		}
		a.ct = s[0]
		a.has = true
		a.head = (a.head + 1) % a.slots
		a.count--
	}
	guarded := false
	for j := 0; j < n; j++ {
		var acc float64
		if a.has {
			ref := a.cq[j] + a.cqd[j]*(t-a.ct)
			acc = a.cff[j] + a.kp*(ref-a.Q[j]) + a.kd*(a.cqd[j]-a.Qd[j])
		} else {
			acc = -a.kd * a.Qd[j] // no command yet: brake to rest
		}
		am := a.lim.Acc[j]
		acc = math.Max(-am, math.Min(am, acc))
		// Braking guard: never head into a position limit faster than the
		// acceleration limit can stop the joint.
		qd := a.Qd[j] + acc*dt
		if qd > 0 {
			room := a.lim.Upper[j] - a.Q[j]
			if vmax := math.Sqrt(2 * am * math.Max(room, 0)); qd > vmax {
				qd, guarded = vmax, true
			}
		} else if qd < 0 {
			room := a.Q[j] - a.lim.Lower[j]
			if vmax := math.Sqrt(2 * am * math.Max(room, 0)); -qd > vmax {
				qd, guarded = -vmax, true
			}
		}
		vm := a.lim.Vel[j]
		qd = math.Max(-vm, math.Min(vm, qd))
		q := a.Q[j] + 0.5*(a.Qd[j]+qd)*dt
		if q > a.lim.Upper[j] {
			q, qd, guarded = a.lim.Upper[j], 0, true
		} else if q < a.lim.Lower[j] {
			q, qd, guarded = a.lim.Lower[j], 0, true
		}
		a.Q[j], a.Qd[j] = q, qd
	}
	if guarded {
		a.Guarded++
	}
}
