package trace

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the surfaces that render it.
type Kind int

// Error kinds, mapped to HTTP statuses in one place (api.statusOf).
const (
	KindInternal Kind = iota
	KindInvalid
	KindUnauthenticated
	KindForbidden
	KindNotFound
	KindConflict
	KindTooLarge
)

// Error is the one error vocabulary of Ganpin: a machine code, the field at fault
// (a JSON path such as "harvest.lot.quantity", empty when none applies) and a message
// in Chinese and in English.
type Error struct {
	Kind  Kind
	Code  string
	Field string
	ZH    string
	EN    string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.EN
	}
	return e.EN
}

// Invalid reports bad input in field.
func Invalid(field, code, zh, en string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: code, Field: field, ZH: fmt.Sprintf(zh, args...), EN: fmt.Sprintf(en, args...)}
}

// NotFound reports an unknown record; field names the reference when it came from input.
func NotFound(field, what string, id any) *Error {
	return &Error{Kind: KindNotFound, Code: "not_found", Field: field,
		ZH: fmt.Sprintf("%s %v 不存在", zhNoun(what), id), EN: fmt.Sprintf("%s %v not found", what, id)}
}

// Forbidden reports an authenticated actor acting beyond its party or role.
func Forbidden(field, zh, en string) *Error {
	return &Error{Kind: KindForbidden, Code: "forbidden", Field: field, ZH: zh, EN: en}
}

// Conflict reports a write that clashes with existing state.
func Conflict(field, code, zh, en string) *Error {
	return &Error{Kind: KindConflict, Code: code, Field: field, ZH: zh, EN: en}
}

// ErrUnauthenticated is returned when no valid credentials were presented.
var ErrUnauthenticated = &Error{Kind: KindUnauthenticated, Code: "unauthenticated", ZH: "未登录或令牌无效", EN: "missing or invalid credentials"}

// KindOf returns the kind of err, KindInternal for errors that are not *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

func zhNoun(what string) string {
	switch what {
	case "lot":
		return "批次"
	case "site":
		return "场所"
	case "product":
		return "产品"
	case "party":
		return "主体"
	case "event":
		return "事件"
	case "user":
		return "用户"
	}
	return what
}
