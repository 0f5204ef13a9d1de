package robot

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrURDF marks every error about the content of a URDF document (as opposed
// to, say, a file that cannot be read). Test with errors.Is.
var ErrURDF = errors.New("invalid URDF")

// JointType is the kind of a URDF joint. Only the kinds a serial arm on a
// rail needs are supported.
type JointType int

// The supported URDF joint types.
const (
	Fixed      JointType = iota // rigid connection, no joint variable
	Revolute                    // rotation about Axis within [Lower, Upper] rad
	Continuous                  // rotation about Axis without position limits
	Prismatic                   // translation along Axis within [Lower, Upper] m
)

// String returns the URDF spelling of t.
func (t JointType) String() string {
	switch t {
	case Fixed:
		return "fixed"
	case Revolute:
		return "revolute"
	case Continuous:
		return "continuous"
	case Prismatic:
		return "prismatic"
	}
	return fmt.Sprintf("JointType(%d)", int(t))
}

// Movable reports whether the joint has a joint variable.
func (t JointType) Movable() bool { return t != Fixed }

// Link is a URDF link: a named frame, its collision geometry (the safety
// layer's collision check reads it) and its visual geometry (viewers draw
// it) and its <inertial> (the MuJoCo engine, sim/mujoco, reads it; the
// kinematics does not).
type Link struct {
	Name       string
	Collisions []Collision
	Visuals    []Visual
	// Inertial is the link's <inertial>, nil when the URDF gives none.
	Inertial *Inertial
}

// Joint is a URDF joint: it places the Child link's frame relative to the
// Parent link's frame by Origin and then by the joint motion about (or along)
// Axis, which is expressed in the child frame and has unit length.
type Joint struct {
	Name   string
	Type   JointType
	Parent string
	Child  string
	Origin Pose       // parent frame → joint frame at q = 0
	Axis   [3]float64 // unit vector; (1,0,0) when the URDF gives none

	// Position limits (rad or m) and velocity limit (rad/s or m/s). Fixed
	// joints have zeros; continuous joints have ±Inf position limits and
	// +Inf velocity when the URDF gives no <limit>.
	Lower, Upper, Velocity float64
	// Effort is the <limit effort> (N·m, or N for a prismatic joint; 0 when
	// the URDF gives none); Damping and Friction are the <dynamics>
	// coefficients (N·m·s/rad or N·s/m, and N·m or N; 0 when absent). The
	// kinematics ignores them; the MuJoCo engine's servos use them.
	Effort, Damping, Friction float64
}

// Model is a parsed, checked URDF: a tree of links connected by joints. Links
// and Joints keep the document order. Root is the one link that is no joint's
// child.
type Model struct {
	Name   string
	Links  []Link
	Joints []Joint
	Root   string
	// Dir is the directory of the URDF file (LoadURDF), against which
	// relative mesh paths resolve; "" for a parsed document.
	Dir string
}

// LoadURDF reads and parses the URDF file at path.
func LoadURDF(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("robot: read URDF: %w", err)
	}
	m, err := ParseURDF(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Dir = filepath.Dir(path)
	return m, nil
}

// XML shapes. Attributes are pointers so that a missing attribute can be told
// from an empty one.
type (
	xmlRobot struct {
		XMLName   xml.Name      `xml:"robot"`
		Name      *string       `xml:"name,attr"`
		Links     []xmlLink     `xml:"link"`
		Joints    []xmlJoint    `xml:"joint"`
		Materials []xmlMaterial `xml:"material"`
	}
	xmlLink struct {
		Name       *string        `xml:"name,attr"`
		Collisions []xmlCollision `xml:"collision"`
		Visuals    []xmlVisual    `xml:"visual"`
		Inertial   *xmlInertial   `xml:"inertial"`
	}
	xmlJoint struct {
		Name     *string      `xml:"name,attr"`
		Type     *string      `xml:"type,attr"`
		Origin   *xmlOrigin   `xml:"origin"`
		Parent   *xmlRef      `xml:"parent"`
		Child    *xmlRef      `xml:"child"`
		Axis     *xmlAxis     `xml:"axis"`
		Limit    *xmlLimit    `xml:"limit"`
		Dynamics *xmlDynamics `xml:"dynamics"`
		Mimic    *struct{}    `xml:"mimic"`
	}
	xmlOrigin struct {
		XYZ *string `xml:"xyz,attr"`
		RPY *string `xml:"rpy,attr"`
	}
	xmlRef struct {
		Link *string `xml:"link,attr"`
	}
	xmlAxis struct {
		XYZ *string `xml:"xyz,attr"`
	}
	xmlLimit struct {
		Lower    *string `xml:"lower,attr"`
		Upper    *string `xml:"upper,attr"`
		Velocity *string `xml:"velocity,attr"`
		Effort   *string `xml:"effort,attr"`
	}
)

// ParseURDF parses a URDF document (plain URDF, not xacro) and checks that it
// describes a tree: unique names, every joint's parent and child links exist,
// no link has two parents, exactly one root, every link reachable from it.
// Errors wrap ErrURDF and name the offending element.
func ParseURDF(data []byte) (*Model, error) {
	var doc xmlRobot
	dec := xml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: want a <robot> XML document: %v", ErrURDF, err)
	}
	m := &Model{}
	if doc.Name != nil {
		m.Name = *doc.Name
	}
	if len(doc.Links) == 0 {
		return nil, fmt.Errorf("%w: <robot> has no <link>", ErrURDF)
	}
	materials := map[string][4]float64{}
	for _, xm := range doc.Materials {
		if xm.Name == nil || xm.Color == nil {
			continue // a texture-only material: no colour to draw with
		}
		c, err := parseRGBA(fmt.Sprintf("<material name=%q>", *xm.Name), xm.Color.RGBA)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrURDF, err)
		}
		materials[*xm.Name] = c
	}
	links := make(map[string]bool, len(doc.Links))
	for i, xl := range doc.Links {
		if xl.Name == nil || *xl.Name == "" {
			return nil, fmt.Errorf("%w: <link> #%d: missing attribute name", ErrURDF, i+1)
		}
		if links[*xl.Name] {
			return nil, fmt.Errorf("%w: <link name=%q>: name used twice, want unique link names", ErrURDF, *xl.Name)
		}
		links[*xl.Name] = true
		l := Link{Name: *xl.Name}
		for ci, xc := range xl.Collisions {
			col, err := parseCollision(l.Name, ci, xc)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrURDF, err)
			}
			l.Collisions = append(l.Collisions, col)
		}
		for vi, xv := range xl.Visuals {
			v, err := parseVisual(l.Name, vi, xv, materials)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrURDF, err)
			}
			l.Visuals = append(l.Visuals, v)
		}
		if xl.Inertial != nil {
			in, err := parseInertial(l.Name, xl.Inertial)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrURDF, err)
			}
			l.Inertial = in
		}
		m.Links = append(m.Links, l)
	}

	jointNames := make(map[string]bool, len(doc.Joints))
	parentOf := make(map[string]string, len(doc.Joints)) // child link → joint name
	for i, xj := range doc.Joints {
		j, err := parseJoint(i, xj)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrURDF, err)
		}
		where := fmt.Sprintf("<joint name=%q>", j.Name)
		if jointNames[j.Name] {
			return nil, fmt.Errorf("%w: %s: name used twice, want unique joint names", ErrURDF, where)
		}
		jointNames[j.Name] = true
		if !links[j.Parent] {
			return nil, fmt.Errorf("%w: %s: <parent link=%q>: no such <link>", ErrURDF, where, j.Parent)
		}
		if !links[j.Child] {
			return nil, fmt.Errorf("%w: %s: <child link=%q>: no such <link>", ErrURDF, where, j.Child)
		}
		if j.Parent == j.Child {
			return nil, fmt.Errorf("%w: %s: parent and child are both link %q (a loop)", ErrURDF, where, j.Child)
		}
		if other, ok := parentOf[j.Child]; ok {
			return nil, fmt.Errorf("%w: %s: link %q already has parent joint %q, want a tree (one parent per link)",
				ErrURDF, where, j.Child, other)
		}
		parentOf[j.Child] = j.Name
		m.Joints = append(m.Joints, j)
	}

	var roots []string
	for _, l := range m.Links {
		if _, ok := parentOf[l.Name]; !ok {
			roots = append(roots, l.Name)
		}
	}
	switch {
	case len(roots) == 0:
		return nil, fmt.Errorf("%w: no root link: every link is some joint's child (the joints form a loop)", ErrURDF)
	case len(roots) > 1:
		return nil, fmt.Errorf("%w: %d root links %q, want one tree with a single root", ErrURDF, len(roots), roots)
	}
	m.Root = roots[0]

	// With one parent per link and one root, a link unreachable from the root
	// can only sit on a cycle.
	children := make(map[string][]string, len(m.Joints))
	for _, j := range m.Joints {
		children[j.Parent] = append(children[j.Parent], j.Child)
	}
	seen := map[string]bool{m.Root: true}
	stack := []string{m.Root}
	for len(stack) > 0 {
		l := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range children[l] {
			if !seen[c] {
				seen[c] = true
				stack = append(stack, c)
			}
		}
	}
	for _, l := range m.Links {
		if !seen[l.Name] {
			return nil, fmt.Errorf("%w: link %q is not reachable from root %q: its joints form a loop", ErrURDF, l.Name, m.Root)
		}
	}
	return m, nil
}

func parseJoint(i int, xj xmlJoint) (Joint, error) {
	if xj.Name == nil || *xj.Name == "" {
		return Joint{}, fmt.Errorf("<joint> #%d: missing attribute name", i+1)
	}
	j := Joint{Name: *xj.Name, Axis: [3]float64{1, 0, 0}}
	where := fmt.Sprintf("<joint name=%q>", j.Name)
	if xj.Type == nil {
		return Joint{}, fmt.Errorf("%s: missing attribute type", where)
	}
	switch *xj.Type {
	case "fixed":
		j.Type = Fixed
	case "revolute":
		j.Type = Revolute
	case "continuous":
		j.Type = Continuous
	case "prismatic":
		j.Type = Prismatic
	default:
		return Joint{}, fmt.Errorf("%s: unsupported type %q, want revolute, continuous, prismatic or fixed", where, *xj.Type)
	}
	if xj.Mimic != nil {
		return Joint{}, fmt.Errorf("%s: <mimic> is not supported, want independent joints", where)
	}
	if xj.Parent == nil || xj.Parent.Link == nil || *xj.Parent.Link == "" {
		return Joint{}, fmt.Errorf("%s: missing <parent link=\"...\">", where)
	}
	if xj.Child == nil || xj.Child.Link == nil || *xj.Child.Link == "" {
		return Joint{}, fmt.Errorf("%s: missing <child link=\"...\">", where)
	}
	j.Parent, j.Child = *xj.Parent.Link, *xj.Child.Link

	origin, err := parseOrigin(xj.Origin)
	if err != nil {
		return Joint{}, fmt.Errorf("%s: %v", where, err)
	}
	j.Origin = origin

	if a := xj.Axis; a != nil {
		if a.XYZ == nil {
			return Joint{}, fmt.Errorf("%s: <axis>: missing attribute xyz", where)
		}
		v, err := parseVec3(*a.XYZ)
		if err != nil {
			return Joint{}, fmt.Errorf("%s: <axis xyz=%q>: %v", where, *a.XYZ, err)
		}
		n := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
		if n < 1e-12 {
			return Joint{}, fmt.Errorf("%s: <axis xyz=%q>: zero vector, want a direction", where, *a.XYZ)
		}
		j.Axis = [3]float64{v[0] / n, v[1] / n, v[2] / n}
	}

	switch j.Type {
	case Revolute, Prismatic:
		if xj.Limit == nil {
			return Joint{}, fmt.Errorf("%s: missing <limit>, want lower, upper and velocity for a %s joint", where, j.Type)
		}
		var err error
		if j.Lower, err = parseAttr(xj.Limit.Lower, "lower"); err != nil {
			return Joint{}, fmt.Errorf("%s: <limit>: %v", where, err)
		}
		if j.Upper, err = parseAttr(xj.Limit.Upper, "upper"); err != nil {
			return Joint{}, fmt.Errorf("%s: <limit>: %v", where, err)
		}
		if j.Lower > j.Upper {
			return Joint{}, fmt.Errorf("%s: <limit>: lower %g > upper %g, want lower ≤ upper", where, j.Lower, j.Upper)
		}
		if j.Velocity, err = parseVelocity(xj.Limit.Velocity); err != nil {
			return Joint{}, fmt.Errorf("%s: <limit>: %v", where, err)
		}
		if xj.Limit.Effort != nil {
			if j.Effort, err = parseAttr(xj.Limit.Effort, "effort"); err != nil || j.Effort < 0 {
				return Joint{}, fmt.Errorf("%s: <limit effort=%q>: want a number ≥ 0", where, *xj.Limit.Effort)
			}
		}
	case Continuous:
		j.Lower, j.Upper, j.Velocity = math.Inf(-1), math.Inf(1), math.Inf(1)
		if xj.Limit != nil {
			var err error
			if j.Velocity, err = parseVelocity(xj.Limit.Velocity); err != nil {
				return Joint{}, fmt.Errorf("%s: <limit>: %v", where, err)
			}
		}
	}
	var err0 error
	if j.Damping, j.Friction, err0 = parseDynamics(where, xj.Dynamics); err0 != nil {
		return Joint{}, err0
	}
	return j, nil
}

func parseAttr(s *string, name string) (float64, error) {
	if s == nil {
		return 0, fmt.Errorf("missing attribute %s", name)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(*s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("attribute %s=%q: want a finite number", name, *s)
	}
	return v, nil
}

func parseVelocity(s *string) (float64, error) {
	v, err := parseAttr(s, "velocity")
	if err != nil {
		return 0, err
	}
	if v <= 0 {
		return 0, fmt.Errorf("attribute velocity=%q: want > 0", *s)
	}
	return v, nil
}

func parseVec3(s string) ([3]float64, error) {
	var v [3]float64
	f := strings.Fields(s)
	if len(f) != 3 {
		return v, fmt.Errorf("want 3 finite numbers, got %d fields", len(f))
	}
	for i, t := range f {
		x, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return v, fmt.Errorf("want 3 finite numbers, field %d is %q", i+1, t)
		}
		v[i] = x
	}
	return v, nil
}

// rpyToR is the URDF fixed-axis roll-pitch-yaw rotation Rz(yaw)·Ry(pitch)·Rx(roll).
func rpyToR(roll, pitch, yaw float64) [3][3]float64 {
	sr, cr := math.Sincos(roll)
	sp, cp := math.Sincos(pitch)
	sy, cy := math.Sincos(yaw)
	return [3][3]float64{
		{cy * cp, cy*sp*sr - sy*cr, cy*sp*cr + sy*sr},
		{sy * cp, sy*sp*sr + cy*cr, sy*sp*cr - cy*sr},
		{-sp, cp * sr, cp * cr},
	}
}
