package mpc

import (
	"errors"
	"math"
)

// Tunables are the planner's parameters that may change between re-plans of
// one throw without rebuilding anything: the catch-point scoring, the catch
// speed, the cost weights, the cradle profile, the latency compensation and
// the re-plan freeze. A controller starts with the values of its Config
// (Controller.Tunables); SetTunables replaces them. Package fused learns
// them per throw from what the estimator knows of the ball.
type Tunables struct {
	// CatchXShiftM moves every catch_x_m plane along x, m (0 in a Config).
	CatchXShiftM float64
	// ReachPrefM is the most comfortable reach of the path-scan catch
	// points, m from the shoulder (0.6 in a Config).
	ReachPrefM float64
	// The Config fields of the same names.
	CatchSpeed, CatchRelSpeed, MaxCatchSpeed    float64
	CatchSpeedWeight, OffAxisWeight, PoseWeight float64
	Lambda, EffortWeight, SlowDownS, NetUpRad   float64
	ActionLatencyS, FreezeS                     float64
}

// errAsyncTunables is returned by SetTunables on a controller whose planner
// runs in its own goroutine (it reads the tunables while planning).
var errAsyncTunables = errors.New("mpc: SetTunables on an asynchronous controller (set async: false, or a compute model)")

// Tunables returns the tunables in use.
func (c *Controller) Tunables() Tunables {
	p := c.pl
	return Tunables{
		CatchXShiftM: p.xShift, ReachPrefM: p.reachPref,
		CatchSpeed: c.cfg.CatchSpeed, CatchRelSpeed: c.cfg.CatchRelSpeed, MaxCatchSpeed: c.cfg.MaxCatchSpeed,
		CatchSpeedWeight: c.cfg.CatchSpeedWeight, OffAxisWeight: c.cfg.OffAxisWeight, PoseWeight: c.cfg.PoseWeight,
		Lambda: c.cfg.Lambda, EffortWeight: c.cfg.EffortWeight, SlowDownS: c.cfg.SlowDownS, NetUpRad: c.cfg.NetUpRad,
		ActionLatencyS: c.cfg.ActionLatencyS, FreezeS: c.cfg.FreezeS,
	}
}

// SetTunables makes the next Step and re-plan use t. Values are clamped to
// the ranges Config.Validate accepts (a NaN keeps the value in use), so a
// learned vector can never make the planner invalid. The executing plan is
// not changed. Call it between Steps, from the Step goroutine; it fails
// only on an asynchronous controller without a compute model. It
// allocates nothing.
func (c *Controller) SetTunables(t *Tunables) error {
	if c.async != nil {
		return errAsyncTunables
	}
	c.cfg.applyTunables(t)
	c.pl.setTunables(t)
	if c.virt != nil && c.virt.pl != c.pl {
		c.virt.pl.setTunables(t)
	}
	return nil
}

func (p *Planner) setTunables(t *Tunables) {
	p.cfg.applyTunables(t)
	set(&p.xShift, t.CatchXShiftM, -0.5, 0.5)
	set(&p.reachPref, t.ReachPrefM, reachMin+0.05, reachMax-0.08)
}

func (c *Config) applyTunables(t *Tunables) {
	set(&c.CatchSpeed, t.CatchSpeed, 0, 5)
	set(&c.CatchRelSpeed, t.CatchRelSpeed, 0, 20)
	set(&c.MaxCatchSpeed, t.MaxCatchSpeed, 0, 6)
	set(&c.CatchSpeedWeight, t.CatchSpeedWeight, 0, 1e4)
	set(&c.OffAxisWeight, t.OffAxisWeight, 0, 1e4)
	set(&c.PoseWeight, t.PoseWeight, 0, 1e6)
	set(&c.Lambda, t.Lambda, 0, 1e3)
	set(&c.EffortWeight, t.EffortWeight, 0, 1e3)
	set(&c.SlowDownS, t.SlowDownS, 0.02, 2)
	set(&c.NetUpRad, t.NetUpRad, 0, 1.5)
	set(&c.ActionLatencyS, t.ActionLatencyS, -1, 0.5)
	set(&c.FreezeS, t.FreezeS, 0, 0.5)
}

// set writes v clamped to [lo, hi] into *dst; NaN leaves *dst.
func set(dst *float64, v, lo, hi float64) {
	if math.IsNaN(v) {
		return
	}
	*dst = math.Max(lo, math.Min(hi, v))
}
