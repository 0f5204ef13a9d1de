package ballnet

import (
	"github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"

	"github.com/agilecatch/catch/internal/onnxgraph"
)

// ONNX names of the model's input and output.
const (
	InputName  = "crops" // float32 [batch, 3, Size, Size]
	OutputName = "score" // float32 [batch, 1], the probability of the ball
	// MetaKey is the metadata entry holding the training record (JSON).
	MetaKey = "catch.ballnet"
)

// ONNX writes the network as an ONNX model (IR 8, opset 13, float32,
// batch dimension symbolic): Conv · Sigmoid · Mul (SiLU) twice, Flatten,
// MatMul · Add, Sigmoid. meta, when not empty, is stored under MetaKey.
// The bytes depend only on the weights and meta.
func (n *Net) ONNX(meta string) ([]byte, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	l := n.lay()
	tensor := func(name string, v []float64, dims ...int64) *onnx.TensorProto {
		f := make([]float32, len(v))
		for i, x := range v {
			f[i] = float32(x)
		}
		return &onnx.TensorProto{Name: name, DataType: int32(onnx.TensorProto_FLOAT), Dims: dims, FloatData: f}
	}
	ints := func(name string, v ...int64) *onnx.AttributeProto {
		return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_INTS, Ints: v}
	}
	convAttrs := func() []*onnx.AttributeProto {
		return []*onnx.AttributeProto{ints("kernel_shape", 3, 3), ints("pads", 1, 1, 1, 1), ints("strides", 2, 2)}
	}
	c1, c2 := int64(n.C1), int64(n.C2)
	g := &onnx.GraphProto{
		Name: "ballnet",
		Initializer: []*onnx.TensorProto{
			tensor("W1", n.P[l.w1:l.b1], c1, Channels, 3, 3),
			tensor("B1", n.P[l.b1:l.w2], c1),
			tensor("W2", n.P[l.w2:l.b2], c2, c1, 3, 3),
			tensor("B2", n.P[l.b2:l.w3], c2),
			tensor("W3", n.P[l.w3:l.b3], c2*side2*side2, 1),
			tensor("B3", n.P[l.b3:l.n], 1),
		},
		Node: []*onnx.NodeProto{
			{Name: "conv1", OpType: "Conv", Input: []string{InputName, "W1", "B1"}, Output: []string{"z1"}, Attribute: convAttrs()},
			{Name: "sig1", OpType: "Sigmoid", Input: []string{"z1"}, Output: []string{"s1"}},
			{Name: "silu1", OpType: "Mul", Input: []string{"z1", "s1"}, Output: []string{"a1"}},
			{Name: "conv2", OpType: "Conv", Input: []string{"a1", "W2", "B2"}, Output: []string{"z2"}, Attribute: convAttrs()},
			{Name: "sig2", OpType: "Sigmoid", Input: []string{"z2"}, Output: []string{"s2"}},
			{Name: "silu2", OpType: "Mul", Input: []string{"z2", "s2"}, Output: []string{"a2"}},
			{Name: "flatten", OpType: "Flatten", Input: []string{"a2"}, Output: []string{"f"}, Attribute: []*onnx.AttributeProto{{Name: "axis", Type: onnx.AttributeProto_INT, I: 1}}},
			{Name: "matmul", OpType: "MatMul", Input: []string{"f", "W3"}, Output: []string{"m"}},
			{Name: "add", OpType: "Add", Input: []string{"m", "B3"}, Output: []string{"logit"}},
			{Name: "sigmoid", OpType: "Sigmoid", Input: []string{"logit"}, Output: []string{OutputName}},
		},
		Input:  []*onnx.ValueInfoProto{onnxgraph.ValueInfo(InputName, "batch", Channels, Size, Size)},
		Output: []*onnx.ValueInfoProto{onnxgraph.ValueInfo(OutputName, "batch", 1)},
	}
	model := &onnx.ModelProto{
		IrVersion:    8,
		OpsetImport:  []*onnx.OperatorSetIdProto{{Domain: "", Version: 13}},
		ProducerName: "catch ballnet",
		Graph:        g,
	}
	if meta != "" {
		model.MetadataProps = []*onnx.StringStringEntryProto{{Key: MetaKey, Value: meta}}
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(model)
}

// Meta returns the training record stored in an exported model, or "".
func Meta(model []byte) (string, error) {
	var m onnx.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return "", err
	}
	for _, e := range m.MetadataProps {
		if e.Key == MetaKey {
			return e.Value, nil
		}
	}
	return "", nil
}
