package api

import "strings"

// FieldErrors are every invalid field of one request, so that a form can mark them all at
// once (a duty roster: overlapping shifts, an unknown person). It is ErrInvalid (400); the
// answer names the first field as "field" and all of them as "fields".
type FieldErrors []FieldError

func (e FieldErrors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e FieldErrors) Unwrap() error { return ErrInvalid }

// InvalidField names the first field for the error body.
func (e FieldErrors) InvalidField() string {
	if len(e) == 0 {
		return ""
	}
	return e[0].Field
}

// InvalidFields names every field for the error body.
func (e FieldErrors) InvalidFields() []FieldError { return e }
