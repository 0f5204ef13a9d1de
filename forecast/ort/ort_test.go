package ort

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/agilecatch/catch/internal/onnxgraph"
)

// TestMain loads the real ONNX Runtime once for the package. A missing library fails the
// tests (it is not a skip): `make deps` installs it and `make test` exports ONNXRUNTIME_LIB.
func TestMain(m *testing.M) {
	if err := Init(""); err != nil {
		os.Stderr.WriteString("forecast/ort: " + err.Error() + "\n")
		os.Exit(1)
	}
	code := m.Run()
	if err := Shutdown(); err != nil && code == 0 {
		os.Stderr.WriteString("forecast/ort: " + err.Error() + "\n")
		code = 1
	}
	os.Exit(code)
}

// affineModel serialises y = MatMul(x, W) + b for x of shape [batch, k] (batch symbolic),
// W [k, n], b [n], as an ONNX model (IR version 8, default-domain opset 13).
func affineModel(t testing.TB, w []float32, b []float32, k, n int) []byte {
	t.Helper()
	graph := &onnx.GraphProto{
		Name: "affine",
		Node: []*onnx.NodeProto{
			{Name: "matmul", OpType: "MatMul", Input: []string{"x", "W"}, Output: []string{"xw"}},
			{Name: "add", OpType: "Add", Input: []string{"xw", "b"}, Output: []string{"y"}},
		},
		Initializer: []*onnx.TensorProto{
			{Name: "W", DataType: int32(onnx.TensorProto_FLOAT), Dims: []int64{int64(k), int64(n)}, FloatData: w},
			{Name: "b", DataType: int32(onnx.TensorProto_FLOAT), Dims: []int64{int64(n)}, FloatData: b},
		},
		Input:  []*onnx.ValueInfoProto{onnxgraph.ValueInfo("x", "batch", k)},
		Output: []*onnx.ValueInfoProto{onnxgraph.ValueInfo("y", "batch", n)},
	}
	model := &onnx.ModelProto{
		IrVersion:    8,
		OpsetImport:  []*onnx.OperatorSetIdProto{{Domain: "", Version: 13}},
		ProducerName: "catch forecast/ort test",
		Graph:        graph,
	}
	data, err := proto.Marshal(model)
	require.NoError(t, err)
	return data
}

func TestAffineModelMatchesGo(t *testing.T) {
	const batch, k, n = 5, 4, 3
	rng := rand.New(rand.NewPCG(7, 11))
	w := make([]float32, k*n)
	b := make([]float32, n)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	model := affineModel(t, w, b, k, n)
	t.Logf("ONNX Runtime %s from %s", Version(), Library())

	s, err := NewSession(model,
		[]Tensor{{Name: "x", Shape: []int64{batch, k}}},
		[]Tensor{{Name: "y", Shape: []int64{batch, n}}},
		Config{})
	require.NoError(t, err)
	defer s.Close()

	for round := 0; round < 3; round++ { // reruns reuse the bound tensors
		x := s.Input(0)
		require.Len(t, x, batch*k)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		require.NoError(t, s.Run())
		y := s.Output(0)
		require.Len(t, y, batch*n)
		for r := 0; r < batch; r++ {
			for c := 0; c < n; c++ {
				want := float64(b[c])
				for j := 0; j < k; j++ {
					want += float64(x[r*k+j]) * float64(w[j*n+c])
				}
				// float32 sums of 4 products of O(1) values: rounding is ~1e-7, so 1e-5 is loose.
				require.InDelta(t, want, float64(y[r*n+c]), 1e-5, "round %d y[%d][%d]", round, r, c)
			}
		}
	}
}

func TestRunDoesNotAllocate(t *testing.T) {
	model := affineModel(t, make([]float32, 6), make([]float32, 3), 2, 3)
	s, err := NewSession(model, []Tensor{{Name: "x", Shape: []int64{8, 2}}}, []Tensor{{Name: "y", Shape: []int64{8, 3}}}, Config{})
	require.NoError(t, err)
	defer s.Close()
	allocs := testing.AllocsPerRun(100, func() {
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

func TestNewSessionRejectsMismatch(t *testing.T) {
	model := affineModel(t, make([]float32, 6), make([]float32, 3), 2, 3)
	for name, tc := range map[string]struct {
		in, out []Tensor
		cfg     Config
		want    string
	}{
		"unknown input":  {[]Tensor{{"z", []int64{1, 2}}}, []Tensor{{"y", []int64{1, 3}}}, Config{}, `no input "z"`},
		"wrong width":    {[]Tensor{{"x", []int64{1, 5}}}, []Tensor{{"y", []int64{1, 3}}}, Config{}, "dimension 1 differs"},
		"wrong rank":     {[]Tensor{{"x", []int64{2}}}, []Tensor{{"y", []int64{1, 3}}}, Config{}, "rank differs"},
		"zero dimension": {[]Tensor{{"x", []int64{0, 2}}}, []Tensor{{"y", []int64{0, 3}}}, Config{}, "want > 0"},
		"bad threads":    {[]Tensor{{"x", []int64{1, 2}}}, []Tensor{{"y", []int64{1, 3}}}, Config{IntraOpThreads: -1}, "intra_op_threads"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewSession(model, tc.in, tc.out, tc.cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestInitErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libonnxruntime.so")
	err := Init(missing)
	require.ErrorContains(t, err, missing)
	require.ErrorContains(t, err, "make deps")

	t.Setenv(LibEnv, missing)
	_, err = FindLibrary()
	require.ErrorContains(t, err, LibEnv+"="+missing)

	// Already initialised by TestMain: the same library again is fine, another is refused.
	require.NoError(t, Init(Library()))
	other := filepath.Join(t.TempDir(), "other.so")
	require.NoError(t, os.WriteFile(other, nil, 0o644))
	require.ErrorContains(t, Init(other), "already initialised")
	require.NotEmpty(t, Version())
}

func BenchmarkRun(b *testing.B) {
	const batch, k, n = 256, 16, 16
	model := affineModel(b, make([]float32, k*n), make([]float32, n), k, n)
	s, err := NewSession(model, []Tensor{{Name: "x", Shape: []int64{batch, k}}}, []Tensor{{Name: "y", Shape: []int64{batch, n}}}, Config{})
	require.NoError(b, err)
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Run(); err != nil {
			b.Fatal(err)
		}
	}
}
