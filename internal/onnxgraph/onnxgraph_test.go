package onnxgraph

import (
	"testing"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"github.com/stretchr/testify/require"
)

func TestValueInfoDims(t *testing.T) {
	v := ValueInfo("x", "batch", 3, 16)
	require.Equal(t, "x", v.Name)
	tt := v.GetType().GetTensorType()
	require.Equal(t, int32(onnx.TensorProto_FLOAT), tt.ElemType)
	d := tt.Shape.Dim
	require.Len(t, d, 3)
	require.Equal(t, "batch", d[0].GetDimParam())
	require.Equal(t, int64(3), d[1].GetDimValue())
	require.Equal(t, int64(16), d[2].GetDimValue())
	require.Panics(t, func() { ValueInfo("y", 2.5) })
}
