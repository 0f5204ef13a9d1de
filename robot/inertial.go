package robot

import (
	"fmt"
	"math"
)

// Inertial is a link's URDF <inertial>: its mass, the pose of its centre of
// mass (and inertia axes) in the link frame, and the inertia tensor about
// the centre of mass in those axes. The kinematics does not use it; the
// MuJoCo engine (sim/mujoco) does.
type Inertial struct {
	Origin                       Pose
	Mass                         float64 // kg
	Ixx, Iyy, Izz, Ixy, Ixz, Iyz float64 // kg·m²
}

type (
	xmlInertial struct {
		Origin  *xmlOrigin `xml:"origin"`
		Mass    *xmlValue  `xml:"mass"`
		Inertia *struct {
			Ixx *string `xml:"ixx,attr"`
			Iyy *string `xml:"iyy,attr"`
			Izz *string `xml:"izz,attr"`
			Ixy *string `xml:"ixy,attr"`
			Ixz *string `xml:"ixz,attr"`
			Iyz *string `xml:"iyz,attr"`
		} `xml:"inertia"`
	}
	xmlValue struct {
		Value *string `xml:"value,attr"`
	}
	xmlDynamics struct {
		Damping  *string `xml:"damping,attr"`
		Friction *string `xml:"friction,attr"`
	}
)

func parseInertial(link string, x *xmlInertial) (*Inertial, error) {
	where := fmt.Sprintf("<link name=%q> <inertial>", link)
	in := &Inertial{}
	o, err := parseOrigin(x.Origin)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	in.Origin = o
	if x.Mass == nil {
		return nil, fmt.Errorf("%s: missing <mass value=...>", where)
	}
	if in.Mass, err = parseAttr(x.Mass.Value, "value"); err != nil {
		return nil, fmt.Errorf("%s: <mass>: %v", where, err)
	}
	if !(in.Mass > 0) {
		return nil, fmt.Errorf("%s: <mass value=%g>: want > 0 kg", where, in.Mass)
	}
	if x.Inertia == nil {
		return nil, fmt.Errorf("%s: missing <inertia ixx=... iyy=... izz=... ixy=... ixz=... iyz=...>", where)
	}
	for _, f := range []struct {
		name string
		s    *string
		dst  *float64
	}{
		{"ixx", x.Inertia.Ixx, &in.Ixx}, {"iyy", x.Inertia.Iyy, &in.Iyy}, {"izz", x.Inertia.Izz, &in.Izz},
		{"ixy", x.Inertia.Ixy, &in.Ixy}, {"ixz", x.Inertia.Ixz, &in.Ixz}, {"iyz", x.Inertia.Iyz, &in.Iyz},
	} {
		if *f.dst, err = parseAttr(f.s, f.name); err != nil {
			return nil, fmt.Errorf("%s: <inertia>: %v", where, err)
		}
	}
	// A physical inertia tensor has positive principal moments that obey the
	// triangle inequality; checking the diagonal catches typos.
	a, b, c := in.Ixx, in.Iyy, in.Izz
	if !(a > 0 && b > 0 && c > 0) || a+b < c*(1-1e-9) || b+c < a*(1-1e-9) || a+c < b*(1-1e-9) {
		return nil, fmt.Errorf("%s: <inertia ixx=%g iyy=%g izz=%g>: want positive moments obeying the triangle inequality", where, a, b, c)
	}
	return in, nil
}

// parseDynamics reads <dynamics damping friction>; both default to 0.
func parseDynamics(where string, x *xmlDynamics) (damping, friction float64, err error) {
	if x == nil {
		return 0, 0, nil
	}
	if x.Damping != nil {
		if damping, err = parseAttr(x.Damping, "damping"); err != nil {
			return 0, 0, fmt.Errorf("%s: <dynamics>: %v", where, err)
		}
	}
	if x.Friction != nil {
		if friction, err = parseAttr(x.Friction, "friction"); err != nil {
			return 0, 0, fmt.Errorf("%s: <dynamics>: %v", where, err)
		}
	}
	if damping < 0 || friction < 0 || math.IsInf(damping, 0) {
		return 0, 0, fmt.Errorf("%s: <dynamics damping=%g friction=%g>: want ≥ 0", where, damping, friction)
	}
	return damping, friction, nil
}
