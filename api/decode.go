package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ganpin/ganpin/trace"
)

// Body limits.
const (
	maxBody      = 1 << 20  // one record
	maxBatchBody = 16 << 20 // a batch of up to trace.MaxBatch events
)

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &trace.Error{Kind: trace.KindTooLarge, Code: "body_too_large",
			ZH: fmt.Sprintf("请求体超过%d字节上限", limit), EN: fmt.Sprintf("the request body exceeds the %d-byte limit", limit)}
	}
	return b, err
}

// decodeJSON decodes exactly one JSON value into v, refusing unknown fields, wrong
// types and trailing data, with an error that names the field.
func decodeJSON(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return trace.Invalid("", "empty_body", "请求体为空，应为JSON", "the request body is empty; send JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); err != io.EOF {
			return trace.Invalid("", "malformed_json", "JSON之后有多余内容", "unexpected data after the JSON value")
		}
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return trace.Invalid("", "malformed_json", "JSON格式错误（第%d字节）", "malformed JSON at byte %d", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return trace.Invalid("", "malformed_json", "JSON不完整", "the JSON ends early")
	case errors.As(err, &te):
		return trace.Invalid(te.Field, "wrong_type", "字段类型错误：应为%s", "wrong type: expected %s", jsonType(te.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return trace.Invalid(name, "unknown_field", "未知字段：%s", "unknown field %s", name)
	}
	return trace.Invalid("", "malformed_json", "无法解析JSON", "cannot parse the JSON: %v", err)
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int64", "int32", "float64", "float32":
		return "number"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	}
	return kind
}
