// Package modelschema validates JSON bodies against the response schemas of
// Amazon's official SP-API models (Swagger 2.0). It converts an operation's
// response schema, with the model's #/definitions, into a draft-04 JSON
// Schema and validates with github.com/santhosh-tekuri/jsonschema/v6.
//
// Tests use it; it reads the models at test time and never embeds them.
package modelschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// EnvModels names the environment variable that points at the models folder.
const EnvModels = "SPGATE_SP_API_MODELS"

// ErrNoModels is returned by Dir when the models folder cannot be found.
var ErrNoModels = errors.New("modelschema: SP-API models not found: set " + EnvModels + " to the folder of Amazon's selling-partner-api-models (models/) or place it at ../shared/sp-api-models next to the module root")

// Dir returns the models folder: $SPGATE_SP_API_MODELS, else
// ../shared/sp-api-models relative to the module root (the nearest parent
// of the working directory with a go.mod).
func Dir() (string, error) {
	if d := os.Getenv(EnvModels); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d, nil
		}
		return "", fmt.Errorf("%w (%s=%q is not a folder)", ErrNoModels, EnvModels, d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("modelschema: working directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "sp-api-models")
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				return d, nil
			}
			return "", ErrNoModels
		}
		if filepath.Dir(dir) == dir {
			return "", ErrNoModels
		}
	}
}

// Options tune the conversion.
type Options struct {
	// Strict forbids properties the model does not declare on objects that
	// list properties (additionalProperties: false unless the model says
	// otherwise), so a misspelled field name fails validation.
	Strict bool
}

// Model is one loaded Swagger 2.0 model file.
type Model struct {
	path string
	doc  map[string]any
	opts Options

	mu    sync.Mutex
	cache map[string]*jsonschema.Schema
}

// Load reads a Swagger 2.0 model file.
func Load(path string, opts Options) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("modelschema: read model: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("modelschema: %s is not JSON: %w", path, err)
	}
	if v, _ := doc["swagger"].(string); v != "2.0" {
		return nil, fmt.Errorf("modelschema: %s is not a Swagger 2.0 model (swagger=%q)", path, v)
	}
	return &Model{path: path, doc: doc, opts: opts, cache: map[string]*jsonschema.Schema{}}, nil
}

// operation finds the operation object with this operationId.
func (m *Model) operation(operationID string) (map[string]any, error) {
	paths, _ := m.doc["paths"].(map[string]any)
	for _, item := range paths {
		ops, _ := item.(map[string]any)
		for method, o := range ops {
			op, ok := o.(map[string]any)
			if !ok || method == "parameters" {
				continue
			}
			if id, _ := op["operationId"].(string); id == operationID {
				return op, nil
			}
		}
	}
	return nil, fmt.Errorf("modelschema: %s has no operation %q", filepath.Base(m.path), operationID)
}

// ResponseSchema returns the JSON Schema of operationID's response with
// this HTTP status (falling back to the "default" response).
func (m *Model) ResponseSchema(operationID string, status int) (*jsonschema.Schema, error) {
	key := operationID + "/" + strconv.Itoa(status)
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.cache[key]; ok {
		return s, nil
	}
	op, err := m.operation(operationID)
	if err != nil {
		return nil, err
	}
	responses, _ := op["responses"].(map[string]any)
	resp, ok := responses[strconv.Itoa(status)].(map[string]any)
	if !ok {
		if resp, ok = responses["default"].(map[string]any); !ok {
			return nil, fmt.Errorf("modelschema: %s declares no %d response", operationID, status)
		}
	}
	if ref, ok := resp["$ref"].(string); ok { // #/responses/X
		resp, _ = m.resolve(ref).(map[string]any)
	}
	schema, ok := resp["schema"]
	if !ok {
		return nil, fmt.Errorf("modelschema: the %d response of %s has no body schema", status, operationID)
	}
	root := map[string]any{
		"$schema":     "http://json-schema.org/draft-04/schema#",
		"definitions": m.convert(m.doc["definitions"], false),
		"allOf":       []any{m.convert(schema, false)},
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.AssertFormat()
	url := "mem:///" + filepath.Base(m.path) + "/" + key + ".json"
	if err := c.AddResource(url, root); err != nil {
		return nil, fmt.Errorf("modelschema: %s: %w", key, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("modelschema: compile %s: %w", key, err)
	}
	m.cache[key] = s
	return s, nil
}

// resolve follows a local JSON pointer (#/a/b) in the model.
func (m *Model) resolve(ref string) any {
	var cur any = m.doc
	for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		obj, _ := cur.(map[string]any)
		cur = obj[strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")]
	}
	return cur
}

// convert turns a Swagger 2.0 schema into draft-04 JSON Schema: it drops
// vendor extensions and Swagger-only keywords and, in strict mode, closes
// objects. inProps is true when v is a properties map (keys are names, not
// keywords).
func (m *Model) convert(v any, inProps bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if inProps {
				out[k] = m.convert(val, false)
				continue
			}
			switch {
			case strings.HasPrefix(k, "x-"), k == "example", k == "discriminator", k == "readOnly", k == "xml", k == "externalDocs":
				continue
			case k == "properties" || k == "definitions" || k == "patternProperties":
				out[k] = m.convert(val, true)
			case k == "enum" || k == "required" || k == "default":
				out[k] = val
			default:
				out[k] = m.convert(val, false)
			}
		}
		if !inProps && m.opts.Strict {
			if _, hasProps := out["properties"]; hasProps {
				if _, set := out["additionalProperties"]; !set {
					if _, all := out["allOf"]; !all {
						out["additionalProperties"] = false
					}
				}
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = m.convert(e, false)
		}
		return out
	}
	return v
}

// Validate checks body against the response schema of operationID/status.
// The error lists every violation with its JSON pointer.
func (m *Model) Validate(operationID string, status int, body []byte) error {
	s, err := m.ResponseSchema(operationID, status)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("modelschema: %s %d: body is not JSON: %w", operationID, status, err)
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("modelschema: %s %d: %w", operationID, status, err)
	}
	return nil
}
