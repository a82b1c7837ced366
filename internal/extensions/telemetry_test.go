package extensions

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// batches collects what a Deliverer is given.
type batches chan []map[string]any

func (b batches) deliver(_ context.Context, uri string, body []byte) error {
	var recs []map[string]any
	if err := json.Unmarshal(body, &recs); err != nil {
		return err
	}
	for _, r := range recs {
		r["_uri"] = uri
	}
	b <- recs
	return nil
}

func (b batches) next(t *testing.T) []map[string]any {
	t.Helper()
	select {
	case r := <-b:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no batch within 30 s")
	}
	return nil
}

func subscribeBody(schema, types, buffering string) string {
	return `{"schemaVersion":"` + schema + `","types":` + types + `,"buffering":` + buffering +
		`,"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/t"}}`
}

func TestTelemetrySubscribeValidation(t *testing.T) {
	m, url := newManager(t, "ext")
	m.SetDeliverer(make(batches, 10).deliver)
	c := &client{t: t, base: url}
	c.register("ext", `["INVOKE"]`)
	hdr := map[string]string{hdrIdentifier: c.id}
	okBuf := `{"maxItems":1000,"maxBytes":262144,"timeoutMs":25}`
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"ok", subscribeBody("2022-12-13", `["platform","function"]`, okBuf), 200},
		{"bad schema", subscribeBody("2021-01-01", `["platform"]`, okBuf), 400},
		{"no types", subscribeBody("2022-12-13", `[]`, okBuf), 400},
		{"bad type", subscribeBody("2022-12-13", `["metrics"]`, okBuf), 400},
		{"maxItems low", subscribeBody("2022-12-13", `["platform"]`, `{"maxItems":10}`), 400},
		{"maxBytes high", subscribeBody("2022-12-13", `["platform"]`, `{"maxBytes":2000000}`), 400},
		{"timeout low", subscribeBody("2022-12-13", `["platform"]`, `{"timeoutMs":1}`), 400},
		{"tcp", strings.Replace(subscribeBody("2022-12-13", `["platform"]`, okBuf), `"HTTP"`, `"TCP"`, 1), 400},
		{"not json", `{`, 400},
	} {
		resp, body := c.do(http.MethodPut, TelemetryPath, hdr, tc.body)
		if resp.StatusCode != tc.status || (tc.status == 400 && !strings.Contains(string(body), errTelemetryValidation)) {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.status)
		}
	}
	if resp, body := c.do(http.MethodPut, TelemetryPath, nil, subscribeBody("2022-12-13", `["platform"]`, okBuf)); resp.StatusCode != 403 || !strings.Contains(string(body), errIdentifierMissing) {
		t.Errorf("no identifier: %d %s", resp.StatusCode, body)
	}
	if resp, _ := c.do(http.MethodPost, TelemetryPath, hdr, ""); resp.StatusCode != 405 {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

func TestTelemetryUnavailable(t *testing.T) {
	_, url := newManager(t, "ext")
	c := &client{t: t, base: url}
	c.register("ext", `["INVOKE"]`)
	resp, body := c.do(http.MethodPut, TelemetryPath, map[string]string{hdrIdentifier: c.id}, subscribeBody("2022-12-13", `["platform"]`, `{}`))
	if resp.StatusCode != 500 || !strings.Contains(string(body), "not available") {
		t.Fatalf("subscribe without a deliverer: %d %s", resp.StatusCode, body)
	}
}

// The init phase's records reach a subscriber made during init; later
// ones come in batches of at most maxItems, the rest after timeoutMs;
// streams not subscribed to are not sent.
func TestTelemetryDelivery(t *testing.T) {
	m, url := newManager(t, "ext")
	got := make(batches, 100)
	m.SetDeliverer(got.deliver)
	now := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	m.Emit(now, "platform.initStart", map[string]any{"phase": "init"})
	m.Emit(now, TypeFunction, "init line")
	c := &client{t: t, base: url}
	c.register("ext", `["INVOKE"]`)
	resp, body := c.do(http.MethodPut, TelemetryPath, map[string]string{hdrIdentifier: c.id},
		subscribeBody("2022-12-13", `["platform"]`, `{"maxItems":1000,"timeoutMs":25}`))
	if resp.StatusCode != 200 || string(body) != "OK" {
		t.Fatalf("subscribe: %d %s", resp.StatusCode, body)
	}
	b := got.next(t)
	if len(b) != 1 || b[0]["type"] != "platform.initStart" || b[0]["time"] != "2026-01-02T03:04:05.006Z" || b[0]["_uri"] != "http://sandbox.localdomain:4243/t" {
		t.Fatalf("first batch %v: want the init phase's platform record only", b)
	}
	m.CloseRegistration()

	// 2,500 records: two full batches at once, the rest by the timer.
	for i := 0; i < 2500; i++ {
		m.Emit(now, "platform.start", map[string]any{"requestId": i})
		m.Emit(now, TypeFunction, "not subscribed")
	}
	seen := 0
	for seen < 2500 {
		b := got.next(t)
		if len(b) > 1000 {
			t.Fatalf("a batch of %d records, over maxItems", len(b))
		}
		for _, r := range b {
			if r["type"] != "platform.start" || int(r["record"].(map[string]any)["requestId"].(float64)) != seen {
				t.Fatalf("record %d: %v", seen, r)
			}
			seen++
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.FlushTelemetry(ctx); err != nil {
		t.Fatalf("FlushTelemetry: %v", err)
	}
	select {
	case b := <-got:
		t.Fatalf("an extra batch %v", b)
	default:
	}
}

// The Logs API gets the records it knows, under its names.
func TestLogsAPI(t *testing.T) {
	m, url := newManager(t, "ext")
	got := make(batches, 10)
	m.SetDeliverer(got.deliver)
	c := &client{t: t, base: url}
	c.register("ext", `["INVOKE"]`)
	resp, body := c.do(http.MethodPut, LogsPath, map[string]string{hdrIdentifier: c.id},
		`{"types":["platform","function"],"buffering":{"timeoutMs":25},"destination":{"protocol":"HTTP","URI":"http://sandbox:1234"}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("subscribe: %d %s", resp.StatusCode, body)
	}
	m.CloseRegistration()
	now := time.Now()
	m.Emit(now, "platform.initReport", map[string]any{})
	m.Emit(now, "platform.runtimeDone", map[string]any{"requestId": "r"})
	m.Emit(now, TypeFunction, "hello")
	var types []string
	for len(types) < 2 {
		for _, r := range got.next(t) {
			types = append(types, r["type"].(string))
		}
	}
	if strings.Join(types, ",") != "platform.end,function" {
		t.Fatalf("Logs API records %q, want platform.end, function", types)
	}
}
