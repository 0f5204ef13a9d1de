package mujoco

/*
#cgo LDFLAGS: -lmujoco
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mujoco/mujoco.h>

// loadString compiles an MJCF document held in memory (through a one-file
// virtual file system, so nothing touches the disk).
static mjModel* loadString(const char* xml, int n, char* err, int errsz) {
	mjVFS* vfs = (mjVFS*)malloc(sizeof(mjVFS));
	if (!vfs) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	mj_defaultVFS(vfs);
	if (mj_makeEmptyFileVFS(vfs, "catcher.xml", n) != 0) {
		free(vfs);
		snprintf(err, errsz, "cannot create the in-memory MJCF file");
		return NULL;
	}
	int i = mj_findFileVFS(vfs, "catcher.xml");
	memcpy(vfs->filedata[i], xml, n);
	mjModel* m = mj_loadXML("catcher.xml", vfs, err, errsz);
	mj_deleteVFS(vfs);
	free(vfs);
	return m;
}

// quiet replaces MuJoCo's default warning handler, which appends to
// MUJOCO_LOG.TXT in the working directory; warnings are still counted in
// mjData.warning and reported per trial (sim.Counters.Warning).
static void quiet(const char* msg) { (void)msg; }
static void silence(void) { mju_user_warning = quiet; }

static int warnings(const mjData* d) {
	return d->warning[mjWARN_BADQACC].number + d->warning[mjWARN_BADQVEL].number +
		d->warning[mjWARN_BADQPOS].number + d->warning[mjWARN_CONTACTFULL].number +
		d->warning[mjWARN_CNSTRFULL].number;
}
*/
import "C"

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"unsafe"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

func init() { C.silence() }

// Version returns the MuJoCo library's version string (e.g. "2.2.2").
func Version() string { return C.GoString(C.mj_versionString()) }

// Engine is the MuJoCo engine (sim.Engine). The zero value uses the
// defaults of Config.
type Engine struct {
	Config Config
}

// Name is "mujoco".
func (Engine) Name() string { return "mujoco" }

// NewPhysics compiles the model for throws of sc (the ball set decides the
// ball's size, mass and contact parameters).
func (e Engine) NewPhysics(cfg sim.Config, rob *robot.Robot, sc *sim.Scenario) (sim.Physics, error) {
	return newPhysics(e.Config, cfg, rob, sc.BallProps())
}

// Geom kinds for the contact bookkeeping.
const (
	kindOther = iota
	kindBall
	kindNet
	kindFrame
	kindBody // the robot's moving links
	kindRail // the robot's fixed geometry: the rail beam
	kindFloor
)

type command struct {
	due   float64
	q, qd []float64
}

// physics is one world's MuJoCo model and data (sim.Physics).
type physics struct {
	cfg    Config
	m      *C.mjModel
	d      *C.mjData
	n      int
	period float64
	lat    float64
	pocket robot.Pocket
	depth  float64
	holdS  float64

	// per chain joint: qpos and dof addresses, the mass matrix diagonal's
	// address, viscous damping, torque limit
	qadr, dadr, madr []int
	damping, tauMax  []float64
	accLim           []float64 // the joints' acceleration limits (robot.Limits.Acc)
	kp, kd           float64

	// MuJoCo's arrays, viewed in place
	qpos, qvel, ctrl, xfrc, qM, bias, sxpos, sxmat, bxmat []float64
	geomKind                                              []uint8

	ballQ, ballV, ballBody, headSite int
	props                            ball.Props
	kdrag, klift, g, spinI           float64
	aFree                            ball.Vec // the ball's free-flight acceleration last step

	// commands: pending (ring of slots) and active
	ring       []command
	head, cnt  int
	cq, cqd    []float64
	cff        []float64
	ct         float64
	has        bool
	q, qd      []float64
	hm         sim.HeadMotion
	b          ball.State
	velBuf     [6]C.mjtNum
	violated   bool
	violations int

	// judge
	inside, caught     bool
	since, caughtAt    float64
	frameTouch         bool
	rimHits, exits     int
	armHits, collision int
	selfColl, railColl int
	floorColl          int
	saturated          int
	// commands whose velocity change broke the acceleration limit, the
	// time the last one took effect, and the saturated steps soon after
	infeasible, satAfter int
	lastInfeasible       float64
	// the last time the ball touched the robot, and the saturated steps
	// soon after
	lastBallTouch float64
	satImpact     int
	satOther      int // saturated steps near neither
	warn          int
	satJ          []int  // per joint: steps at the torque limit
	firstColl     [2]int // geoms of the first collision, −1 when none
	jointNames    []string
}

func newPhysics(mc Config, sc sim.Config, rob *robot.Robot, props ball.Props) (*physics, error) {
	mc.setDefaults()
	if err := mc.Validate(); err != nil {
		return nil, err
	}
	depth, hold := sc.Pocket.DepthM, sc.Pocket.HoldS
	mdl, err := buildMJCF(&mc, rob, depth, props)
	if err != nil {
		return nil, fmt.Errorf("robot to MJCF: %w", err)
	}
	m, err := load(mdl.xml)
	if err != nil {
		return nil, err
	}
	p := &physics{cfg: mc, m: m, d: C.mj_makeData(m), n: len(mdl.joints), period: 1 / sc.ControlRateHz,
		pocket: rob.Pocket, depth: depth, holdS: hold, props: props, accLim: append([]float64(nil), rob.Limits.Acc...)}
	if len(p.accLim) != len(mdl.joints) {
		p.Close()
		return nil, fmt.Errorf("mujoco: %d acceleration limits for %d joints", len(p.accLim), len(mdl.joints))
	}
	runtime.SetFinalizer(p, (*physics).Close)
	if err := p.bind(mdl.joints); err != nil {
		p.Close()
		return nil, err
	}
	w := 2 * math.Pi * mc.ServoBandwidthHz
	p.kp, p.kd = w*w, 2*mc.ServoDampingRatio*w
	p.kdrag, p.klift, p.g = props.Coeffs()
	p.spinI = p.arr(p.m.body_inertia, 3*int(p.m.nbody))[3*p.ballBody] // all three equal for a sphere
	n := p.n
	p.cq, p.cqd, p.cff = make([]float64, n), make([]float64, n), make([]float64, n)
	p.q, p.qd = make([]float64, n), make([]float64, n)
	p.setLatency(0)
	return p, nil
}

func load(xml string) (*C.mjModel, error) {
	cx := C.CString(xml)
	defer C.free(unsafe.Pointer(cx))
	errBuf := (*C.char)(C.malloc(1024))
	defer C.free(unsafe.Pointer(errBuf))
	*errBuf = 0
	m := C.loadString(cx, C.int(len(xml)), errBuf, 1024)
	if m == nil {
		return nil, fmt.Errorf("mujoco: compile the model: %s", C.GoString(errBuf))
	}
	return m, nil
}

// arr views n doubles of MuJoCo memory as a slice.
func (p *physics) arr(ptr *C.mjtNum, n int) []float64 {
	return unsafe.Slice((*float64)(unsafe.Pointer(ptr)), n)
}

func ints(ptr *C.int, n int) []C.int { return unsafe.Slice(ptr, n) }

func (p *physics) id(kind C.int, name string) int {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	return int(C.mj_name2id(p.m, kind, cn))
}

// bind finds the joints, the ball, the head site and the geoms' kinds.
func (p *physics) bind(joints []string) error {
	m, d := p.m, p.d
	nq, nv, nu := int(m.nq), int(m.nv), int(m.nu)
	p.qpos, p.qvel = p.arr(d.qpos, nq), p.arr(d.qvel, nv)
	p.ctrl = p.arr(d.ctrl, nu)
	p.xfrc = p.arr(d.xfrc_applied, 6*int(m.nbody))
	p.qM = p.arr(d.qM, int(m.nM))
	p.bias = p.arr(d.qfrc_bias, nv)
	jq, jd := ints(m.jnt_qposadr, int(m.njnt)), ints(m.jnt_dofadr, int(m.njnt))
	madr := ints(m.dof_Madr, nv)
	damp := p.arr(m.dof_damping, nv)
	crange := p.arr(m.actuator_ctrlrange, 2*nu)
	if nu != len(joints) {
		return fmt.Errorf("mujoco: %d actuators for %d joints", nu, len(joints))
	}
	for i, name := range joints {
		j := p.id(C.mjOBJ_JOINT, name)
		if j < 0 {
			return fmt.Errorf("mujoco: joint %q missing from the model", name)
		}
		p.qadr = append(p.qadr, int(jq[j]))
		p.dadr = append(p.dadr, int(jd[j]))
		p.madr = append(p.madr, int(madr[jd[j]]))
		p.damping = append(p.damping, damp[jd[j]])
		p.tauMax = append(p.tauMax, crange[2*i+1])
		p.jointNames = append(p.jointNames, name)
	}
	bj := p.id(C.mjOBJ_JOINT, "ball")
	p.satJ = make([]int, len(joints))
	p.ballQ, p.ballV = int(jq[bj]), int(jd[bj])
	p.ballBody = p.id(C.mjOBJ_BODY, ballBody)
	p.headSite = p.id(C.mjOBJ_SITE, headSite)
	if p.ballBody < 0 || p.headSite < 0 || bj < 0 {
		return fmt.Errorf("mujoco: the model lacks the ball or the head site")
	}
	p.sxpos = p.arr(d.site_xpos, 3*int(m.nsite))[3*p.headSite : 3*p.headSite+3]
	p.sxmat = p.arr(d.site_xmat, 9*int(m.nsite))[9*p.headSite : 9*p.headSite+9]
	p.bxmat = p.arr(d.xmat, 9*int(m.nbody))[9*p.ballBody : 9*p.ballBody+9]
	ng := int(m.ngeom)
	p.geomKind = make([]uint8, ng)
	names := unsafe.Slice(m.names, int(m.nnames))
	nadr := ints(m.name_geomadr, ng)
	gbody := ints(m.geom_bodyid, ng)
	for g := 0; g < ng; g++ {
		name := C.GoString(&names[nadr[g]])
		switch {
		case name == ballGeom:
			p.geomKind[g] = kindBall
		case name == floorGeom:
			p.geomKind[g] = kindFloor
		case strings.HasPrefix(name, netPfx):
			p.geomKind[g] = kindNet
		case strings.HasPrefix(name, framePfx):
			p.geomKind[g] = kindFrame
		case strings.HasPrefix(name, "body_") && gbody[g] == 0:
			p.geomKind[g] = kindRail // on the world body: fixed
		case strings.HasPrefix(name, "body_"):
			p.geomKind[g] = kindBody
		}
	}
	return nil
}

func (p *physics) setLatency(lat float64) {
	p.lat = lat
	need := int(math.Ceil(lat/p.period)) + 4
	if need > len(p.ring) {
		p.ring = make([]command, need)
		for i := range p.ring {
			p.ring[i] = command{q: make([]float64, p.n), qd: make([]float64, p.n)}
		}
	}
	p.head, p.cnt = 0, 0
}

// Reset implements sim.Physics.
func (p *physics) Reset(th *sim.Throw, q0 []float64) error {
	if len(q0) != p.n {
		return fmt.Errorf("mujoco: %d joint positions, want %d", len(q0), p.n)
	}
	C.mj_resetData(p.m, p.d)
	p.setLatency(th.ActLatS)
	p.has = false
	for j := 0; j < p.n; j++ {
		p.qpos[p.qadr[j]] = q0[j]
		p.cq[j], p.cqd[j], p.cff[j] = q0[j], 0, 0
	}
	p.props = th.Ball
	p.kdrag, p.klift, p.g = p.props.Coeffs()
	bq := p.qpos[p.ballQ : p.ballQ+7]
	copy(bq, []float64{th.Init.P[0], th.Init.P[1], th.Init.P[2], 1, 0, 0, 0})
	// Leapfrog start: MuJoCo's semi-implicit Euler keeps the velocity half
	// a step behind the position, so the ball starts with v(−dt/2); then
	// its positions are second-order accurate (within 1 mm of ball.Props
	// over a 1 s flight, see the tests).
	dt := p.cfg.step()
	a := p.freeAccel(th.Init.V, th.Init.W, true)
	bv := p.qvel[p.ballV : p.ballV+6]
	for i := 0; i < 3; i++ {
		bv[i] = th.Init.V[i] - a[i]*dt/2
		bv[3+i] = th.Init.W[i] // body frame = world frame at the identity orientation
	}
	p.aFree = a
	p.inside, p.caught, p.frameTouch = false, false, false
	p.since, p.caughtAt = 0, 0
	p.rimHits, p.exits, p.armHits, p.collision, p.saturated, p.violations = 0, 0, 0, 0, 0, 0
	p.selfColl, p.railColl, p.floorColl = 0, 0, 0
	p.infeasible, p.satAfter, p.lastInfeasible = 0, 0, math.Inf(-1)
	p.lastBallTouch, p.satImpact, p.satOther = math.Inf(-1), 0, 0
	for j := range p.satJ {
		p.satJ[j] = 0
	}
	p.firstColl = [2]int{-1, -1}
	p.violated = false
	p.warn = int(C.warnings(p.d))
	C.mj_step1(p.m, p.d)
	p.read()
	return nil
}

// freeAccel returns the ball's acceleration in free flight (gravity when
// withGravity, drag and Magnus from ball.Props) at velocity v and spin w.
func (p *physics) freeAccel(v, w ball.Vec, withGravity bool) ball.Vec {
	s := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	kd, kl := p.kdrag, p.klift
	a := ball.Vec{
		kd*s*v[0] + kl*(w[1]*v[2]-w[2]*v[1]),
		kd*s*v[1] + kl*(w[2]*v[0]-w[0]*v[2]),
		kd*s*v[2] + kl*(w[0]*v[1]-w[1]*v[0]),
	}
	if withGravity {
		a[2] -= p.g
	}
	return a
}

// Command implements sim.Physics.
func (p *physics) Command(t float64, q, qd []float64) {
	if p.violated {
		p.violations++
		p.violated = false
	}
	if p.cnt == len(p.ring) {
		p.head = (p.head + 1) % len(p.ring)
		p.cnt--
	}
	c := &p.ring[(p.head+p.cnt)%len(p.ring)]
	c.due = t + p.lat
	copy(c.q, q)
	copy(c.qd, qd)
	p.cnt++
}

// Step implements sim.Physics.
func (p *physics) Step(t float64) {
	for p.cnt > 0 {
		c := &p.ring[p.head]
		if c.due > t+1e-12 {
			break
		}
		// The feed-forward acceleration spans the time since the previous
		// command took effect (a skipped tick leaves two periods).
		gap := p.period
		if p.has {
			gap = math.Max(p.period, c.due-p.ct)
		}
		over := false
		for j := 0; j < p.n; j++ {
			if p.has {
				p.cff[j] = (c.qd[j] - p.cqd[j]) / gap
				over = over || math.Abs(p.cff[j]) > p.accLim[j]*(1+1e-6)+1e-9
			} else {
				p.cff[j] = 0
			}
			p.cq[j], p.cqd[j] = c.q[j], c.qd[j]
		}
		if over {
			p.infeasible++
			p.lastInfeasible = c.due
		}
		p.ct, p.has = c.due, true
		p.head = (p.head + 1) % len(p.ring)
		p.cnt--
	}
	dt := p.cfg.step()
	for s := 0; s < p.cfg.Substeps; s++ {
		ts := t + float64(s)*dt
		p.servo(ts)
		p.ballForces(dt)
		C.mj_step2(p.m, p.d)
		C.mj_step1(p.m, p.d)
		p.contacts()
	}
	p.read()
	p.judge(t + sim.PhysicsStep)
}

// infeasibleWindow is how long, in control periods, torque saturation
// counts as the aftermath of a command beyond the acceleration limit (the
// servo catching up with a position it could not follow).
const infeasibleWindow = 10

// servo sets each joint's torque: the joint-space PD loop on the commanded
// trajectory (position extrapolated with the commanded velocity), scaled by
// the joint's own inertia (the mass matrix diagonal, armature included),
// plus feed-forward of the commanded acceleration, gravity and Coriolis
// (MuJoCo's bias force) and the viscous damping at the commanded velocity;
// saturated at the torque limit.
func (p *physics) servo(t float64) {
	sat := false
	for j := 0; j < p.n; j++ {
		q, v := p.qpos[p.qadr[j]], p.qvel[p.dadr[j]]
		var acc, ff float64
		if p.has {
			ref := p.cq[j] + p.cqd[j]*(t-p.ct)
			acc = p.cff[j] + p.kp*(ref-q) + p.kd*(p.cqd[j]-v)
			ff = p.damping[j] * p.cqd[j]
		} else {
			acc = p.kp*(p.cq[j]-q) - p.kd*v // no command yet: hold the ready pose
		}
		tau := p.qM[p.madr[j]]*acc + p.bias[p.dadr[j]] + ff
		if lim := p.tauMax[j]; tau > lim {
			tau, sat = lim, true
			p.satJ[j]++
		} else if tau < -lim {
			tau, sat = -lim, true
			p.satJ[j]++
		}
		p.ctrl[j] = tau
	}
	if sat {
		p.saturated++
		p.violated = true
		hard := t-p.lastInfeasible <= infeasibleWindow*p.period
		ball := t-p.lastBallTouch <= infeasibleWindow*p.period
		if hard {
			p.satAfter++
		}
		if ball {
			p.satImpact++
		}
		if !hard && !ball {
			p.satOther++
		}
	}
}

// ballForces applies drag and Magnus (ball.Props's model) as an external
// force at the ball's centre, and the spin decay as a torque, evaluated at
// the velocity of the current instant (the leapfrog's half-step velocity
// advanced by half a step).
func (p *physics) ballForces(dt float64) {
	v := p.qvel[p.ballV : p.ballV+3]
	wl := p.qvel[p.ballV+3 : p.ballV+6]
	R := p.bxmat
	w := ball.Vec{
		R[0]*wl[0] + R[1]*wl[1] + R[2]*wl[2],
		R[3]*wl[0] + R[4]*wl[1] + R[5]*wl[2],
		R[6]*wl[0] + R[7]*wl[1] + R[8]*wl[2],
	}
	vn := ball.Vec{v[0] + p.aFree[0]*dt/2, v[1] + p.aFree[1]*dt/2, v[2] + p.aFree[2]*dt/2}
	a := p.freeAccel(vn, w, false)
	f := p.xfrc[6*p.ballBody : 6*p.ballBody+6]
	m := p.props.Mass
	c := p.props.SpinDecay * p.spinI
	for i := 0; i < 3; i++ {
		f[i] = m * a[i]
		f[3+i] = -c * w[i]
	}
	a[2] -= p.g
	p.aFree = a
}

// contacts classifies the contacts of the new state: the ball on the frame
// (a rim hit when it starts), the ball on the arm or the rail, and the
// robot touching itself, the rail or the floor (a limit violation, counted
// by kind).
func (p *physics) contacts() {
	n := int(p.d.ncon)
	touch := false
	frame, coll := false, false
	var self, rail, floor bool
	if n > 0 {
		cs := unsafe.Slice(p.d.contact, n)
		for i := range cs {
			k1, k2 := p.geomKind[cs[i].geom1], p.geomKind[cs[i].geom2]
			if k2 == kindBall {
				k1, k2 = k2, k1
			}
			switch {
			case k1 == kindBall && k2 == kindFrame:
				frame, touch = true, true
			case k1 == kindBall && (k2 == kindBody || k2 == kindRail):
				p.armHits++
				touch = true
			case k1 == kindBall && k2 == kindNet:
				touch = true
			case k1 == kindBall:
			default:
				coll = true
				switch {
				case k1 == kindFloor || k2 == kindFloor:
					floor = true
				case k1 == kindRail || k2 == kindRail:
					rail = true
				default:
					self = true // links, stick and frame of the moving arm
				}
				if p.firstColl[0] < 0 {
					p.firstColl = [2]int{int(cs[i].geom1), int(cs[i].geom2)}
				}
			}
		}
	}
	if touch {
		p.lastBallTouch = float64(p.d.time)
	}
	if frame && !p.frameTouch {
		p.rimHits++
	}
	p.frameTouch = frame
	if coll {
		p.collision++
		p.violated = true
	}
	if self {
		p.selfColl++
	}
	if rail {
		p.railColl++
	}
	if floor {
		p.floorColl++
	}
}

// read copies the joint state, the ball and the head's motion out of MuJoCo.
func (p *physics) read() {
	for j := 0; j < p.n; j++ {
		p.q[j], p.qd[j] = p.qpos[p.qadr[j]], p.qvel[p.dadr[j]]
	}
	dt := p.cfg.step()
	for i := 0; i < 3; i++ {
		p.b.P[i] = p.qpos[p.ballQ+i]
		p.b.V[i] = p.qvel[p.ballV+i] + p.aFree[i]*dt/2
	}
	R := p.bxmat
	wl := p.qvel[p.ballV+3 : p.ballV+6]
	for i := 0; i < 3; i++ {
		p.b.W[i] = R[3*i]*wl[0] + R[3*i+1]*wl[1] + R[3*i+2]*wl[2]
	}
	h := &p.hm
	for i := 0; i < 3; i++ {
		h.O[i] = p.sxpos[i]
		for k := 0; k < 3; k++ {
			h.R[i][k] = p.sxmat[3*i+k]
		}
	}
	C.mj_objectVelocity(p.m, p.d, C.mjOBJ_SITE, C.int(p.headSite), &p.velBuf[0], 0)
	for i := 0; i < 3; i++ {
		h.W[i] = float64(p.velBuf[i])
		h.V[i] = float64(p.velBuf[3+i])
	}
}

// judge applies the catch rule at trial time t: the ball is in the pocket
// while its centre is behind the opening plane, within the opening's
// ellipse and no deeper than the pocket plus a ball radius; it is caught
// after staying there longer than the hold time.
func (p *physics) judge(t float64) {
	h := &p.hm
	d := ball.Vec{p.b.P[0] - h.O[0], p.b.P[1] - h.O[1], p.b.P[2] - h.O[2]}
	lx := h.R[0][0]*d[0] + h.R[1][0]*d[1] + h.R[2][0]*d[2]
	ly := h.R[0][1]*d[0] + h.R[1][1]*d[1] + h.R[2][1]*d[2]
	lz := h.R[0][2]*d[0] + h.R[1][2]*d[1] + h.R[2][2]*d[2]
	u, w := lx/p.pocket.Along, lz/p.pocket.Across
	in := ly < 0 && ly > -(p.depth+p.props.Radius) && u*u+w*w <= 1
	switch {
	case in && !p.inside:
		p.inside, p.since = true, t
	case !in && p.inside:
		p.inside = false
		p.exits++
	}
	if p.inside && !p.caught && t-p.since > p.holdS {
		p.caught, p.caughtAt = true, t
	}
}

func (p *physics) Joints() (q, qd []float64) { return p.q, p.qd }
func (p *physics) Ball() ball.State          { return p.b }
func (p *physics) Head(h *sim.HeadMotion)    { *h = p.hm }
func (p *physics) Inside() bool              { return p.inside }
func (p *physics) CatchTime() (float64, bool) {
	return p.caughtAt, p.caught
}

// Counters implements sim.Physics.
func (p *physics) Counters(c *sim.Counters) {
	v := p.violations
	if p.violated {
		v++ // the current control period
	}
	*c = sim.Counters{RimHits: p.rimHits, Exits: p.exits, ArmHits: p.armHits, Collisions: p.collision,
		TorqueSaturated: p.saturated, Violations: v, SelfCollisions: p.selfColl, RailCollisions: p.railColl,
		FloorCollisions: p.floorColl, SaturatedSteps: p.satJ, JointNames: p.jointNames,
		InfeasibleCommands: p.infeasible, SaturatedAfterInfeasible: p.satAfter, SaturatedByBall: p.satImpact,
		SaturatedOther: p.satOther}
	if p.firstColl[0] >= 0 {
		c.FirstCollision = p.geomName(p.firstColl[0]) + "/" + p.geomName(p.firstColl[1])
	}
	best := 0
	for j, n := range p.satJ {
		if n > best {
			best, c.SaturatedJoint = n, p.jointNames[j]
		}
	}
	if w := int(C.warnings(p.d)); w > p.warn {
		c.Warning = fmt.Sprintf("mujoco: %d simulation warnings (unstable, or the contact buffer is full)", w-p.warn)
	}
}

func (p *physics) geomName(g int) string {
	return C.GoString(C.mj_id2name(p.m, C.mjOBJ_GEOM, C.int(g)))
}

// Bytes is the memory MuJoCo holds for this world: the model's buffer and
// the data's buffer and stack.
func (p *physics) Bytes() int {
	return int(p.m.nbuffer) + int(p.d.nbuffer) + 8*int(p.d.nstack)
}

// Close frees the MuJoCo model and data.
func (p *physics) Close() error {
	if p.d != nil {
		C.mj_deleteData(p.d)
		p.d = nil
	}
	if p.m != nil {
		C.mj_deleteModel(p.m)
		p.m = nil
	}
	runtime.SetFinalizer(p, nil)
	return nil
}
