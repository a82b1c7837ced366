// Command ext is an external Lambda extension for the e2e tests: it
// registers for INVOKE and SHUTDOWN through the Extensions API and prints
// every event it gets, as a line "EXT <name> ...", into the function's log.
// With KUMO_EXT_MODE=initerror in the function's environment it reports
// an init error instead, as an extension whose configuration is wrong does.
// With KUMO_EXT_MODE=slowregister it takes a second, then writes
// /tmp/kumo-ext-<function> before it registers.
// With KUMO_EXT_MODE=crash it exits with status 3 before it registers.
// With KUMO_EXT_MODE=hold it never asks for the event after its first
// INVOKE. With KUMO_EXT_MODE=telemetry it also subscribes to the Telemetry API
// (platform, function and extension streams) on a listener of its own and prints the
// platform records it gets, and "function-marker" when a function line
// holds the word the test function prints.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	name := filepath.Base(os.Args[0])
	if os.Getenv("KUMO_EXT_MODE") == "crash" {
		fmt.Println("EXT", name, "crashing")
		os.Exit(3)
	}
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2020-01-01/extension"
	if os.Getenv("KUMO_EXT_MODE") == "slowregister" {
		// An extension with a slow start: the runtime must not start
		// before it registered.
		time.Sleep(time.Second)
		if err := os.WriteFile("/tmp/kumo-ext-"+os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), []byte("registering"), 0o644); err != nil {
			fmt.Println("EXT", name, "write failed:", err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/register", bytes.NewReader([]byte(`{"events":["INVOKE","SHUTDOWN"]}`)))
	req.Header.Set("Lambda-Extension-Name", name)
	req.Header.Set("Lambda-Extension-Accept-Feature", "accountId")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println("EXT", name, "register failed:", err)
		os.Exit(1)
	}
	var meta map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	id := resp.Header.Get("Lambda-Extension-Identifier")
	fmt.Printf("EXT %s registered status=%d function=%s version=%s handler=%s account=%s\n",
		name, resp.StatusCode, meta["functionName"], meta["functionVersion"], meta["handler"], meta["accountId"])

	if os.Getenv("KUMO_EXT_MODE") == "initerror" {
		req, _ := http.NewRequest(http.MethodPost, base+"/init/error", bytes.NewReader([]byte(`{"errorMessage":"bad config","errorType":"Extension.ConfigInvalid"}`)))
		req.Header.Set("Lambda-Extension-Identifier", id)
		req.Header.Set("Lambda-Extension-Function-Error-Type", "Extension.ConfigInvalid")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			fmt.Println("EXT", name, "init/error status", resp.StatusCode)
			resp.Body.Close()
		}
		os.Exit(1)
	}

	if os.Getenv("KUMO_EXT_MODE") == "telemetry" {
		subscribe(name, id)
	}

	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/event/next", nil)
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println("EXT", name, "next failed:", err)
			os.Exit(1)
		}
		var ev struct {
			EventType          string `json:"eventType"`
			RequestID          string `json:"requestId"`
			DeadlineMs         int64  `json:"deadlineMs"`
			InvokedFunctionArn string `json:"invokedFunctionArn"`
			ShutdownReason     string `json:"shutdownReason"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		switch ev.EventType {
		case "INVOKE":
			fmt.Printf("EXT %s INVOKE %s arn=%s deadline=%t\n", name, ev.RequestID, ev.InvokedFunctionArn, ev.DeadlineMs > 0)
			if os.Getenv("KUMO_EXT_MODE") == "hold" {
				select {} // never finishes the invocation
			}
		case "SHUTDOWN":
			fmt.Printf("EXT %s SHUTDOWN %s deadline=%t\n", name, ev.ShutdownReason, ev.DeadlineMs > 0)
			os.Exit(0)
		default:
			fmt.Printf("EXT %s unexpected status=%d event %+v\n", name, resp.StatusCode, ev)
			os.Exit(1)
		}
	}
}

// subscribe listens for telemetry batches and subscribes to them.
func subscribe(name, id string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("EXT", name, "listen failed:", err)
		os.Exit(1)
	}
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch []struct {
			Type   string          `json:"type"`
			Time   string          `json:"time"`
			Record json.RawMessage `json:"record"`
		}
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			fmt.Println("EXT", name, "TELEMETRY bad batch:", err)
			return
		}
		for _, e := range batch {
			switch {
			case strings.HasPrefix(e.Type, "platform."):
				var rec struct {
					RequestID string `json:"requestId"`
					Status    string `json:"status"`
				}
				_ = json.Unmarshal(e.Record, &rec)
				fmt.Printf("EXT %s TELEMETRY %s %s %s time=%t\n", name, e.Type, rec.RequestID, rec.Status, e.Time != "")
			case e.Type == "function" && strings.Contains(string(e.Record), "kumo-handler-"+"says-hello"):
				fmt.Printf("EXT %s TELEMETRY function-marker\n", name)
			case e.Type == "function" && strings.Contains(string(e.Record), "EXT "+name):
				fmt.Printf("EXT %s TELEMETRY own line as a function record\n", name)
			case e.Type == "extension" && strings.Contains(string(e.Record), "subscribed status"):
				fmt.Printf("EXT %s TELEMETRY extension-marker\n", name)
			}
		}
	}))
	port := l.Addr().(*net.TCPAddr).Port
	body := fmt.Sprintf(`{"schemaVersion":"2022-12-13","types":["platform","function","extension"],"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:%d/telemetry"}}`, port)
	req, _ := http.NewRequest(http.MethodPut, "http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+"/2022-07-01/telemetry", strings.NewReader(body))
	req.Header.Set("Lambda-Extension-Identifier", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println("EXT", name, "subscribe failed:", err)
		os.Exit(1)
	}
	resp.Body.Close()
	fmt.Println("EXT", name, "subscribed status", resp.StatusCode)
}
