package registry

import (
	"context"
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
)

func TestURLID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewURLID()
		if !IsURLID(id) {
			t.Fatalf("NewURLID() = %q, not a url-id", id)
		}
		if seen[id] {
			t.Fatalf("NewURLID() repeated %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "abc", strings.Repeat("A", 32), strings.Repeat("a", 31) + "-", strings.Repeat("a", 33)} {
		if IsURLID(bad) {
			t.Errorf("IsURLID(%q) = true", bad)
		}
	}
}

func TestFunctionURLConfig(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	mustPublish(t, r, "f", 1)
	ctx := context.Background()
	if _, err := r.CreateAlias(ctx, Ref{Name: "f"}, CreateAliasInput{Name: "live", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	created, err := r.CreateFunctionURLConfig(ctx, Ref{Name: "f"}, URLConfigInput{AuthType: URLAuthNone,
		Cors: &Cors{AllowOrigins: []string{"https://example.com"}, AllowMethods: []string{"get", "POST"}, MaxAge: ptr(60)}})
	wantErr(t, err, "", "")
	if !IsURLID(created.ID) || created.FunctionArn != fnARN || created.InvokeMode != InvokeBuffered || created.CreationTime == "" {
		t.Fatalf("created = %+v", created)
	}
	if got := created.Cors.AllowMethods; len(got) != 2 || got[0] != "GET" {
		t.Errorf("AllowMethods = %v, want upper-cased", got)
	}
	_, err = r.CreateFunctionURLConfig(ctx, Ref{Name: "f"}, URLConfigInput{AuthType: URLAuthIAM})
	wantErr(t, err, awsproto.ResourceConflictException, "")

	alias, err := r.CreateFunctionURLConfig(ctx, Ref{Name: "f", Qualifier: "live"}, URLConfigInput{AuthType: URLAuthIAM, InvokeMode: InvokeStream})
	wantErr(t, err, "", "")
	if alias.FunctionArn != fnARN+":live" || alias.ID == created.ID || alias.InvokeMode != InvokeStream {
		t.Fatalf("alias = %+v", alias)
	}

	got, err := r.GetFunctionURLConfig(ctx, Ref{Name: "f"})
	wantErr(t, err, "", "")
	if got.ID != created.ID {
		t.Errorf("Get id = %s, want %s", got.ID, created.ID)
	}
	up, err := r.UpdateFunctionURLConfig(ctx, Ref{Name: "f"}, URLConfigInput{AuthType: URLAuthIAM})
	wantErr(t, err, "", "")
	if up.ID != created.ID || up.AuthType != URLAuthIAM || up.Cors == nil || up.CreationTime != created.CreationTime {
		t.Errorf("updated = %+v", up)
	}
	// InvokeMode is kept by an update that does not name it, and changed
	// by one that does.
	if up.InvokeMode != InvokeBuffered {
		t.Errorf("updated InvokeMode = %q, want BUFFERED", up.InvokeMode)
	}
	up, err = r.UpdateFunctionURLConfig(ctx, Ref{Name: "f"}, URLConfigInput{InvokeMode: InvokeStream})
	wantErr(t, err, "", "")
	if up.InvokeMode != InvokeStream || up.AuthType != URLAuthIAM {
		t.Errorf("updated to streaming = %+v", up)
	}
	if c, _ := r.URLConfig("f", ""); c.InvokeMode != InvokeStream {
		t.Errorf("URLConfig(f) InvokeMode = %q after update", c.InvokeMode)
	}
	if c, ok := r.URLConfig("f", "live"); !ok || c.ID != alias.ID {
		t.Errorf("URLConfig(f, live) = %+v, %v", c, ok)
	}
	if n := len(r.URLConfigs()); n != 2 {
		t.Errorf("URLConfigs() has %d entries, want 2", n)
	}

	page, next, err := r.ListFunctionURLConfigs(ctx, Ref{Name: "f"}, "", 1)
	wantErr(t, err, "", "")
	if len(page) != 1 || page[0].ID != created.ID || next == "" {
		t.Fatalf("page 1 = %+v, %q", page, next)
	}
	page, next, err = r.ListFunctionURLConfigs(ctx, Ref{Name: "f"}, next, 1)
	wantErr(t, err, "", "")
	if len(page) != 1 || page[0].ID != alias.ID || next != "" {
		t.Fatalf("page 2 = %+v, %q", page, next)
	}

	// Deleting the alias hides its URL.
	wantErr(t, r.DeleteAlias(ctx, Ref{Name: "f"}, "live"), "", "")
	if _, ok := r.URLConfig("f", "live"); ok {
		t.Error("URL of a deleted alias still resolves")
	}
	if n := len(r.URLConfigs()); n != 1 {
		t.Errorf("URLConfigs() has %d entries after DeleteAlias, want 1", n)
	}

	wantErr(t, r.DeleteFunctionURLConfig(ctx, Ref{Name: "f"}), "", "")
	_, err = r.GetFunctionURLConfig(ctx, Ref{Name: "f"})
	wantErr(t, err, awsproto.ResourceNotFoundException, "The resource you requested does not exist.")
	wantErr(t, r.DeleteFunctionURLConfig(ctx, Ref{Name: "f"}), awsproto.ResourceNotFoundException, "")
}

func TestFunctionURLConfigValidation(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	ctx := context.Background()
	tests := []struct {
		name string
		ref  Ref
		in   URLConfigInput
		code awsproto.Code
		msg  string
	}{
		{name: "no auth type", in: URLConfigInput{}, code: awsproto.ValidationException,
			msg: "1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null"},
		{name: "bad auth type", in: URLConfigInput{AuthType: "OPEN"}, code: awsproto.ValidationException},
		{name: "bad invoke mode", in: URLConfigInput{AuthType: URLAuthNone, InvokeMode: "X"}, code: awsproto.ValidationException},
		{name: "version qualifier", ref: Ref{Qualifier: "1"}, in: URLConfigInput{AuthType: URLAuthNone}, code: awsproto.ValidationException},
		{name: "latest qualifier", ref: Ref{Qualifier: Latest}, in: URLConfigInput{AuthType: URLAuthNone}, code: awsproto.ValidationException},
		{name: "missing alias", ref: Ref{Qualifier: "nope"}, in: URLConfigInput{AuthType: URLAuthNone}, code: awsproto.ResourceNotFoundException},
		{name: "missing function", ref: Ref{Name: "nope"}, in: URLConfigInput{AuthType: URLAuthNone}, code: awsproto.ResourceNotFoundException},
		{name: "too many methods", in: URLConfigInput{AuthType: URLAuthNone, Cors: &Cors{AllowMethods: []string{"GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*"}}},
			code: awsproto.ValidationException},
		{name: "long method", in: URLConfigInput{AuthType: URLAuthNone, Cors: &Cors{AllowMethods: []string{"OPTIONS"}}}, code: awsproto.ValidationException},
		{name: "unknown method", in: URLConfigInput{AuthType: URLAuthNone, Cors: &Cors{AllowMethods: []string{"FOO"}}}, code: awsproto.InvalidParameterValueException},
		{name: "max age", in: URLConfigInput{AuthType: URLAuthNone, Cors: &Cors{MaxAge: ptr(86401)}}, code: awsproto.ValidationException,
			msg: "1 validation error detected: Value '86401' at 'cors.maxAge' failed to satisfy constraint: Member must have value less than or equal to 86400"},
		{name: "negative max age", in: URLConfigInput{AuthType: URLAuthNone, Cors: &Cors{MaxAge: ptr(-1)}}, code: awsproto.ValidationException},
		{name: "empty origin", in: URLConfigInput{AuthType: URLAuthNone, Cors: &Cors{AllowOrigins: []string{""}}}, code: awsproto.ValidationException},
		{name: "bad origin", in: URLConfigInput{AuthType: URLAuthNone, Cors: &Cors{AllowOrigins: []string{"example.com"}}}, code: awsproto.InvalidParameterValueException},
		{name: "bad header", in: URLConfigInput{AuthType: URLAuthNone, Cors: &Cors{AllowHeaders: []string{"a b"}}}, code: awsproto.InvalidParameterValueException},
		{name: "too many headers", in: URLConfigInput{AuthType: URLAuthNone, Cors: &Cors{ExposeHeaders: make([]string, 101)}}, code: awsproto.ValidationException},
		{name: "star everything", in: URLConfigInput{AuthType: URLAuthNone, Cors: &Cors{AllowOrigins: []string{"*"}, AllowHeaders: []string{"*"}, AllowMethods: []string{"*"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := tt.ref
			if ref.Name == "" {
				ref.Name = "f"
			}
			_, err := r.CreateFunctionURLConfig(ctx, ref, tt.in)
			wantErr(t, err, tt.code, tt.msg)
			if err == nil {
				wantErr(t, r.DeleteFunctionURLConfig(ctx, ref), "", "")
			}
		})
	}
}
