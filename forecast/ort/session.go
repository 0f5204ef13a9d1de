package ort

import (
	"errors"
	"fmt"
	"os"

	onnx "github.com/yalue/onnxruntime_go"
)

// Tensor names one float32 input or output of a model and its fixed shape (row-major).
type Tensor struct {
	Name  string
	Shape []int64
}

func (t Tensor) size() (int64, error) {
	if len(t.Shape) == 0 {
		return 0, fmt.Errorf("tensor %q: empty shape", t.Name)
	}
	n := int64(1)
	for i, d := range t.Shape {
		if d <= 0 {
			return 0, fmt.Errorf("tensor %q: dimension %d is %d, want > 0 (shapes are fixed at setup)", t.Name, i, d)
		}
		n *= d
	}
	return n, nil
}

// Config holds the session settings. The zero value means the defaults.
type Config struct {
	// IntraOpThreads is the number of threads one operator may use. Default (0): 1, so a
	// forecast batch does not compete with the control loop for the machine's cores.
	IntraOpThreads int `yaml:"intra_op_threads"`
	// InterOpThreads is the number of operators run in parallel. Default (0): 1.
	InterOpThreads int `yaml:"inter_op_threads"`
	// Device is where the model runs: "cpu" (default, also "") or "cuda" (ONNX Runtime's CUDA
	// execution provider, for a robot's onboard GPU; needs a GPU build of the library).
	Device string `yaml:"device"`
	// CUDADevice is the GPU index with Device cuda. Default 0.
	CUDADevice int `yaml:"cuda_device"`
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	if c.IntraOpThreads < 0 {
		return fmt.Errorf("ort: config: intra_op_threads = %d, want >= 0 (0 means 1)", c.IntraOpThreads)
	}
	if c.InterOpThreads < 0 {
		return fmt.Errorf("ort: config: inter_op_threads = %d, want >= 0 (0 means 1)", c.InterOpThreads)
	}
	switch c.Device {
	case "", "cpu", "cuda":
	default:
		return fmt.Errorf("ort: config: device = %q, want cpu or cuda", c.Device)
	}
	if c.CUDADevice < 0 {
		return fmt.Errorf("ort: config: cuda_device = %d, want >= 0", c.CUDADevice)
	}
	return nil
}

func orOne(n int) int {
	if n == 0 {
		return 1
	}
	return n
}

// Session runs one ONNX model with float32 inputs and outputs bound at setup.
type Session struct {
	s       *onnx.AdvancedSession
	inputs  []*onnx.Tensor[float32]
	outputs []*onnx.Tensor[float32]
}

// NewSessionFromFile reads an .onnx file and calls [NewSession].
func NewSessionFromFile(path string, inputs, outputs []Tensor, cfg Config) (*Session, error) {
	model, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ort: read model: %w", err)
	}
	s, err := NewSession(model, inputs, outputs, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (model %s)", err, path)
	}
	return s, nil
}

// NewSession sets up a session for the serialised ONNX model, with the named float32 inputs
// and outputs at the given shapes. Each name must be an input (output) of the model with
// element type float and a compatible shape. [Init] must have been called.
func NewSession(model []byte, inputs, outputs []Tensor, cfg Config) (*Session, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if Library() == "" {
		return nil, errors.New("ort: new session: ONNX Runtime not initialised; call ort.Init first")
	}
	if len(inputs) == 0 || len(outputs) == 0 {
		return nil, fmt.Errorf("ort: new session: %d inputs and %d outputs given, want at least one of each", len(inputs), len(outputs))
	}
	modelIn, modelOut, err := onnx.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("ort: new session: read model: %w", err)
	}
	if err := match("input", inputs, modelIn); err != nil {
		return nil, err
	}
	if err := match("output", outputs, modelOut); err != nil {
		return nil, err
	}

	s := &Session{}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	var inNames, outNames []string
	var inVals, outVals []onnx.Value
	for _, t := range inputs {
		x, err := newTensor(t)
		if err != nil {
			return nil, err
		}
		s.inputs = append(s.inputs, x)
		inNames = append(inNames, t.Name)
		inVals = append(inVals, x)
	}
	for _, t := range outputs {
		x, err := newTensor(t)
		if err != nil {
			return nil, err
		}
		s.outputs = append(s.outputs, x)
		outNames = append(outNames, t.Name)
		outVals = append(outVals, x)
	}

	opts, err := onnx.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: session options: %w", err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(orOne(cfg.IntraOpThreads)); err != nil {
		return nil, fmt.Errorf("ort: intra_op_threads: %w", err)
	}
	if err := opts.SetInterOpNumThreads(orOne(cfg.InterOpThreads)); err != nil {
		return nil, fmt.Errorf("ort: inter_op_threads: %w", err)
	}
	if cfg.Device == "cuda" {
		if err := appendCUDA(opts, cfg.CUDADevice); err != nil {
			return nil, err
		}
	}
	s.s, err = onnx.NewAdvancedSessionWithONNXData(model, inNames, outNames, inVals, outVals, opts)
	if err != nil {
		return nil, fmt.Errorf("ort: new session: %w", err)
	}
	ok = true
	return s, nil
}

func newTensor(t Tensor) (*onnx.Tensor[float32], error) {
	if _, err := t.size(); err != nil {
		return nil, fmt.Errorf("ort: %w", err)
	}
	x, err := onnx.NewEmptyTensor[float32](onnx.NewShape(t.Shape...))
	if err != nil {
		return nil, fmt.Errorf("ort: tensor %q %v: %w", t.Name, t.Shape, err)
	}
	return x, nil
}

// match checks the requested tensors against the model's declared ones.
func match(kind string, want []Tensor, have []onnx.InputOutputInfo) error {
	for _, w := range want {
		var found *onnx.InputOutputInfo
		for i := range have {
			if have[i].Name == w.Name {
				found = &have[i]
				break
			}
		}
		if found == nil {
			names := make([]string, len(have))
			for i, h := range have {
				names[i] = h.Name
			}
			return fmt.Errorf("ort: model has no %s %q (its %ss: %q)", kind, w.Name, kind, names)
		}
		if found.OrtValueType != onnx.ONNXTypeTensor || found.DataType != onnx.TensorElementDataTypeFloat {
			return fmt.Errorf("ort: model %s %q is %s, want a float32 tensor", kind, w.Name, found)
		}
		if len(found.Dimensions) != len(w.Shape) {
			return fmt.Errorf("ort: model %s %q has shape %v, requested %v (rank differs)", kind, w.Name, found.Dimensions, w.Shape)
		}
		for i, d := range found.Dimensions {
			if d > 0 && d != w.Shape[i] {
				return fmt.Errorf("ort: model %s %q has shape %v, requested %v (dimension %d differs)", kind, w.Name, found.Dimensions, w.Shape, i)
			}
		}
	}
	return nil
}

// Input returns the backing data of input i (row-major) for the caller to fill before Run.
func (s *Session) Input(i int) []float32 { return s.inputs[i].GetData() }

// Output returns the backing data of output i (row-major), valid after Run and overwritten by
// the next Run.
func (s *Session) Output(i int) []float32 { return s.outputs[i].GetData() }

// Run evaluates the model on the current inputs into the outputs. It allocates nothing in Go.
func (s *Session) Run() error {
	if err := s.s.Run(); err != nil {
		return fmt.Errorf("ort: run: %w", err)
	}
	return nil
}

// Close releases the session and its tensors. It is safe to call more than once.
func (s *Session) Close() error {
	var errs []error
	if s.s != nil {
		errs = append(errs, s.s.Destroy())
		s.s = nil
	}
	for _, t := range s.inputs {
		errs = append(errs, t.Destroy())
	}
	for _, t := range s.outputs {
		errs = append(errs, t.Destroy())
	}
	s.inputs, s.outputs = nil, nil
	return errors.Join(errs...)
}

// appendCUDA adds the CUDA execution provider, or says clearly that the loaded library
// cannot provide it.
func appendCUDA(opts *onnx.SessionOptions, dev int) error {
	hint := fmt.Sprintf("the ONNX Runtime library %s has no usable CUDA execution provider (`make deps` installs the CPU build; install a GPU build of ONNX Runtime 1.24+ with CUDA and cuDNN and point %s at it, or set device: cpu)", Library(), LibEnv)
	co, err := onnx.NewCUDAProviderOptions()
	if err != nil {
		return fmt.Errorf("ort: device cuda: %s: %w", hint, err)
	}
	defer co.Destroy()
	if err := co.Update(map[string]string{"device_id": fmt.Sprint(dev)}); err != nil {
		return fmt.Errorf("ort: device cuda: %s: %w", hint, err)
	}
	if err := opts.AppendExecutionProviderCUDA(co); err != nil {
		return fmt.Errorf("ort: device cuda: %s: %w", hint, err)
	}
	return nil
}
