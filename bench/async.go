package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// AsyncResult is the asynchronous invocation measurement.
type AsyncResult struct {
	Section
	Events int `json:"events"`
	// Enqueue: InvocationType Event requests, acknowledged with 202, from
	// asyncClients clients.
	Enqueue       Dist    `json:"enqueue"`
	EnqueuePerSec float64 `json:"enqueued_per_second"`
	// Drain: from the first enqueue until the function had run every
	// event (counted from REPORT lines through the CloudWatch Logs API).
	DrainSeconds float64 `json:"drain_seconds,omitempty"`
	DrainPerSec  float64 `json:"drained_per_second,omitempty"`
	DrainNote    string  `json:"drain_note,omitempty"`
}

const asyncClients = 8

func (b *bench) runAsync(ctx context.Context) (*AsyncResult, error) {
	name := b.prefix + "async"
	if err := b.dep.create(ctx, name, b.fns.Go, memDefault); err != nil {
		return nil, err
	}
	defer b.dep.delete(context.WithoutCancel(ctx), name)
	start := time.Now()
	r, err := b.inv.invoke(ctx, invocation{Function: name, Type: "Event"})
	if err != nil {
		return &AsyncResult{Section: Section{Status: statusUnavailable,
			Note: "not available on this server yet (" + errorMessage(err) + ")"}}, nil
	}
	if r.Status != http.StatusAccepted {
		return &AsyncResult{Section: Section{Status: statusFailed, Note: fmt.Sprintf("InvocationType Event answered %d, want 202", r.Status)}}, nil
	}
	n := b.size.AsyncN
	res := &AsyncResult{Section: Section{Status: statusOK}, Events: n}
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	var mu sync.Mutex
	var lat []float64
	var firstErr error
	var wg sync.WaitGroup
	t0 := time.Now()
	for range asyncClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				r, err := b.inv.invoke(ctx, invocation{Function: name, Type: "Event"})
				mu.Lock()
				if err == nil && r.Status == http.StatusAccepted {
					lat = append(lat, ms(r.Latency))
				} else if firstErr == nil {
					firstErr = fmt.Errorf("enqueue: status %d: %v", r.Status, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Enqueue = distOf(lat)
	res.EnqueuePerSec = float64(len(lat)) / time.Since(t0).Seconds()
	if firstErr != nil {
		res.Note = firstErr.Error()
	}

	// Drain: count REPORT lines in the function's log group.
	want := len(lat) + 1
	lastProgress, last := time.Now(), -1
	for {
		got, err := b.countReports(ctx, "/aws/lambda/"+name, start)
		if err != nil {
			res.DrainNote = "drain not measured: " + err.Error()
			return res, nil
		}
		if got >= want {
			res.DrainSeconds = time.Since(t0).Seconds()
			res.DrainPerSec = float64(len(lat)) / res.DrainSeconds
			return res, nil
		}
		if got != last {
			last, lastProgress = got, time.Now()
		}
		if time.Since(lastProgress) > 30*time.Second {
			res.DrainNote = fmt.Sprintf("drain stalled: %d of %d events had run after 30 s without progress", got, want)
			return res, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countReports counts the REPORT lines in a log group since start, through
// the CloudWatch Logs API (FilterLogEvents) on the same endpoint.
func (b *bench) countReports(ctx context.Context, group string, since time.Time) (int, error) {
	count := 0
	token := ""
	for {
		in := map[string]any{"logGroupName": group, "filterPattern": "REPORT", "startTime": since.UnixMilli()}
		if token != "" {
			in["nextToken"] = token
		}
		body, _ := json.Marshal(in)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.inv.base+"/", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "Logs_20140328.FilterLogEvents")
		if err := b.inv.signer.SignHTTP(ctx, b.inv.creds, req, sha256hex(body), "logs", b.inv.region, time.Now()); err != nil {
			return 0, err
		}
		resp, err := b.inv.hc.Do(req)
		if err != nil {
			return 0, err
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			typ, msg := parseAWSError(resp.Header, rb)
			return 0, fmt.Errorf("no CloudWatch Logs API on this server (FilterLogEvents: %d %s %s)", resp.StatusCode, typ, msg)
		}
		var out struct {
			Events    []json.RawMessage `json:"events"`
			NextToken string            `json:"nextToken"`
		}
		if err := json.Unmarshal(rb, &out); err != nil {
			return 0, fmt.Errorf("FilterLogEvents: %v", err)
		}
		count += len(out.Events)
		if out.NextToken == "" || out.NextToken == token {
			return count, nil
		}
		token = out.NextToken
	}
}

func (b *bench) printAsync(a *AsyncResult) {
	t := &table{title: "Asynchronous invoke (InvocationType Event)", head: []string{"measure", "value"}}
	if a.Status != statusOK {
		t.add("InvocationType Event", a.Status)
		t.note("%s", a.Note)
		t.text(b.out)
		return
	}
	t.add(fmt.Sprintf("enqueue rate (%d clients, %d events)", asyncClients, a.Events), fmtRate(a.EnqueuePerSec, "events/s"))
	t.add("enqueue latency p50 / p99", fmtMs(a.Enqueue.P50)+" / "+fmtMs(a.Enqueue.P99))
	if a.DrainNote != "" {
		t.add("drain rate", a.DrainNote)
	} else {
		t.add("drain rate (first enqueue → last run)", fmtRate(a.DrainPerSec, "events/s"))
	}
	if a.Note != "" {
		t.note("%s", a.Note)
	}
	t.note("Drain counts REPORT lines of the function's log group through the CloudWatch Logs API (FilterLogEvents) on the same endpoint.")
	t.text(b.out)
}
