package forecast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"

	"github.com/agilecatch/catch/internal/onnxgraph"
)

// ONNX layout of an MLP: initialisers W0, B0, W1, B1, …; nodes MatMul → Add → (Sigmoid, Mul
// for SiLU) per hidden layer; one float input [batch, in] and one output [batch, out], batch
// symbolic. IR version 8, default-domain opset 13.

// ExportONNX serialises an MLP as an ONNX model with the metadata attached.
func ExportONNX(m *MLP, graphName, in, out string, meta *Meta) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	g := &onnx.GraphProto{Name: graphName}
	x := in
	last := len(m.W) - 1
	for l := range m.W {
		wn, bn := fmt.Sprintf("W%d", l), fmt.Sprintf("B%d", l)
		g.Initializer = append(g.Initializer,
			&onnx.TensorProto{Name: wn, DataType: int32(onnx.TensorProto_FLOAT), Dims: []int64{int64(m.Sizes[l]), int64(m.Sizes[l+1])}, FloatData: f32(m.W[l])},
			&onnx.TensorProto{Name: bn, DataType: int32(onnx.TensorProto_FLOAT), Dims: []int64{int64(m.Sizes[l+1])}, FloatData: f32(m.B[l])})
		mm, z := fmt.Sprintf("mm%d", l), fmt.Sprintf("z%d", l)
		if l == last {
			z = out
		}
		g.Node = append(g.Node,
			&onnx.NodeProto{Name: "matmul" + fmt.Sprint(l), OpType: "MatMul", Input: []string{x, wn}, Output: []string{mm}},
			&onnx.NodeProto{Name: "add" + fmt.Sprint(l), OpType: "Add", Input: []string{mm, bn}, Output: []string{z}})
		if l < last {
			sg, a := fmt.Sprintf("sig%d", l), fmt.Sprintf("a%d", l)
			g.Node = append(g.Node,
				&onnx.NodeProto{Name: "sigmoid" + fmt.Sprint(l), OpType: "Sigmoid", Input: []string{z}, Output: []string{sg}},
				&onnx.NodeProto{Name: "silu" + fmt.Sprint(l), OpType: "Mul", Input: []string{z, sg}, Output: []string{a}})
			z = a
		}
		x = z
	}
	g.Input = []*onnx.ValueInfoProto{onnxgraph.ValueInfo(in, "batch", m.In())}
	g.Output = []*onnx.ValueInfoProto{onnxgraph.ValueInfo(out, "batch", m.Out())}
	model := &onnx.ModelProto{
		IrVersion:    8,
		OpsetImport:  []*onnx.OperatorSetIdProto{{Domain: "", Version: 13}},
		ProducerName: "catch forecast",
		Graph:        g,
	}
	if meta != nil {
		js, err := marshalMeta(meta)
		if err != nil {
			return nil, err
		}
		model.MetadataProps = []*onnx.StringStringEntryProto{{Key: MetaKey, Value: js}}
	}
	return proto.Marshal(model)
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// ImportONNX reads an MLP written by ExportONNX and its metadata. Files that are not ONNX,
// not this layout, or lack the metadata get an error that says so.
func ImportONNX(data []byte) (*MLP, *Meta, error) {
	if len(data) == 0 {
		return nil, nil, errors.New("empty file, want an ONNX model")
	}
	var model onnx.ModelProto
	if err := proto.Unmarshal(data, &model); err != nil {
		return nil, nil, fmt.Errorf("not an ONNX model (protobuf: %w)", err)
	}
	if model.Graph == nil || len(model.Graph.Node) == 0 {
		return nil, nil, errors.New("not an ONNX model (no graph)")
	}
	var meta *Meta
	for _, p := range model.MetadataProps {
		if p.Key == MetaKey {
			meta = &Meta{}
			dec := json.NewDecoder(bytes.NewReader([]byte(p.Value)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(meta); err != nil {
				return nil, nil, fmt.Errorf("metadata %s: %w", MetaKey, err)
			}
		}
	}
	if meta == nil {
		return nil, nil, fmt.Errorf("ONNX model without %s metadata: not a catch forecast model (train one with `catch train forecast`)", MetaKey)
	}
	if err := meta.Validate(); err != nil {
		return nil, nil, fmt.Errorf("metadata: %w", err)
	}
	inits := map[string]*onnx.TensorProto{}
	for _, t := range model.Graph.Initializer {
		inits[t.Name] = t
	}
	m := &MLP{}
	for l := 0; ; l++ {
		w, okw := inits[fmt.Sprintf("W%d", l)]
		b, okb := inits[fmt.Sprintf("B%d", l)]
		if !okw || !okb {
			break
		}
		if len(w.Dims) != 2 || len(b.Dims) != 1 || w.Dims[1] != b.Dims[0] {
			return nil, nil, fmt.Errorf("layer %d: weight dims %v and bias dims %v do not form a layer", l, w.Dims, b.Dims)
		}
		if len(w.FloatData) != int(w.Dims[0]*w.Dims[1]) || len(b.FloatData) != int(b.Dims[0]) {
			return nil, nil, fmt.Errorf("layer %d: %d weights and %d biases stored, want %d and %d (float_data)", l, len(w.FloatData), len(b.FloatData), w.Dims[0]*w.Dims[1], b.Dims[0])
		}
		if l == 0 {
			m.Sizes = append(m.Sizes, int(w.Dims[0]))
		} else if m.Sizes[l] != int(w.Dims[0]) {
			return nil, nil, fmt.Errorf("layer %d takes %d inputs, layer %d gives %d", l, w.Dims[0], l-1, m.Sizes[l])
		}
		m.Sizes = append(m.Sizes, int(w.Dims[1]))
		m.W = append(m.W, f64(w.FloatData))
		m.B = append(m.B, f64(b.FloatData))
	}
	if len(m.W) == 0 {
		return nil, nil, errors.New("no W0/B0 initialisers: not an MLP written by catch forecast")
	}
	if err := m.Validate(); err != nil {
		return nil, nil, err
	}
	return m, meta, nil
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
