package robot

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Visual is one <visual> element of a link: a Geometry placed by Origin in
// the link frame and drawn in RGBA (0–1; the zero value when the URDF gives
// no colour). Viewers (catch view, RViz) draw the robot from them; the
// kinematics ignores them.
type Visual struct {
	Name     string
	Origin   Pose
	Geometry Geometry
	Material string
	RGBA     [4]float64
}

// XML shapes of <visual> and <material>.
type (
	xmlVisual struct {
		Name     *string      `xml:"name,attr"`
		Origin   *xmlOrigin   `xml:"origin"`
		Geometry *xmlGeometry `xml:"geometry"`
		Material *xmlMaterial `xml:"material"`
	}
	xmlMaterial struct {
		Name  *string `xml:"name,attr"`
		Color *struct {
			RGBA *string `xml:"rgba,attr"`
		} `xml:"color"`
	}
)

func parseRGBA(where string, s *string) ([4]float64, error) {
	var c [4]float64
	if s == nil {
		return c, fmt.Errorf("%s: <color>: missing attribute rgba", where)
	}
	f := strings.Fields(*s)
	if len(f) != 4 {
		return c, fmt.Errorf("%s: <color rgba=%q>: want 4 numbers in [0, 1]", where, *s)
	}
	for i, v := range f {
		if _, err := fmt.Sscan(v, &c[i]); err != nil || c[i] < 0 || c[i] > 1 {
			return c, fmt.Errorf("%s: <color rgba=%q>: want 4 numbers in [0, 1]", where, *s)
		}
	}
	return c, nil
}

// parseVisual reads a <visual>; materials holds the document's named
// top-level materials.
func parseVisual(link string, i int, xv xmlVisual, materials map[string][4]float64) (Visual, error) {
	col, err := parseCollision(link, i, xmlCollision{Name: xv.Name, Origin: xv.Origin, Geometry: xv.Geometry})
	if err != nil {
		return Visual{}, fmt.Errorf("%s", strings.Replace(err.Error(), "<collision>", "<visual>", 1))
	}
	v := Visual{Name: col.Name, Origin: col.Origin, Geometry: col.Geometry}
	if m := xv.Material; m != nil {
		where := fmt.Sprintf("<link name=%q>: <visual> #%d: <material>", link, i+1)
		if m.Name != nil {
			v.Material = *m.Name
		}
		switch {
		case m.Color != nil:
			if v.RGBA, err = parseRGBA(where, m.Color.RGBA); err != nil {
				return Visual{}, err
			}
		case v.Material != "":
			c, ok := materials[v.Material]
			if !ok {
				return Visual{}, fmt.Errorf("%s: no top-level <material name=%q> with a <color>", where, v.Material)
			}
			v.RGBA = c
		}
	}
	return v, nil
}

//go:embed urdf/meshes
var meshFS embed.FS

// shippedPackage is the ROS package prefix of the shipped URDF's meshes:
// the repository is the ROS package "catch".
const shippedPackage = "package://catch/robot/"

// ReadMesh returns the bytes of a mesh that a URDF of m names: the shipped
// meshes (package://catch/robot/…) from the binary, other package:// URIs
// through ROS_PACKAGE_PATH, file:// and plain paths as files (relative to
// the URDF's directory, Model.Dir).
func ReadMesh(m *Model, filename string) ([]byte, error) {
	switch {
	case strings.HasPrefix(filename, shippedPackage):
		data, err := meshFS.ReadFile(strings.TrimPrefix(filename, shippedPackage))
		if err == nil {
			return data, nil
		}
		// A user's checkout may hold meshes the binary does not.
		if p, ok := findPackageFile(filename); ok {
			return os.ReadFile(p)
		}
		return nil, fmt.Errorf("robot: mesh %s: not shipped in the binary (%v)", filename, err)
	case strings.HasPrefix(filename, "package://"):
		p, ok := findPackageFile(filename)
		if !ok {
			return nil, fmt.Errorf("robot: mesh %s: package not found on ROS_PACKAGE_PATH %q", filename, os.Getenv("ROS_PACKAGE_PATH"))
		}
		return os.ReadFile(p)
	}
	p := strings.TrimPrefix(filename, "file://")
	if !filepath.IsAbs(p) && m != nil && m.Dir != "" {
		p = filepath.Join(m.Dir, p)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("robot: mesh %s: %w", filename, err)
	}
	return data, nil
}

// findPackageFile resolves package://PKG/REST against ROS_PACKAGE_PATH
// (a directory named PKG, or one holding a package.xml named PKG at its
// root, as the repository is).
func findPackageFile(uri string) (string, bool) {
	rest := strings.TrimPrefix(uri, "package://")
	pkg, file, ok := strings.Cut(rest, "/")
	if !ok {
		return "", false
	}
	for _, dir := range filepath.SplitList(os.Getenv("ROS_PACKAGE_PATH")) {
		if dir == "" {
			continue
		}
		for _, root := range []string{filepath.Join(dir, pkg), dir} {
			xml, err := os.ReadFile(filepath.Join(root, "package.xml"))
			if err != nil || !strings.Contains(string(xml), "<name>"+pkg+"</name>") {
				continue
			}
			p := filepath.Join(root, file)
			if _, err := os.Stat(p); err == nil {
				return p, true
			}
		}
	}
	return "", false
}
