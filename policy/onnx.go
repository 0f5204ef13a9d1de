package policy

import (
	"fmt"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"
)

// ONNX tensor names of the exported network.
const (
	ONNXInput  = "obs"      // [1, In] raw observation (float32)
	ONNXOutput = "residual" // [1, 7] joint velocity residual, rad/s (m/s rail)
)

// ExportONNX serialises the network's learned MLP — observation
// normalisation, tanh hidden layer, linear output — as an ONNX model
// (IR 8, opset 13), in float32. The structural part of the policy (gains
// on q_ref − q_cmd, the cradle feed-forward) and the decode stay in Go:
// they are a handful of scalar operations around IK and limits.
func (n *Net) ExportONNX() ([]byte, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	in, h := n.In, n.Hidden
	p := n.Params
	w1 := p[nStruct : nStruct+h*in]
	b1 := p[nStruct+h*in : nStruct+h*in+h]
	w2 := p[nStruct+h*in+h : nStruct+h*in+h+nOut*h]
	b2 := p[nStruct+h*in+h+nOut*h:]
	// MatMul takes x·W with W [in, h]: transpose the row-major [h, in].
	w1t := make([]float32, in*h)
	for i := 0; i < h; i++ {
		for k := 0; k < in; k++ {
			w1t[k*h+i] = float32(w1[i*in+k])
		}
	}
	w2t := make([]float32, h*nOut)
	for o := 0; o < nOut; o++ {
		for i := 0; i < h; i++ {
			w2t[i*nOut+o] = float32(w2[o*h+i]) * resScale
		}
	}
	b2s := make([]float32, nOut)
	for o := range b2s {
		b2s[o] = float32(b2[o]) * resScale
	}
	tensor := func(name string, dims []int64, v []float32) *onnx.TensorProto {
		return &onnx.TensorProto{Name: name, DataType: int32(onnx.TensorProto_FLOAT), Dims: dims, FloatData: v}
	}
	graph := &onnx.GraphProto{
		Name: "es_policy",
		Node: []*onnx.NodeProto{
			{Name: "center", OpType: "Sub", Input: []string{ONNXInput, "obs_mean"}, Output: []string{"xc"}},
			{Name: "scale", OpType: "Div", Input: []string{"xc", "obs_std"}, Output: []string{"xn"}},
			{Name: "fc1", OpType: "MatMul", Input: []string{"xn", "W1"}, Output: []string{"h1"}},
			{Name: "bias1", OpType: "Add", Input: []string{"h1", "b1"}, Output: []string{"h1b"}},
			{Name: "act1", OpType: "Tanh", Input: []string{"h1b"}, Output: []string{"h"}},
			{Name: "fc2", OpType: "MatMul", Input: []string{"h", "W2"}, Output: []string{"h2"}},
			{Name: "bias2", OpType: "Add", Input: []string{"h2", "b2"}, Output: []string{ONNXOutput}},
		},
		Initializer: []*onnx.TensorProto{
			tensor("obs_mean", []int64{int64(in)}, f32(n.ObsMean)),
			tensor("obs_std", []int64{int64(in)}, f32(n.ObsStd)),
			tensor("W1", []int64{int64(in), int64(h)}, w1t),
			tensor("b1", []int64{int64(h)}, f32(b1)),
			tensor("W2", []int64{int64(h), nOut}, w2t),
			tensor("b2", []int64{nOut}, b2s),
		},
		Input:  []*onnx.ValueInfoProto{{Name: ONNXInput, Type: floatType(1, int64(in))}},
		Output: []*onnx.ValueInfoProto{{Name: ONNXOutput, Type: floatType(1, nOut)}},
	}
	model := &onnx.ModelProto{
		IrVersion:    8,
		OpsetImport:  []*onnx.OperatorSetIdProto{{Domain: "", Version: 13}},
		ProducerName: "catch policy",
		Graph:        graph,
	}
	data, err := proto.Marshal(model)
	if err != nil {
		return nil, fmt.Errorf("policy: onnx export: %w", err)
	}
	return data, nil
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func floatType(dims ...int64) *onnx.TypeProto {
	shape := &onnx.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: &onnx.TypeProto_Tensor{
		ElemType: int32(onnx.TensorProto_FLOAT), Shape: shape}}}
}
