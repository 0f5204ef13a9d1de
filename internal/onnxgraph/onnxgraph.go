// Package onnxgraph holds the pieces of ONNX graph writing that the
// project's exporters share (the forecaster's MLPs in package forecast, the
// detector's candidate classifier in perception/ballnet); docs/architecture.md
// describes both models.
package onnxgraph

import "github.com/advancedclimatesystems/gonnx/onnx"

// ValueInfo describes a float tensor input or output: each dim is a fixed
// size (int) or a symbolic one (string, e.g. "batch").
func ValueInfo(name string, dims ...any) *onnx.ValueInfoProto {
	shape := &onnx.TensorShapeProto{}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			shape.Dim = append(shape.Dim, &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		case string:
			shape.Dim = append(shape.Dim, &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimParam{DimParam: d}})
		default:
			panic("onnxgraph: a dimension is an int or a string")
		}
	}
	return &onnx.ValueInfoProto{Name: name, Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: &onnx.TypeProto_Tensor{
		ElemType: int32(onnx.TensorProto_FLOAT), Shape: shape,
	}}}}
}
