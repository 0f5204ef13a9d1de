package robot

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestShippedURDFHasVisualsWithReadableMeshes(t *testing.T) {
	rob, err := Default()
	require.NoError(t, err)
	drawn := map[string]bool{}
	meshes := 0
	for _, l := range rob.Model.Links {
		for _, v := range l.Visuals {
			drawn[l.Name] = true
			require.Positive(t, v.RGBA[3], "%s/%s has a colour", l.Name, v.Name)
			if v.Geometry.Type != Mesh {
				continue
			}
			meshes++
			data, err := ReadMesh(rob.Model, v.Geometry.Filename)
			require.NoError(t, err)
			// Binary STL: 80-byte header, triangle count, 50 bytes per triangle.
			require.Greater(t, len(data), 84)
			n := binary.LittleEndian.Uint32(data[80:])
			require.Equal(t, 84+50*int(n), len(data), v.Geometry.Filename)
		}
	}
	require.Equal(t, 7, meshes, "base_link and link_1…link_6")
	for _, l := range []string{"world", "carriage", "base_link", "link_1", "link_2", "link_3", "link_4", "link_5", "link_6", "head"} {
		require.True(t, drawn[l], "link %s is drawn", l)
	}
}

func TestVisualMaterialsAndMeshPaths(t *testing.T) {
	const doc = `<robot name="r">
  <material name="red"><color rgba="1 0 0 1"/></material>
  <link name="a">
    <visual><geometry><box size="1 1 1"/></geometry><material name="red"/></visual>
    <visual><geometry><mesh filename="m.stl"/></geometry><material><color rgba="0 0 1 0.5"/></material></visual>
  </link>
</robot>`
	dir := t.TempDir()
	p := filepath.Join(dir, "r.urdf")
	require.NoError(t, os.WriteFile(p, []byte(doc), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "m.stl"), []byte("mesh bytes"), 0o644))
	m, err := LoadURDF(p)
	require.NoError(t, err)
	require.Equal(t, [4]float64{1, 0, 0, 1}, m.Links[0].Visuals[0].RGBA)
	require.Equal(t, [4]float64{0, 0, 1, 0.5}, m.Links[0].Visuals[1].RGBA)
	data, err := ReadMesh(m, m.Links[0].Visuals[1].Geometry.Filename)
	require.NoError(t, err)
	require.Equal(t, "mesh bytes", string(data), "relative to the URDF's directory")

	for _, bad := range []struct{ doc, want string }{
		{`<robot><link name="a"><visual><geometry><box size="1 1 1"/></geometry><material name="nope"/></visual></link></robot>`, `no top-level <material name="nope">`},
		{`<robot><link name="a"><visual><geometry><box size="1 1 1"/></geometry><material><color rgba="2 0 0 1"/></material></visual></link></robot>`, "want 4 numbers in [0, 1]"},
		{`<robot><link name="a"><visual><geometry/></visual></link></robot>`, "<visual> #1"},
	} {
		_, err := ParseURDF([]byte(bad.doc))
		require.ErrorContains(t, err, bad.want)
	}
	_, err = ReadMesh(m, "package://no_such_pkg/x.stl")
	require.ErrorContains(t, err, "ROS_PACKAGE_PATH")
}
