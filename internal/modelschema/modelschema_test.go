package modelschema

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tinyModel = `{
  "swagger": "2.0",
  "info": {"title": "tiny", "version": "v1"},
  "paths": {
    "/things/{id}": {
      "get": {
        "operationId": "getThing",
        "x-amzn-api-sandbox": {"static": []},
        "responses": {
          "200": {"description": "ok", "schema": {"$ref": "#/definitions/GetThingResponse"}},
          "400": {"description": "bad", "schema": {"$ref": "#/definitions/ErrorList"}},
          "204": {"description": "no body"}
        }
      }
    }
  },
  "definitions": {
    "GetThingResponse": {"type": "object", "properties": {"payload": {"$ref": "#/definitions/Thing"}}},
    "Thing": {
      "type": "object",
      "required": ["id", "createdTime"],
      "x-docgen-extra": true,
      "example": {"anything": "goes"},
      "properties": {
        "id": {"type": "string"},
        "createdTime": {"type": "string", "format": "date-time"},
        "count": {"type": "integer", "minimum": 0},
        "kind": {"type": "string", "enum": ["A", "B"]},
        "properties": {"type": "string", "description": "a field named like a keyword"}
      }
    },
    "ErrorList": {"type": "object", "required": ["errors"], "properties": {"errors": {"type": "array", "items": {"$ref": "#/definitions/Error"}}}},
    "Error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "string"}}}
  }
}`

func loadTiny(t *testing.T, opts Options) *Model {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tiny.json")
	if err := os.WriteFile(p, []byte(tinyModel), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Load(p, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return m
}

func TestValidateTinyModel(t *testing.T) {
	loose := loadTiny(t, Options{})
	strict := loadTiny(t, Options{Strict: true})
	tests := []struct {
		name      string
		m         *Model
		status    int
		body      string
		wantError string // substring; "" means valid
	}{
		{"valid", strict, 200, `{"payload":{"id":"x","createdTime":"2026-01-10T22:09:17Z","count":2,"kind":"A","properties":"p"}}`, ""},
		{"valid with offset and fraction", strict, 200, `{"payload":{"id":"x","createdTime":"2026-01-10T22:09:17.123+02:00"}}`, ""},
		{"missing required", strict, 200, `{"payload":{"id":"x"}}`, "createdTime"},
		{"wrong type", strict, 200, `{"payload":{"id":7,"createdTime":"2026-01-10T22:09:17Z"}}`, "/payload/id"},
		{"date without zone", strict, 200, `{"payload":{"id":"x","createdTime":"2026-01-10T22:09:17"}}`, "date-time"},
		{"date only", strict, 200, `{"payload":{"id":"x","createdTime":"2026-01-10"}}`, "date-time"},
		{"enum", strict, 200, `{"payload":{"id":"x","createdTime":"2026-01-10T22:09:17Z","kind":"C"}}`, "kind"},
		{"minimum", strict, 200, `{"payload":{"id":"x","createdTime":"2026-01-10T22:09:17Z","count":-1}}`, "count"},
		{"unknown field strict", strict, 200, `{"payload":{"id":"x","createdTime":"2026-01-10T22:09:17Z","Id":"typo"}}`, "Id"},
		{"unknown field loose", loose, 200, `{"payload":{"id":"x","createdTime":"2026-01-10T22:09:17Z","Id":"typo"}}`, ""},
		{"error list", strict, 400, `{"errors":[{"code":"InvalidInput","message":"m","details":""}]}`, ""},
		{"error list missing message", strict, 400, `{"errors":[{"code":"InvalidInput"}]}`, "message"},
		{"not json", strict, 200, `{"payload":`, "not JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.m.Validate("getThing", tc.status, []byte(tc.body))
			switch {
			case tc.wantError == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.wantError != "" && err == nil:
				t.Fatalf("want an error mentioning %q, got none", tc.wantError)
			case tc.wantError != "" && !strings.Contains(err.Error(), tc.wantError):
				t.Fatalf("error %q does not mention %q", err, tc.wantError)
			}
		})
	}
}

func TestResponseSchemaErrors(t *testing.T) {
	m := loadTiny(t, Options{})
	if _, err := m.ResponseSchema("nope", 200); err == nil {
		t.Error("unknown operation: want error")
	}
	if _, err := m.ResponseSchema("getThing", 404); err == nil {
		t.Error("undeclared status: want error")
	}
	if _, err := m.ResponseSchema("getThing", 204); err == nil {
		t.Error("response without schema: want error")
	}
}

func TestLoadRejectsNonSwagger(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(p, []byte(`{"openapi":"3.0.0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p, Options{}); err == nil {
		t.Fatal("want error for a non-Swagger-2.0 document")
	}
}

// TestRealModelRejectsWrongBody checks the conversion against Amazon's own
// Orders v0 model: a body Amazon would never send must fail.
func TestRealModelRejectsWrongBody(t *testing.T) {
	dir, err := Dir()
	if err != nil {
		if os.Getenv("SPGATE_REQUIRE_MODELS") == "1" {
			t.Fatal(err)
		}
		t.Skipf("skipping: %v", err)
	}
	m, err := Load(filepath.Join(dir, "orders-api-model", "ordersV0.json"), Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	good := `{"payload":{"Orders":[{"AmazonOrderId":"123-1234567-1234567","PurchaseDate":"2026-01-10T22:09:17Z","LastUpdateDate":"2026-01-10T22:09:17Z","OrderStatus":"Shipped"}]}}`
	if err := m.Validate("getOrders", 200, []byte(good)); err != nil {
		t.Fatalf("valid getOrders body rejected: %v", err)
	}
	for name, bad := range map[string]string{
		"status not in enum": `{"payload":{"Orders":[{"AmazonOrderId":"1","PurchaseDate":"x","LastUpdateDate":"x","OrderStatus":"Lost"}]}}`,
		"missing Orders":     `{"payload":{"NextToken":"abc"}}`,
		"misspelled field":   `{"payload":{"Orders":[],"nextToken":"abc"}}`,
		"wrong type":         `{"payload":{"Orders":[{"AmazonOrderId":1,"PurchaseDate":"x","LastUpdateDate":"x","OrderStatus":"Shipped"}]}}`,
	} {
		if err := m.Validate("getOrders", 200, []byte(bad)); err == nil {
			t.Errorf("%s: body accepted, want rejection: %s", name, bad)
		}
	}
}

func TestDirFromEnv(t *testing.T) {
	t.Setenv(EnvModels, filepath.Join(t.TempDir(), "missing"))
	if _, err := Dir(); !errors.Is(err, ErrNoModels) {
		t.Fatalf("Dir with a missing folder: got %v, want ErrNoModels", err)
	}
	d := t.TempDir()
	t.Setenv(EnvModels, d)
	if got, err := Dir(); err != nil || got != d {
		t.Fatalf("Dir = %q, %v; want %q", got, err, d)
	}
}
