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

// ONNXAction is the paper network's output tensor: [1, 7] tanh-squashed
// joint position targets in [−1, 1] (PaperController scales them).
const ONNXAction = "action"

// ExportONNX serialises the paper network — observation normalisation,
// the two convolution towers, the fusion MLP and the output tanh — as an
// ONNX model (IR 8, opset 13) in float32: input ONNXInput [1, ObsLen],
// output ONNXAction [1, 7]. The scaling into joint targets, the servo and
// the decode stay in Go.
func (n *PaperNet) ExportONNX() ([]byte, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	c := n.Config
	l := c.layout()
	C, K, H := int64(c.Channels), int64(paperKernel), int64(c.Hidden)
	p := n.Params
	nb := int64(c.BallHist * paperBallCh)
	in := int64(c.ObsLen())
	tensor := func(name string, dims []int64, v []float32) *onnx.TensorProto {
		return &onnx.TensorProto{Name: name, DataType: int32(onnx.TensorProto_FLOAT), Dims: dims, FloatData: v}
	}
	ints := func(name string, v ...int64) *onnx.TensorProto {
		return &onnx.TensorProto{Name: name, DataType: int32(onnx.TensorProto_INT64), Dims: []int64{int64(len(v))}, Int64Data: v}
	}
	// MatMul takes x·W with W [in, out]: transpose the row-major [out, in].
	transpose := func(w []float64, rows, cols int) []float32 {
		t := make([]float32, rows*cols)
		for r := 0; r < rows; r++ {
			for k := 0; k < cols; k++ {
				t[k*rows+r] = float32(w[r*cols+k])
			}
		}
		return t
	}
	node := func(name, op string, in []string, out string, attr ...*onnx.AttributeProto) *onnx.NodeProto {
		return &onnx.NodeProto{Name: name, OpType: op, Input: in, Output: []string{out}, Attribute: attr}
	}
	perm := &onnx.AttributeProto{Name: "perm", Type: onnx.AttributeProto_INTS, Ints: []int64{0, 2, 1}}
	axis1 := &onnx.AttributeProto{Name: "axis", Type: onnx.AttributeProto_INT, I: 1}
	tower := func(pre, x string) []*onnx.NodeProto {
		return []*onnx.NodeProto{
			node(pre+"_seq", "Reshape", []string{x, pre + "_shape"}, pre+"_tc"),
			node(pre+"_chan", "Transpose", []string{pre + "_tc"}, pre+"_ct", perm),
			node(pre+"_conv1", "Conv", []string{pre + "_ct", pre + "_w1", pre + "_b1"}, pre+"_c1"),
			node(pre+"_act1", "Tanh", []string{pre + "_c1"}, pre+"_a1"),
			node(pre+"_conv2", "Conv", []string{pre + "_a1", pre + "_w2", pre + "_b2"}, pre+"_c2"),
			node(pre+"_act2", "Tanh", []string{pre + "_c2"}, pre+"_a2"),
			node(pre+"_flat", "Flatten", []string{pre + "_a2"}, pre+"_f", axis1),
		}
	}
	var nodes []*onnx.NodeProto
	nodes = append(nodes,
		node("center", "Sub", []string{ONNXInput, "obs_mean"}, "xc"),
		node("scale", "Div", []string{"xc", "obs_std"}, "xn"),
		node("ball_slice", "Slice", []string{"xn", "ball_start", "ball_end", "axes1"}, "ball_x"),
		node("joint_slice", "Slice", []string{"xn", "ball_end", "joint_end", "axes1"}, "joint_x"))
	nodes = append(nodes, tower("ball", "ball_x")...)
	nodes = append(nodes, tower("joint", "joint_x")...)
	nodes = append(nodes,
		node("fuse", "Concat", []string{"ball_f", "joint_f"}, "feat", axis1),
		node("fc1", "MatMul", []string{"feat", "W1"}, "h1"),
		node("bias1", "Add", []string{"h1", "b1"}, "h1b"),
		node("act1", "Tanh", []string{"h1b"}, "h"),
		node("fc2", "MatMul", []string{"h", "W2"}, "o1"),
		node("bias2", "Add", []string{"o1", "b2"}, "o"),
		node("squash", "Tanh", []string{"o"}, ONNXAction))
	init := []*onnx.TensorProto{
		tensor("obs_mean", []int64{in}, f32(n.ObsMean)),
		tensor("obs_std", []int64{in}, f32(n.ObsStd)),
		ints("ball_start", 0), ints("ball_end", nb), ints("joint_end", in), ints("axes1", 1),
		ints("ball_shape", 1, int64(c.BallHist), paperBallCh),
		ints("joint_shape", 1, int64(c.JointHist), paperJointCh),
		tensor("ball_w1", []int64{C, paperBallCh, K}, f32(p[l.bw1:l.bb1])),
		tensor("ball_b1", []int64{C}, f32(p[l.bb1:l.bw2])),
		tensor("ball_w2", []int64{C, C, K}, f32(p[l.bw2:l.bb2])),
		tensor("ball_b2", []int64{C}, f32(p[l.bb2:l.jw1])),
		tensor("joint_w1", []int64{C, paperJointCh, K}, f32(p[l.jw1:l.jb1])),
		tensor("joint_b1", []int64{C}, f32(p[l.jb1:l.jw2])),
		tensor("joint_w2", []int64{C, C, K}, f32(p[l.jw2:l.jb2])),
		tensor("joint_b2", []int64{C}, f32(p[l.jb2:l.fw1])),
		tensor("W1", []int64{int64(l.feat), H}, transpose(p[l.fw1:l.fb1], c.Hidden, l.feat)),
		tensor("b1", []int64{H}, f32(p[l.fb1:l.fw2])),
		tensor("W2", []int64{H, nOut}, transpose(p[l.fw2:l.fb2], nOut, c.Hidden)),
		tensor("b2", []int64{nOut}, f32(p[l.fb2:l.n])),
	}
	model := &onnx.ModelProto{
		IrVersion:    8,
		OpsetImport:  []*onnx.OperatorSetIdProto{{Domain: "", Version: 13}},
		ProducerName: "catch policy (paper)",
		Graph: &onnx.GraphProto{Name: "es_paper_policy", Node: nodes, Initializer: init,
			Input:  []*onnx.ValueInfoProto{{Name: ONNXInput, Type: floatType(1, in)}},
			Output: []*onnx.ValueInfoProto{{Name: ONNXAction, Type: floatType(1, nOut)}}},
	}
	data, err := proto.Marshal(model)
	if err != nil {
		return nil, fmt.Errorf("policy: onnx export: %w", err)
	}
	return data, nil
}
