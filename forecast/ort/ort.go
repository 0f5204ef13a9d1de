package ort

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"
)

// LibEnv is the environment variable that names the ONNX Runtime shared library.
const LibEnv = "ONNXRUNTIME_LIB"

// repoLib is where `make deps` unpacks the library, relative to the repository root.
var repoLib = filepath.Join(".deps", "onnxruntime", "lib", "libonnxruntime.so")

// systemLibs are the usual install locations of a system-wide ONNX Runtime.
var systemLibs = []string{
	"/usr/local/lib/libonnxruntime.so",
	"/usr/lib/x86_64-linux-gnu/libonnxruntime.so",
	"/usr/lib/aarch64-linux-gnu/libonnxruntime.so",
	"/usr/lib/libonnxruntime.so",
}

const installHint = "run `make deps` (unpacks it into .deps/onnxruntime/lib/) or set " + LibEnv + " to the path of libonnxruntime.so"

var (
	mu      sync.Mutex
	libPath string // the library the environment was initialised with; "" when not initialised
)

// FindLibrary returns the path of the ONNX Runtime shared library, searched as the package
// documentation describes, or an error that says where it looked and how to install it.
func FindLibrary() (string, error) {
	if p := os.Getenv(LibEnv); p != "" {
		if err := isFile(p); err != nil {
			return "", fmt.Errorf("ort: %s=%s: %w; %s", LibEnv, p, err, installHint)
		}
		return p, nil
	}
	var tried []string
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, repoLib)
			if !slices.Contains(tried, p) {
				tried = append(tried, p)
				if isFile(p) == nil {
					return p, nil
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	for _, p := range systemLibs {
		tried = append(tried, p)
		if isFile(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("ort: ONNX Runtime shared library not found (%s is unset; looked for %s in the working directory, the executable's directory and their parents, and in %v); %s",
		LibEnv, repoLib, systemLibs, installHint)
}

func isFile(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errors.New("no such file")
		}
		return err
	}
	if st.IsDir() {
		return errors.New("is a directory, want the libonnxruntime.so file")
	}
	return nil
}

// Init loads the ONNX Runtime shared library at path and creates the process-wide
// environment. An empty path means [FindLibrary]. Calling Init again with the same library
// (or with "") is a no-op; a different library is an error, since a process loads ONNX Runtime
// once. Safe for concurrent use.
func Init(path string) error {
	mu.Lock()
	defer mu.Unlock()
	if path == "" {
		if libPath != "" {
			return nil
		}
		var err error
		if path, err = FindLibrary(); err != nil {
			return err
		}
	} else if err := isFile(path); err != nil {
		return fmt.Errorf("ort: ONNX Runtime library %s: %w; %s", path, err, installHint)
	}
	if libPath != "" {
		if libPath == path {
			return nil
		}
		return fmt.Errorf("ort: ONNX Runtime already initialised from %s, cannot load %s as well", libPath, path)
	}
	onnx.SetSharedLibraryPath(path)
	if err := onnx.InitializeEnvironment(onnx.WithLogLevelWarning()); err != nil {
		return fmt.Errorf("ort: initialise ONNX Runtime from %s (onnxruntime_go v1.27.0 needs ONNX Runtime 1.24 or newer, C API 24): %w", path, err)
	}
	libPath = path
	return nil
}

// Library returns the path Init loaded, or "" before Init.
func Library() string {
	mu.Lock()
	defer mu.Unlock()
	return libPath
}

// Version returns the loaded ONNX Runtime's version string, or "" before Init.
func Version() string {
	mu.Lock()
	defer mu.Unlock()
	if libPath == "" {
		return ""
	}
	return onnx.GetVersion()
}

// Shutdown destroys the environment created by Init. Sessions must be closed first.
func Shutdown() error {
	mu.Lock()
	defer mu.Unlock()
	if libPath == "" {
		return nil
	}
	libPath = ""
	if err := onnx.DestroyEnvironment(); err != nil {
		return fmt.Errorf("ort: shutdown: %w", err)
	}
	return nil
}
