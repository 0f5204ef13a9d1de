package mujoco

import (
	"fmt"
	"math"
	"strings"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/robot"
)

// Contact bits (MuJoCo contype/conaffinity): two geoms touch when one's
// contype shares a bit with the other's conaffinity.
const (
	bitBall = 1 // the ball touches everything
	bitBody = 2 // the robot's own bodies, the rail and the floor touch one another
)

// Geom names the model uses (the judge classifies contacts by them).
const (
	ballBody  = "ball"
	ballGeom  = "ball"
	headSite  = "head"
	floorGeom = "floor"
	framePfx  = "frame_" // the head's frame and the stick
	netPfx    = "net_"   // the pocket
)

// model is the MJCF document of the robot, the head and the ball, and what
// the engine must know about it.
type model struct {
	xml    string
	joints []string // the chain's joint names, in q order
}

// buildMJCF converts the robot's URDF model to MJCF: one body per link with
// the link's <inertial>, its <collision> geometry (primitives), its joint
// with the URDF's <dynamics damping> and cfg's armature, and a motor per
// joint limited to the URDF's effort. The links beyond the chain's tip are
// left out, and the tip (the head) gets the frame and net built from the
// pocket description instead of its URDF collision geometry (that is the
// safety layer's bounding volume, which would close the pocket). The ball
// is a free body with the ball set's mass and radius.
func buildMJCF(cfg *Config, rob *robot.Robot, pocketDepth float64, props ball.Props) (*model, error) {
	m := rob.Model
	children := map[string][]int{}
	for i, j := range m.Joints {
		children[j.Parent] = append(children[j.Parent], i)
	}
	links := map[string]*robot.Link{}
	for i := range m.Links {
		links[m.Links[i].Name] = &m.Links[i]
	}
	base, tip := rob.Chain.Base(), rob.Chain.Tip()
	onChain := map[string]bool{}
	for _, n := range rob.Chain.LinkNames() {
		onChain[n] = true
	}
	names := rob.Chain.JointNames()
	eff := map[string]float64{}
	for _, j := range m.Joints {
		eff[j.Name] = j.Effort
	}
	_, _, g := props.Coeffs()

	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("<mujoco model=%q>\n", m.Name)
	// fusestatic merges bodies without joints (flange, head, base_link) into
	// their parent; the head frame survives as a site.
	w(`<compiler angle="radian" inertiafromgeom="false" fusestatic="true" balanceinertia="true"/>` + "\n")
	w(`<option timestep="%s" integrator="Euler" gravity="0 0 %s" cone="pyramidal" impratio="1">`+"\n", f(cfg.step()), f(-g))
	w(`<flag energy="disable"/>` + "\n</option>\n")
	w("<size nconmax=\"200\" njmax=\"600\"/>\n")
	w("<worldbody>\n")
	w(`<geom name=%q type="plane" size="5 5 0.1" contype="%d" conaffinity="%d" %s/>`+"\n",
		floorGeom, bitBody, bitBall|bitBody, contactAttrs(cfg.floorSolref(props), props))
	// Geometry fixed to the base link (the rail beam for the shipped robot).
	if err := writeGeoms(&b, links[base], cfg, props, false); err != nil {
		return nil, err
	}
	rev := 0 // revolute joints so far
	// bodies lists the chain's bodies with the number of movable joints
	// between the world and each, and parent each body's parent.
	type chainBody struct {
		name, parent string
		joints       int
	}
	bodies := []chainBody{{name: "world"}}
	nJoints := map[string]int{base: 0}
	var walk func(link string, depth int) error
	walk = func(link string, depth int) error {
		for _, ji := range children[link] {
			j := &m.Joints[ji]
			if !onChain[j.Child] {
				continue // branches off the chain carry nothing the engine needs
			}
			q := j.Origin.Quaternion() // x, y, z, w
			w("<body name=%q pos=\"%s %s %s\" quat=\"%s %s %s %s\">\n", j.Child,
				f(j.Origin.P[0]), f(j.Origin.P[1]), f(j.Origin.P[2]), f(q[3]), f(q[0]), f(q[1]), f(q[2]))
			nJoints[j.Child] = nJoints[link]
			if j.Type.Movable() {
				nJoints[j.Child]++
			}
			parent := link
			if link == base {
				parent = "world"
			}
			bodies = append(bodies, chainBody{name: j.Child, parent: parent, joints: nJoints[j.Child]})
			arm := cfg.armature(j.Type, rev)
			if j.Type == robot.Revolute || j.Type == robot.Continuous {
				rev++
			}
			switch j.Type {
			case robot.Revolute, robot.Prismatic:
				kind := "hinge"
				if j.Type == robot.Prismatic {
					kind = "slide"
				}
				w("<joint name=%q type=%q axis=\"%s %s %s\" range=\"%s %s\" limited=\"true\" damping=\"%s\" armature=\"%s\"/>\n",
					j.Name, kind, f(j.Axis[0]), f(j.Axis[1]), f(j.Axis[2]), f(j.Lower), f(j.Upper), f(j.Damping), f(arm))
			case robot.Continuous:
				w("<joint name=%q type=\"hinge\" axis=\"%s %s %s\" limited=\"false\" damping=\"%s\" armature=\"%s\"/>\n",
					j.Name, f(j.Axis[0]), f(j.Axis[1]), f(j.Axis[2]), f(j.Damping), f(arm))
			}
			l := links[j.Child]
			if in := l.Inertial; in != nil {
				I := bodyInertia(in)
				w("<inertial pos=\"%s %s %s\" mass=\"%s\" fullinertia=\"%s %s %s %s %s %s\"/>\n",
					f(in.Origin.P[0]), f(in.Origin.P[1]), f(in.Origin.P[2]), f(in.Mass),
					f(I[0][0]), f(I[1][1]), f(I[2][2]), f(I[0][1]), f(I[0][2]), f(I[1][2]))
			} else if j.Type.Movable() {
				return fmt.Errorf("link %q: no <inertial>, want mass and inertia for every link a joint moves", l.Name)
			}
			if j.Child == tip {
				writeHead(&b, cfg, rob, pocketDepth, props)
			} else {
				if err := writeGeoms(&b, l, cfg, props, true); err != nil {
					return err
				}
				if err := walk(j.Child, depth+1); err != nil {
					return err
				}
			}
			w("</body>\n")
		}
		return nil
	}
	if err := walk(base, 0); err != nil {
		return nil, err
	}
	// The ball: a free sphere. Its contacts with the net and the frame take
	// the parameters written on those geoms (solmix below).
	bc := contactFor(props.Name)
	I := bc.InertiaFactor * props.Mass * props.Radius * props.Radius
	w(`<body name=%q pos="2 0 1"><freejoint name="ball"/>`+"\n", ballBody)
	w(`<inertial pos="0 0 0" mass="%s" diaginertia="%s %s %s"/>`+"\n", f(props.Mass), f(I), f(I), f(I))
	w(`<geom name=%q type="sphere" size="%s" mass="%s" contype="%d" conaffinity="%d" solmix="1e-6" %s/>`+"\n",
		ballGeom, f(props.Radius), f(props.Mass), bitBall, bitBall, contactAttrs(cfg.floorSolref(props), props))
	w("</body>\n</worldbody>\n")
	// Links fewer than SelfContactMinJointGap movable joints apart do not
	// collide (the arm's joint limits keep them clear; the capsules and
	// cylinders around them are coarser), as in the safety layer's
	// collision check. MuJoCo itself only leaves out parent and child.
	var excl []string
	for a := range bodies {
		for b := a + 1; b < len(bodies); b++ {
			A, B := &bodies[a], &bodies[b]
			// MuJoCo leaves out a body's contacts with its parent, except
			// with the world.
			if B.joints-A.joints < cfg.SelfContactMinJointGap && (B.parent != A.name || A.name == "world") {
				excl = append(excl, fmt.Sprintf("<exclude body1=%q body2=%q/>\n", A.name, B.name))
			}
		}
	}
	if len(excl) > 0 {
		w("<contact>\n%s</contact>\n", strings.Join(excl, ""))
	}
	w("<actuator>\n")
	for _, n := range names {
		lim := eff[n]
		if !(lim > 0) {
			return nil, fmt.Errorf("joint %q: effort limit %g, want > 0 (the servo's torque limit, <limit effort=...>)", n, lim)
		}
		w("<motor name=%q joint=%q ctrllimited=\"true\" ctrlrange=\"%s %s\"/>\n", n, n, f(-lim), f(lim))
	}
	w("</actuator>\n</mujoco>\n")
	return &model{xml: b.String(), joints: names}, nil
}

// writeGeoms writes a link's URDF <collision> primitives. Robot bodies touch
// the ball and (moving) one another, the rail and the floor.
func writeGeoms(b *strings.Builder, l *robot.Link, cfg *Config, props ball.Props, moving bool) error {
	if l == nil {
		return nil
	}
	for i, c := range l.Collisions {
		g := c.Geometry
		var kind, size string
		switch g.Type {
		case robot.Sphere:
			kind, size = "sphere", f(g.Radius)
		case robot.Cylinder:
			kind, size = "cylinder", f(g.Radius)+" "+f(g.Length/2)
		case robot.Capsule:
			kind, size = "capsule", f(g.Radius)+" "+f(g.Length/2)
		case robot.Box:
			kind, size = "box", f(g.Size[0]/2)+" "+f(g.Size[1]/2)+" "+f(g.Size[2]/2)
		default:
			return fmt.Errorf("link %q <collision> #%d: %s geometry is not supported by the MuJoCo engine, want sphere, cylinder, capsule or box", l.Name, i+1, g.Type)
		}
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("%s_%d", l.Name, i)
		}
		p := c.Origin.P
		fmt.Fprintf(b, "<geom name=%q type=%q size=\"%s\" pos=\"%s %s %s\" quat=\"%s\" contype=\"%d\" conaffinity=\"%d\" %s/>\n",
			"body_"+name, kind, size, f(p[0]), f(p[1]), f(p[2]), quat(c.Origin), bitBall|bitBody, bitBody,
			contactAttrs(cfg.frameSolref(props), props))
	}
	return nil
}

// writeHead writes the lacrosse head on the tip body: the stick from the
// flange to the frame, the frame as a ring of capsules around the opening
// ellipse, and the pocket as meridian capsules on a half ellipsoid of the
// pocket depth behind the opening (head frame: x along the stick, y the net
// normal out of the opening, z across).
func writeHead(b *strings.Builder, cfg *Config, rob *robot.Robot, depth float64, props ball.Props) {
	A, B := rob.Pocket.Along, rob.Pocket.Across
	rf, rn := cfg.FrameRadiusM, cfg.NetRadiusM
	fmt.Fprintf(b, "<site name=%q pos=\"0 0 0\" size=\"0.01\"/>\n", headSite)
	frame := contactAttrs(cfg.frameSolref(props), props)
	// The stick: from the flange (the head is mounted HeadOffset along x) to
	// the frame's heel.
	fmt.Fprintf(b, "<geom name=%q type=\"capsule\" fromto=\"%s 0 0 %s 0 0\" size=\"%s\" contype=\"%d\" conaffinity=\"%d\" %s/>\n",
		framePfx+"stick", f(-cfg.StickLengthM-A-rf), f(-A-2*rf), f(cfg.StickRadiusM), bitBall|bitBody, bitBody, frame)
	// The frame: nf capsules joining points of the ellipse just outside the
	// opening, in the opening plane.
	nf := cfg.FrameSegments
	pt := func(k, n int, a, c float64) (float64, float64) {
		phi := 2 * math.Pi * float64(k) / float64(n)
		return a * math.Cos(phi), c * math.Sin(phi)
	}
	for k := 0; k < nf; k++ {
		x0, z0 := pt(k, nf, A+rf, B+rf)
		x1, z1 := pt(k+1, nf, A+rf, B+rf)
		fmt.Fprintf(b, "<geom name=\"%s%d\" type=\"capsule\" fromto=\"%s 0 %s %s 0 %s\" size=\"%s\" contype=\"%d\" conaffinity=\"%d\" %s/>\n",
			framePfx, k, f(x0), f(z0), f(x1), f(z1), f(rf), bitBall|bitBody, bitBody, frame)
	}
	// The net: nm meridians of ns capsules each, from the rim to the bottom
	// of the half ellipsoid with semi-axes (A, depth, B) grown by the
	// capsule radius, so the net's inner surface lies on the pocket.
	nm, ns := cfg.NetMeridians, cfg.NetSegments
	net := fmt.Sprintf("condim=\"6\" solref=\"%s %s\" solimp=\"%s\" friction=\"%s %s %s\"", f(cfg.NetTimeConstS), f(cfg.NetDampingRatio),
		cfg.netSolimp(), f(cfg.NetFriction), f(cfg.NetRollingM), f(cfg.NetRollingM))
	ea, ed, ec := A+rn, depth+rn, B+rn
	surf := func(k, s int) (x, y, z float64) {
		// s = 0 at the rim, ns at the bottom; equal steps of the polar angle
		th := 0.5 * math.Pi * float64(s) / float64(ns)
		phi := 2 * math.Pi * float64(k) / float64(nm)
		return ea * math.Cos(th) * math.Cos(phi), -ed * math.Sin(th), ec * math.Cos(th) * math.Sin(phi)
	}
	for k := 0; k < nm; k++ {
		for s := 0; s < ns; s++ {
			x0, y0, z0 := surf(k, s)
			x1, y1, z1 := surf(k, s+1)
			fmt.Fprintf(b, "<geom name=\"%s%d_%d\" type=\"capsule\" fromto=\"%s %s %s %s %s %s\" size=\"%s\" contype=\"%d\" conaffinity=\"0\" mass=\"0\" %s/>\n",
				netPfx, k, s, f(x0), f(y0), f(z0), f(x1), f(y1), f(z1), f(rn), bitBall, net)
		}
	}
	// Rings across the meridians (at the given fractions of the polar
	// angle) keep a small ball from slipping between them.
	for r := 1; r <= cfg.NetRings; r++ {
		th := 0.5 * math.Pi * float64(r) / float64(cfg.NetRings+1)
		for k := 0; k < nm; k++ {
			p0 := 2 * math.Pi * float64(k) / float64(nm)
			p1 := 2 * math.Pi * float64(k+1) / float64(nm)
			fmt.Fprintf(b, "<geom name=\"%sr%d_%d\" type=\"capsule\" fromto=\"%s %s %s %s %s %s\" size=\"%s\" contype=\"%d\" conaffinity=\"0\" mass=\"0\" %s/>\n",
				netPfx, r, k, f(ea*math.Cos(th)*math.Cos(p0)), f(-ed*math.Sin(th)), f(ec*math.Cos(th)*math.Sin(p0)),
				f(ea*math.Cos(th)*math.Cos(p1)), f(-ed*math.Sin(th)), f(ec*math.Cos(th)*math.Sin(p1)), f(rn), bitBall, net)
		}
	}
}

// contactAttrs are a rigid surface's contact parameters against the ball:
// stiff, with the damping that gives the ball set's restitution.
func contactAttrs(solref [2]float64, props ball.Props) string {
	c := contactFor(props.Name)
	return fmt.Sprintf("solref=\"%s %s\" friction=\"%s 0.005 0.0001\"", f(solref[0]), f(solref[1]), f(c.Friction))
}

// bodyInertia returns the inertia tensor about the centre of mass in the
// link's axes: R·I·Rᵀ for the <inertial> origin's rotation R.
func bodyInertia(in *robot.Inertial) [3][3]float64 {
	I := [3][3]float64{{in.Ixx, in.Ixy, in.Ixz}, {in.Ixy, in.Iyy, in.Iyz}, {in.Ixz, in.Iyz, in.Izz}}
	R := in.Origin.R
	var out [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			var v float64
			for k := 0; k < 3; k++ {
				for l := 0; l < 3; l++ {
					v += R[i][k] * I[k][l] * R[j][l]
				}
			}
			out[i][j] = v
		}
	}
	return out
}

func quat(p robot.Pose) string {
	q := p.Quaternion()
	return f(q[3]) + " " + f(q[0]) + " " + f(q[1]) + " " + f(q[2])
}

func f(v float64) string { return fmt.Sprintf("%.10g", v) }
